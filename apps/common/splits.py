"""A labelled dataset split three ways: what the classification apps (mnist, sentiment) load."""

import dataclasses
import typing


@dataclasses.dataclass
class LabelledSplits:
    """Inputs and labels of the train, validation and test splits, and what they are.

    Attributes:
        name: A short name of the dataset ("mnist", "imdb", "csv").
        description: Where it came from, for messages and `metrics.json`.
        x_train, y_train, x_val, y_val, x_test, y_test: Each split's inputs
            and labels (arrays or lists, pre-shuffled).
    """

    name: str
    description: str
    x_train: typing.Any
    y_train: typing.Any
    x_val: typing.Any
    y_val: typing.Any
    x_test: typing.Any
    y_test: typing.Any

    def limited(self, limit):
        """At most `limit` examples of each split (all if `limit` is 0)."""
        if not limit:
            return self
        return dataclasses.replace(self, **{
            field: getattr(self, field)[:limit]
            for field in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")})
