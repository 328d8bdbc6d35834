"""One keras-tuner `HyperModel` per app: hyperparameters -> the app's config -> the app's own code.

`build(hp)` turns a trial's hyperparameters into the app's config dataclass
and calls the app's `build_training(config, data)`, the function its `train`
command uses (model, pipelines, compile: clipping, schedules). `fit` runs the
app's training loop (`apps.common.training`: backups, best-model checkpoint,
history, TensorBoard, early stopping) into the trial's own run folder. No
model or training code lives here.

Each execution of a trial is a run folder, `trial_<id>/execution<k>/`, laid
out like a `train` run (config.json, model.keras, history.csv, logs/) and
finished by `metrics.json`. A trial cut short by a kill resumes from its
backup when the search is rerun, or when a worker with the same id restarts.
"""

import dataclasses
import importlib
import json
import os
import resource
import time
from pathlib import Path

import keras_tuner

from apps.common import config as config_module
from apps.common import plots, training
from apps.common import run_dir as run_dir_module
from apps.common.errors import UsageError
from tuning import space as space_module


@dataclasses.dataclass(frozen=True)
class TrialRun:
    """Where the next build's training goes: the trial, the execution, the run folder."""

    trial_id: str
    execution: int
    path: Path


class TrialUsageError(keras_tuner.errors.FatalError):
    """Bad input found inside a trial (e.g. a missing data file): stops the whole search.

    keras-tuner would count any other exception as a failed trial and go on;
    the `tune` command reports this one as a one-line error instead.
    """


def memory_mb():
    """(resident memory now, peak resident memory so far) of this process, in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    try:
        with open("/proc/self/statm") as handle:
            now = int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        now = peak
    return round(now, 1), round(peak, 1)


class AppHyperModel(keras_tuner.HyperModel):
    """The hyper-model of one app; subclasses name the app's `train` module.

    The `train` module provides `NAME`, `load_data(config)` (the data, loaded
    once per search: only settings outside the space may shape it) and
    `build_training(config, data)` (a compiled model and its pipelines, a
    `training.TrainingSetup`).

    Args:
        base_config: The app's config with the search's fixed settings (data
            flags, `--space` fixed values, `epochs` = `--max-epochs`).
        space: {setting: `space.Dimension`}, defaults filled in.
        objective: The metric a trial is scored by (e.g. "val_accuracy").
        direction: "max" or "min".
        deadline: `time.time()` at which a running trial stops (single
            machine `--time-limit`), or None.
    """

    train_module = None

    def __init__(self, base_config, space, objective, direction, deadline=None):
        self.app = importlib.import_module(self.train_module)
        super().__init__(name=self.app.NAME)
        self.base_config = base_config
        self.space = dict(space)
        self.objective = objective
        self.direction = direction
        self.deadline = deadline
        self.next_run = None  # set by the tuner before each build (see tuning.tuners)
        self._data = None
        self._built = None

    # --- hyperparameters -> config -----------------------------------------------

    def declare_hyperparameters(self, hp):
        for name, dimension in self.space.items():
            space_module.declare(hp, name, dimension)

    def config_for(self, hp, execution=0, run_dir=None):
        """The app config a trial's hyperparameters describe.

        Hyperband's `tuner/epochs` sets the epochs; each execution of a trial
        gets its own seed, so repeated executions measure the spread.

        Raises:
            UsageError: If the app rejects the combination.
        """
        values = {name: space_module.declare(hp, name, dimension)
                  for name, dimension in self.space.items()}
        epochs = int(hp.values.get("tuner/epochs", self.base_config.epochs))
        config = dataclasses.replace(self.base_config, **values, epochs=epochs,
                                     seed=self.base_config.seed + execution, run_dir=run_dir)
        config_module.validate(config)
        return config

    def data(self):
        """The app's data for this search, loaded on first use (bad input fails here)."""
        if self._data is None:
            self._data = self.app.load_data(self.base_config)
        return self._data

    # --- keras-tuner's HyperModel ---------------------------------------------------

    def build(self, hp):
        """Build and compile the trial's model with the app's own `build_training`."""
        run = self.next_run or TrialRun(None, 0, None)
        self.next_run = None
        try:
            config = self.config_for(hp, run.execution, str(run.path) if run.path else None)
            if self.deadline:
                config.time_limit = max((self.deadline - time.time()) / 60, 0.01)
            data = self.data()
            training.set_seed(config.seed)
            with training.precision_policy(config):
                setup = self.app.build_training(config, data)
        except UsageError as error:
            raise TrialUsageError(str(error)) from None
        self._built = (setup, config, run)
        return setup.model

    def metric_callbacks(self, config):
        """Callbacks that add an objective to the epoch logs (none by default)."""
        return []

    def fit(self, hp, model, *args, callbacks=(), epochs=None, initial_epoch=0, **kwargs):
        """Train the model `build` just made with the app's training loop, in its run folder.

        Args:
            hp: The trial's hyperparameters.
            model: The model `build` returned (Hyperband may have loaded an
                earlier trial's weights into it).
            callbacks: keras-tuner's own callbacks (best-epoch checkpoint,
                progress reports).
            epochs, initial_epoch: Set by Hyperband when it continues a trial.

        Returns:
            The metrics of the best epoch (by the objective), plus `epochs`,
            `seconds`, `memory_mb` and `peak_memory_mb`.
        """
        setup, config, trial_run = self._built
        self._built = None
        if setup.model is not model or trial_run.path is None:
            raise RuntimeError("AppHyperModel.fit trains the model its last build made, inside "
                               "a tuner from tuning.tuners (which names the trial's folder)")
        finished = trial_run.path / run_dir_module.METRICS_FILE
        if finished.is_file():
            # This execution finished before the search was interrupted: keep its result.
            return json.loads(finished.read_text())["results"]
        if epochs is not None:
            config = dataclasses.replace(config, epochs=int(epochs))
        try:
            run = run_dir_module.start_training_run(self.name, config)
        except UsageError as error:
            raise TrialUsageError(str(error)) from None
        try:
            extra = list(callbacks) + self._hparams_callbacks(hp, trial_run, run)
            result = training.fit(
                model, setup.train_data, setup.validation_data, config, run,
                monitor=self.objective, mode=self.direction, extra_callbacks=extra,
                metric_callbacks=self.metric_callbacks(config), initial_epoch=initial_epoch,
                saved_model=setup.saved_model)
            results = self._best_epoch(run)
            now, peak = memory_mb()
            results.update(epochs=float(result.epochs_done), seconds=round(result.wall_seconds, 2),
                           memory_mb=now, peak_memory_mb=peak)
            training.write_metrics(run, {
                "app": self.name, "trial_id": trial_run.trial_id,
                "execution": trial_run.execution, "objective": self.objective,
                "hyperparameters": dict(hp.values), "results": results,
                "stopped_by_time_limit": result.stopped_by_time})
        finally:
            run.release()
        return results

    def _best_epoch(self, run):
        """The logged metrics of the run's best epoch by the objective."""
        import numpy as np

        history = plots.read_history(run.file(run_dir_module.HISTORY_FILE))
        scores = history.get(self.objective)
        if scores is None or np.all(np.isnan(scores)):
            return {self.objective: float("nan")}
        best = int(np.nanargmax(scores) if self.direction == "max" else np.nanargmin(scores))
        return {name: float(values[best]) for name, values in history.items() if name != "epoch"}

    def _hparams_callbacks(self, hp, trial_run, run):
        """TensorBoard's HParams record of the trial, next to the run's own TensorBoard logs."""
        if not training.tensorboard_available():
            return []
        from tensorboard.plugins.hparams import api as hparams_api

        hparams = {}
        for name, dimension in self.space.items():
            if name in hp.values:
                hparams[hparams_api.HParam(name, _hparams_domain(hparams_api, dimension))] = (
                    hp.values[name])
        return [hparams_api.KerasCallback(
            str(run.file(run_dir_module.LOGS_FOLDER)), hparams,
            trial_id=f"trial_{trial_run.trial_id}/execution{trial_run.execution}")]


