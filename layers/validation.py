"""Argument checks shared by the layers: one message style, naming what was received."""

import numbers


def check_positive_int(name, value):
    """Raise ValueError unless `value` is a positive integer (not a bool)."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or value <= 0
    ):
        raise ValueError(
            f"Argument `{name}` must be a positive integer. Received: {name}={value!r}"
        )


def check_rate(name, value):
    """Raise ValueError unless `value` is a float in [0, 1)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < 1:
        raise ValueError(
            f"Argument `{name}` must be a float in [0, 1). Received: {name}={value!r}"
        )


def check_choice(name, value, choices):
    """Raise ValueError unless `value` is one of `choices`."""
    if value not in choices:
        raise ValueError(
            f"Argument `{name}` must be one of {list(choices)}. Received: {name}={value!r}"
        )
