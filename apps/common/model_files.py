"""Loading a saved `model.keras`, with a one-line error for a file that is not one."""

import zipfile
from pathlib import Path

from apps.common.errors import UsageError


def load_model(path, app):
    """Load a Keras model file written by `rnn-suite <app> train`.

    The app's own serialisable layers must be registered (its model module
    imported) before calling this; our recurrent layers are registered here.

    Raises:
        UsageError: If the file is missing or cannot be loaded (corrupted,
            truncated, or not a Keras model), naming the file.
    """
    import keras

    import layers  # noqa: F401 - registers the recurrent layers for deserialisation
    from apps.common import training  # noqa: F401 - registers the SlantedTriangular schedule

    path = Path(path)
    if not path.is_file():
        raise UsageError(f"model file {path} does not exist (expected the model.keras of a run "
                         f"written by `rnn-suite {app} train`)")
    expected = f"expected the model.keras written by `rnn-suite {app} train`"
    if not zipfile.is_zipfile(path):
        raise UsageError(f"cannot load {path}: it is not a Keras model file (a .keras file is a "
                         f"zip archive); {expected}")
    try:
        return keras.models.load_model(path)
    except Exception as error:  # noqa: BLE001 - any failure here means "not a usable model"
        reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
        reason = f"{type(error).__name__}: {reason}"[:160]
        raise UsageError(f"cannot load {path}: it is not a valid Keras model file ({reason}); "
                         f"{expected}") from None