def _hparams_domain(hparams_api, dimension):
    if dimension.kind in ("choice", "fixed"):
        return hparams_api.Discrete(list(dimension.values))
    if dimension.kind == "bool":
        return hparams_api.Discrete([False, True])
    if dimension.kind == "int":
        return hparams_api.IntInterval(int(dimension.min), int(dimension.max))
    return hparams_api.RealInterval(float(dimension.min), float(dimension.max))


class MnistHyperModel(AppHyperModel):
    """MNIST: `apps.mnist.train.build_training`, scored by validation accuracy."""

    train_module = "apps.mnist.train"


class SentimentHyperModel(AppHyperModel):
    """Sentiment: `apps.sentiment.train.build_training` (vocabulary from the training split)."""

    train_module = "apps.sentiment.train"


class LanguageModelHyperModel(AppHyperModel):
    """`rnn-suite tune lm`: the language model's own `build_training`."""

    train_module = "apps.lm.train"


class TranslationHyperModel(AppHyperModel):
    """Translation: `apps.translation.train.build_training`; validation BLEU on request."""

    train_module = "apps.translation.train"

    def metric_callbacks(self, config):
        if self.objective != "val_bleu":
            return []
        from apps.translation.validation_bleu import ValidationBleu

        return [ValidationBleu(self.data().validation)]


class CaptioningHyperModel(AppHyperModel):
    """Captioning: `apps.captioning.train.build_training`.

    With a frozen pretrained encoder the trial trains the decoder on cached
    image features and saves the whole captioner (`TrainingSetup.saved_model`).
    """

    train_module = "apps.captioning.train"
