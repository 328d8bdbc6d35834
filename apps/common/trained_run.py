"""A trained run read back for `evaluate`, `predict`, `generate` and `export`: model file, config, model.

Every app opens a run the same way, with `open_run`: `--run` (a run folder, a
`.keras` file, or "latest") names the model file; the `config.json` beside it
is read into the app's config class; the model loads when first asked for, so
that a bad flag or a bad config fails before TensorFlow reads a model.
"""

import dataclasses
import importlib
import typing
from pathlib import Path

from apps.common import config as config_module
from apps.common import model_files
from apps.common import run_dir as run_dir_module
from apps.common.errors import UsageError


@dataclasses.dataclass
class TrainedRun:
    """A run's model file and config; `model` loads the model on first use.

    Attributes:
        app: The app's name ("sentiment").
        path: The model file (`<run>/model.keras`, or the `.keras` file given).
        config: The app's config from the `config.json` beside the model, or
            None when there is none (a `.keras` file on its own) and the app
            can do without.
    """

    app: str
    path: Path
    config: typing.Any = None
    _model: typing.Any = dataclasses.field(default=None, repr=False)

    @property
    def model(self):
        if self._model is None:
            self._model = load_model(self.app, self.path)
        return self._model


def open_run(app, run, config_class, needs_config=False):
    """Find a run's model file and read its config; the model itself loads later.

    Args:
        app: The app's name.
        run: `--run`: a run folder, a `.keras` file, or "latest" (or None).
        config_class: The app's config dataclass.
        needs_config: Whether the app cannot use a model without its run's
            `config.json` (it decodes with settings only the config holds).

    Returns:
        A `TrainedRun`.

    Raises:
        UsageError: If there is no such run or model file, if the run's
            `config.json` cannot be read (never silently ignored), or if it is
            missing and `needs_config`.
    """
    path = run_dir_module.find_model(app, run)
    config_path = path.parent / run_dir_module.CONFIG_FILE
    if not config_path.is_file():
        if needs_config:
            raise UsageError(f"{path.parent} has no {run_dir_module.CONFIG_FILE} (expected a run "
                             f"folder written by `rnn-suite {app} train`)")
        return TrainedRun(app, path)
    return TrainedRun(app, path, config_module.load_config(config_class, config_path))


def load_model(app, path):
    """Load the model file of an `app` run, its own layers registered first."""
    importlib.import_module(f"apps.{app}.model")  # registers the app's serialisable layers
    return model_files.load_model(path, app)
