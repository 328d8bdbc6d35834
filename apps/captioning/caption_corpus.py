"""The shape every caption source returns: a `CaptionCorpus` of three `CaptionSplit`s.

Each split is a list of image names and, per image, its reference captions
(raw strings); the corpus says what was found and names the `ImageStore`
that turns names into pixels.
"""

from dataclasses import dataclass

from apps.captioning.image_stores import ImageStore

SPLITS = ("train", "validation", "test")


@dataclass
class CaptionSplit:
    """One split: image names (as the captions file gives them) and their reference captions."""

    names: list  # one entry per image
    captions: list  # one list of raw reference captions per image, same order

    def __len__(self):
        return len(self.names)

    def limited(self, limit):
        """The first `limit` images (all if `limit` is 0)."""
        if not limit:
            return self
        return CaptionSplit(list(self.names[:limit]), list(self.captions[:limit]))


@dataclass
class CaptionCorpus:
    """Three splits of captioned images, what they are, and where their pixels come from."""

    name: str  # "flickr8k", "csv", "karpathy", "coco", "shapes"
    description: str  # what was found, per split, for printing
    train: CaptionSplit
    validation: CaptionSplit
    test: CaptionSplit
    store: ImageStore
    # Where the test images are when they are not in `store` (a test set of your own).
    test_store: ImageStore = None

    def limited(self, limit):
        """At most `limit` images of each split (all if `limit` is 0)."""
        if not limit:
            return self
        return CaptionCorpus(self.name, f"{self.description}; --limit {limit} images per split",
                             self.train.limited(limit), self.validation.limited(limit),
                             self.test.limited(limit), self.store, self.test_store)

    def test_images(self):
        """The `ImageStore` holding the test split's images."""
        return self.test_store or self.store

    def split(self, which):
        """The split called "train", "validation" or "test"."""
        if which not in SPLITS:
            raise ValueError(f"unknown split {which!r}; expected one of {', '.join(SPLITS)}")
        return getattr(self, which)


def describe_counts(splits):
    """Each split's image and caption counts, in one line, for a corpus description."""
    return ", ".join(f"{s} {len(splits[s]):,} images ({sum(map(len, splits[s].captions)):,} "
                     "captions)" for s in SPLITS)
