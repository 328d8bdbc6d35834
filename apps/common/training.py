"""The training loop every app shares: compile, learning rate schedules, callbacks, one resumable fit, the summary line."""

import contextlib
import csv
import dataclasses
import functools
import importlib.util
import json
import os
import pathlib
import time
import typing

import keras

from apps.common import run_dir as run_dir_module

# Mid-epoch backups: an epoch of pixel MNIST takes many minutes on a CPU, so
# a kill should not throw the whole epoch away.
BACKUP_EVERY_BATCHES = 100


def set_seed(seed):
    """Seed Python, NumPy and TensorFlow (weights, dropout, shuffling)."""
    keras.utils.set_random_seed(seed)


@contextlib.contextmanager
def precision_policy(config):
    """Within it, layers are built under `config.precision` (Keras's global dtype policy);
    the policy before is restored after. A saved model keeps each layer's policy."""
    before = keras.config.dtype_policy()
    keras.config.set_dtype_policy(getattr(config, "precision", "float32"))
    try:
        yield
    finally:
        keras.config.set_dtype_policy(before)


def compile_model(model, config, loss, metrics, train_data=None, optimizer=None):
    """Compile with Adam and gradient clipping by norm (`config.clipnorm`).

    Clipping is always on: an IRNN's ReLU state is unbounded and long
    sequences make rare huge gradients; clipping costs nothing otherwise.
    The cosine and slanted learning-rate schedules read the epoch's length
    from `train_data` (a tf.data dataset of known cardinality). With
    `config.ema_momentum`, Adam also keeps a moving average of the weights
    (`make_callbacks` then validates and saves the average). `optimizer`
    replaces Adam (built from `adam_arguments`, as sentiment's fine-tuning does).
    """
    if optimizer is None:
        optimizer = keras.optimizers.Adam(**adam_arguments(config, train_data))
    model.compile(optimizer=optimizer, loss=loss, metrics=list(metrics) or None,
                  jit_compile=bool(config.jit))
    return model


def adam_arguments(config, train_data=None):
    """Adam's keyword arguments a config asks for: learning rate (schedule), clipnorm, EMA."""
    averaging = {"use_ema": True, "ema_momentum": config.ema_momentum} if config.ema_momentum else {}
    steps = (steps_per_epoch(train_data)
             if config.learning_rate_schedule != "constant" and train_data is not None else None)
    return {"learning_rate": learning_rate(config, steps), "clipnorm": config.clipnorm,
            **averaging}


def learning_rate(config, steps_per_epoch=None):
    """Adam's learning rate: `config.learning_rate`, or a schedule over all the epochs' steps.

    cosine decays from `config.learning_rate` to 0; slanted is ULMFiT's slanted
    triangular rise and fall (`SlantedTriangular`). Both are driven by the
    optimizer's step counter, which BackupAndRestore restores, so a resumed run
    continues the same curve.
    """
    if config.learning_rate_schedule == "constant":
        return config.learning_rate
    if config.learning_rate_schedule not in ("cosine", "slanted"):
        raise ValueError(f"learning_rate_schedule must be 'constant', 'cosine' or 'slanted', "
                         f"got {config.learning_rate_schedule!r}")
    if not steps_per_epoch or steps_per_epoch < 1:
        raise ValueError(f"the {config.learning_rate_schedule} learning-rate schedule needs the "
                         f"number of steps per epoch, got steps_per_epoch={steps_per_epoch!r}")
    total = config.epochs * int(steps_per_epoch)
    if config.learning_rate_schedule == "slanted":
        return SlantedTriangular(config.learning_rate, total)
    return keras.optimizers.schedules.CosineDecay(config.learning_rate, decay_steps=total)


@keras.saving.register_keras_serializable(package="rnn_suite")
class SlantedTriangular(keras.optimizers.schedules.LearningRateSchedule):
    """ULMFiT's slanted triangular learning rate (Howard & Ruder 2018, eq. 3).

    Rises linearly from `peak / ratio` to `peak` over the first `rise_fraction`
    of `total_steps`, then falls linearly back to `peak / ratio` at the last
    step: a short warm-up that lets a pretrained model find its region, then a
    long refinement.

    Args:
        peak: The highest learning rate (reached at `rise_fraction * total_steps`).
        total_steps: Steps of the whole training (all epochs).
        rise_fraction: Part of the steps spent rising (ULMFiT's cut_frac, 0.1).
        ratio: How much smaller the lowest rate is than the peak (32).

    Example:

    >>> schedule = SlantedTriangular(0.01, total_steps=100)
    >>> round(float(schedule(10)), 6), round(float(schedule(100)), 6)
    (0.01, 0.000312)
    """

    def __init__(self, peak, total_steps, rise_fraction=0.1, ratio=32.0):
        if not peak > 0:
            raise ValueError(f"peak must be positive, got {peak!r}")
        if int(total_steps) < 1:
            raise ValueError(f"total_steps must be at least 1, got {total_steps!r}")
        if not 0 < rise_fraction < 1:
            raise ValueError(f"rise_fraction must be between 0 and 1, got {rise_fraction!r}")
        if not ratio >= 1:
            raise ValueError(f"ratio must be at least 1, got {ratio!r}")
        self.peak = float(peak)
        self.total_steps = int(total_steps)
        self.rise_fraction = float(rise_fraction)
        self.ratio = float(ratio)

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        cut = max(1.0, self.total_steps * self.rise_fraction)
        rising = step / cut
        falling = 1.0 - (step - cut) / max(1.0, self.total_steps - cut)
        p = keras.ops.clip(keras.ops.where(step < cut, rising, falling), 0.0, 1.0)
        return self.peak * (1.0 + p * (self.ratio - 1.0)) / self.ratio

    def get_config(self):
        return {"peak": self.peak, "total_steps": self.total_steps,
                "rise_fraction": self.rise_fraction, "ratio": self.ratio}


def steps_per_epoch(dataset):
    """Batches in one pass over a tf.data dataset of known length."""
    batches = int(dataset.cardinality())
    if batches < 0:
        raise ValueError("the training dataset's length is unknown; give it a known "
                         "cardinality (tf.data.experimental.assert_cardinality)")
    return batches


def _writing_path(path):
    """Where the file `path` is written before a rename puts it in place.

    Keras writes its files in place, so a kill in the middle of a save would
    leave half a file that a resumed run cannot read; a rename leaves the old
    file or the new one.
    """
    folder, name = os.path.split(str(path))
    return os.path.join(folder, f"writing-{name}")  # the same ending: Keras checks it


def _write_atomically(path, write):
    """`write(a temporary path)`, then rename that file to `path`."""
    writing = _writing_path(path)
    write(writing)
    os.replace(writing, path)


class _Backup(keras.callbacks.BackupAndRestore):
    """`BackupAndRestore` that restores at the start and saves every N batches.

    The save at each epoch's end is `_EpochEndBackup`'s, the last callback of
    `fit`. A run killed mid-epoch restarts that epoch from the weights of its
    last backup (Keras restores epochs, not batches). Each file is replaced
    whole, the weights before the epoch number: a kill between the two
    resumes an epoch early, from later weights, never later than its weights.
    """

    def _save_model(self):
        os.makedirs(self.backup_dir, exist_ok=True)
        _write_atomically(self._weights_path,
                          lambda path: self.model.save_weights(path, overwrite=True))
        metadata = json.dumps({"epoch": self._current_epoch, "batch": self._last_batch_seen})
        _write_atomically(self._training_metadata_path,
                          lambda path: pathlib.Path(path).write_text(metadata))


class _EpochEndBackup(keras.callbacks.Callback):
    """Saves `backup` at the end of every epoch, after every other callback.

    The backup is what a resumed run believes is done: saved before the
    history row or the best-model checkpoint of its epoch were written, a kill
    in between would resume after an epoch that the history and `model.keras`
    never saw. It holds the raw weights even while the exponential moving
    average is swapped in for validation and the checkpoint (`ema_swap`).
    """

    def __init__(self, backup, ema_swap=None):
        super().__init__()
        self.backup = backup
        self.ema_swap = ema_swap

    def on_epoch_end(self, epoch, logs=None):
        swapped = self.ema_swap is not None and self.ema_swap._ema_weights_in_model
        if swapped:
            self.ema_swap._swap_variables()
        try:
            self.backup._save_model()
        finally:
            if swapped:
                self.ema_swap._swap_variables()


class TimeLimit(keras.callbacks.Callback):
    """Stop training once `minutes` have passed (checked after every batch).

    With `agree` (`agree(over) -> bool`, true when any worker is over), the
    workers of a multi-worker run stop together: each has its own clock, and
    one that stopped alone would leave the others waiting in the next step.
    """

    def __init__(self, minutes, agree=None):
        super().__init__()
        self.seconds = minutes * 60
        self.agree = agree
        self.started = None
        self.stopped_early = False

    def on_train_begin(self, logs=None):
        self.started = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        over = time.perf_counter() - self.started > self.seconds
        if self.agree is not None:
            over = self.agree(over)
        if over:
            self.model.stop_training = True
            self.stopped_early = True


class TimeEstimate(keras.callbacks.Callback):
    """Says once, early, how long the training will take here, when that is long.

    Reads `timer` (the run's `StepTimer`, which leaves out each epoch's first
    step: tracing and compilation) once `after_batches` timed batches of the
    first epoch it runs are done: the time per batch gives the epoch's time and
    the time of the epochs still to run. Printed only when those take
    `at_least_minutes` or more (pixel-by-pixel MNIST takes hours on a CPU; a
    quick run needs no forecast). Validation passes come on top. `timer` must
    come before this callback in the list, so that it has counted the batch.
    """

    def __init__(self, timer, after_batches=20, at_least_minutes=5.0, time_limit_minutes=None):
        super().__init__()
        if after_batches < 1:
            raise ValueError(f"after_batches must be at least 1, got {after_batches!r}")
        self.timer = timer
        self.after_batches = after_batches
        self.at_least_minutes = at_least_minutes
        self.time_limit_minutes = time_limit_minutes
        self.said = None
        self._first_epoch = None

    def on_epoch_begin(self, epoch, logs=None):
        if self._first_epoch is None:
            self._first_epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if self.said is None:
            self.said = ""  # the first epoch was too short to time: nothing to say

    def on_train_batch_end(self, batch, logs=None):
        if self.said is None and self.timer.steps == self.after_batches:
            self._say(self.timer.seconds / self.timer.steps)

    def _say(self, seconds_per_batch):
        steps = self.params.get("steps") or 0
        epochs_left = self.params.get("epochs", 1) - self._first_epoch
        epoch_minutes = seconds_per_batch * steps / 60
        total_minutes = epoch_minutes * epochs_left
        self.said = ""
        if not steps or total_minutes < self.at_least_minutes:
            return
        limit = (f"; --time-limit stops it after {self.time_limit_minutes:g} min"
                 if self.time_limit_minutes and self.time_limit_minutes < total_minutes else "")
        self.said = (f"time: {seconds_per_batch:.2f} s a batch here, so an epoch ({steps:,} "
                     f"batches) takes about {_duration(epoch_minutes)} and the "
                     f"{epochs_left} epoch{'s' if epochs_left != 1 else ''} to run about "
                     f"{_duration(total_minutes)}, validation passes aside{limit}")
        print(f"\n{self.said}", flush=True)


def _duration(minutes):
    """'40 s', '12 min', '3.4 h': a duration as a person says it."""
    if minutes < 1:
        return f"{minutes * 60:.0f} s"
    if minutes < 90:
        return f"{minutes:.0f} min" if minutes >= 10 else f"{minutes:.1f} min"
    return f"{minutes / 60:.1f} h"


class StepTimer(keras.callbacks.Callback):
    """Measures training steps per second, leaving out the first step of each epoch.

    The first step includes tracing and compilation (and pipeline warm-up),
    which is not the speed of training.
    """

    def __init__(self):
        super().__init__()
        self.steps = 0
        self.seconds = 0.0
        self._last = None

    def on_epoch_begin(self, epoch, logs=None):
        self._last = None

    def on_train_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        if self._last is not None:
            self.steps += 1
            self.seconds += now - self._last
        self._last = now

    @property
    def steps_per_second(self):
        return self.steps / self.seconds if self.seconds else float("nan")


def _best_so_far(history_csv, monitor, mode):
    if not history_csv.exists():
        return None
    with open(history_csv, newline="") as handle:
        values = [float(row[monitor]) for row in csv.DictReader(handle) if row.get(monitor)]
    if not values:
        return None
    return max(values) if mode == "max" else min(values)


def restored_epoch(run):
    metadata = run.backup_dir / "training_metadata.json"
    try:
        return int(json.loads(metadata.read_text())["epoch"])
    except (OSError, ValueError, KeyError):
        return 0


def _trim_history(history_csv, first_epoch_to_drop):
    """Drop logged epochs that the resumed run will train again (no duplicate rows)."""
    if not history_csv.exists():
        return
    with open(history_csv, newline="") as handle:
        rows = list(csv.reader(handle))
    if not rows:
        return
    kept = [rows[0]] + [r for r in rows[1:] if r and int(r[0]) < first_epoch_to_drop]
    with open(history_csv, "w", newline="") as handle:
        csv.writer(handle).writerows(kept)


def tensorboard_available():
    """Whether the `tensorboard` package is installed (tf.summary needs it to write logs)."""
    return importlib.util.find_spec("tensorboard") is not None


class _BestModelCheckpoint(keras.callbacks.ModelCheckpoint):
    """`ModelCheckpoint` that replaces its file whole (a kill mid-save keeps the last model)."""

    def _save_model(self, epoch, batch, logs):
        final = self.filepath
        writing = _writing_path(final)
        pathlib.Path(writing).unlink(missing_ok=True)
        # Keras names the file from `filepath`; it saves there only when the epoch is better.
        self.filepath = writing
        try:
            super()._save_model(epoch, batch, logs)
        finally:
            self.filepath = final
        if os.path.exists(writing):
            os.replace(writing, final)


class _CheckpointOf(_BestModelCheckpoint):
    """`ModelCheckpoint` that saves another model than the one trained.

    Captioning trains its decoder alone on cached image features, but
    `model.keras` must hold the whole captioner (encoder included), which
    shares the decoder's weights.
    """

    def __init__(self, saved_model, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.saved_model = saved_model

    def set_model(self, model):
        super().set_model(self.saved_model)


def make_callbacks(run, config, monitor, mode, saved_model=None):
    """The callbacks of every training run, in the order they must run.

    ModelCheckpoint keeps the best model by `monitor`; on a resumed run its
    threshold starts from the best value already logged, so a worse epoch
    after the restart cannot overwrite a better saved model. With
    `saved_model`, that model (sharing weights with the trained one) is what
    `model.keras` holds. The backup saved at each epoch's end is not among
    them: `fit` runs it after all others (`_EpochEndBackup`).
    """
    history_csv = run.file(run_dir_module.HISTORY_FILE)
    callbacks = [_Backup(str(run.backup_dir), save_freq=BACKUP_EVERY_BATCHES)]
    checkpoint = (_BestModelCheckpoint if saved_model is None
                  else functools.partial(_CheckpointOf, saved_model))
    if config.ema_momentum:
        # Before the checkpoint: validation and the saved model use the average.
        callbacks.append(keras.callbacks.SwapEMAWeights(swap_on_epoch=True))
    callbacks += [
        checkpoint(
            str(run.model_path), monitor=monitor, mode=mode, save_best_only=True,
            initial_value_threshold=_best_so_far(history_csv, monitor, mode) if run.resumed else None),
        keras.callbacks.CSVLogger(str(history_csv), append=True),
        keras.callbacks.TerminateOnNaN(),
    ]
    if tensorboard_available():
        callbacks.append(keras.callbacks.TensorBoard(
            log_dir=str(run.file(run_dir_module.LOGS_FOLDER)), write_graph=False,
            profile_batch=0))
    if config.early_stopping:
        callbacks.append(keras.callbacks.EarlyStopping(
            monitor=monitor, mode=mode, patience=config.early_stopping))
    return callbacks


class TrainingResult:
    """What `fit` reports: the Keras history and the timings."""

    def __init__(self, history, wall_seconds, steps_per_second, initial_epoch, stopped_by_time):
        self.history = history
        self.wall_seconds = wall_seconds
        self.steps_per_second = steps_per_second
        self.initial_epoch = initial_epoch
        self.stopped_by_time = stopped_by_time

    @property
    def epochs_done(self):
        return self.initial_epoch + len(self.history.history.get("loss", []))


@dataclasses.dataclass
class TrainingSetup:
    """A compiled model and its pipelines, ready for `fit`: what an app's `build_training` returns.

    `train` and `rnn-suite tune` both get their model from the app's
    `build_training(config, data)`, so the model and its compilation are
    written once.

    Attributes:
        model: The compiled `keras.Model`.
        train_data: The training tf.data pipeline (shuffled, batched).
        validation_data: The validation pipeline.
        monitor: The metric that picks the best epoch (e.g. "val_accuracy").
        mode: "max" or "min", the better direction of `monitor`.
        saved_model: The model `model.keras` holds when it is not `model`
            (captioning trains its decoder alone on cached features and
            saves the whole captioner); None for `model` itself.
        sizes: What `metrics.json` records about the data as the model sees
            it, known only once it is built (e.g. vocabulary sizes).
        metric_callbacks: Callbacks that add `monitor` to each epoch's logs
            when Keras does not compute it (translation's validation BLEU).
    """

    model: typing.Any
    train_data: typing.Any
    validation_data: typing.Any
    monitor: str = "val_accuracy"
    mode: str = "max"
    saved_model: typing.Any = None
    sizes: dict = dataclasses.field(default_factory=dict)
    metric_callbacks: tuple = ()


def create_step_variables(model, train_data):
    """Make every variable `model`'s first training step would make, before `fit` runs it.

    Keras (with no distribution strategy) builds the metrics' totals and counts and the
    optimizer's slots inside the first trace of the train step, and a `tf.function` that
    creates variables while tracing traces again: the whole step, its recurrent loops and
    their gradients, twice (5 of a tiny sentiment run's 31 CPU-seconds). Built here
    from `train_data`'s element spec (shapes only, no batch is read or computed), the step
    is traced once. BackupAndRestore also needs the weights and slots before `fit`.
    A model Keras cannot call on the spec (a trainer whose input is not its model's, such
    as virtual adversarial training's pair of batches) keeps the lazy build. Under a
    distribution strategy Keras builds them itself, in the strategy's scope.
    """
    import tensorflow as tf

    symbolic_build = getattr(model, "_symbolic_build", None)  # Keras 3's own pre-fit build
    if symbolic_build is not None and not tf.distribute.has_strategy():
        try:
            symbolic_build(data_batch=train_data.element_spec)
        except (RuntimeError, ValueError, TypeError):
            pass  # built in the first step, as Keras would
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)


def fit(model, train_data, validation_data, config, run, monitor="val_accuracy", mode="max",
        extra_callbacks=(), metric_callbacks=(), initial_epoch=0, saved_model=None):
    """Train `model` into `run` with the common callbacks, resuming from its backup if one is there.

    Prints where it resumes from; Keras's progress bar shows the epochs.

    Args:
        model: The compiled model.
        train_data, validation_data: Its tf.data pipelines.
        config: The app's config (epochs, time limit, early stopping, ...).
        run: The `TrainingRun` to write into.
        monitor, mode: The metric that picks the best epoch, and its better direction.
        extra_callbacks: More Keras callbacks, run after the common ones.
        metric_callbacks: Callbacks that add metrics to each epoch's logs
            (e.g. a validation BLEU). They run before every other callback,
            so `monitor`, the history file and early stopping can use them.
        initial_epoch: Epochs the model already trained elsewhere (Hyperband
            continues a trial from an earlier trial's weights): training runs
            epochs `initial_epoch + 1 .. config.epochs`, and the learning rate
            schedule starts where that many epochs would have left it. A
            backup in `run` (an interrupted run) takes precedence.
        saved_model: The model `model.keras` holds, when not `model` itself
            (it must share `model`'s weights).

    Returns:
        A `TrainingResult`.
    """
    # A backup taken before the first epoch of a continued model ended says 0.
    initial_epoch = max(initial_epoch, restored_epoch(run) if run.resumed else 0)
    history_csv = run.file(run_dir_module.HISTORY_FILE)
    if run.resumed:
        _trim_history(history_csv, initial_epoch)
        print(f"resuming the interrupted run in {run.path} at epoch {initial_epoch + 1}",
              flush=True)
    elif history_csv.exists():
        history_csv.unlink()
    timer = StepTimer()
    callbacks = (list(metric_callbacks) + make_callbacks(run, config, monitor, mode, saved_model)
                 + [timer, TimeEstimate(timer, time_limit_minutes=config.time_limit)])
    time_limit = (TimeLimit(config.time_limit, agree=_workers_agree()) if config.time_limit
                  else None)
    if time_limit:
        callbacks.append(time_limit)
    callbacks.extend(extra_callbacks)
    callbacks.append(_epoch_end_backup(callbacks))
    if not tensorboard_available() and not run.resumed:
        print("note: the tensorboard package is not installed, so no TensorBoard logs are "
              "written (pip install tensorboard)", flush=True)
    create_step_variables(model, train_data)
    if initial_epoch and not run.resumed:
        # The schedule reads the optimizer's step counter (a restored backup sets it itself).
        model.optimizer.iterations.assign(initial_epoch * steps_per_epoch(train_data))
    started = time.perf_counter()
    history = model.fit(train_data, validation_data=validation_data, epochs=config.epochs,
                        initial_epoch=initial_epoch,
                        callbacks=callbacks, verbose="auto", shuffle=False)
    return TrainingResult(history, time.perf_counter() - started, timer.steps_per_second,
                          initial_epoch, bool(time_limit and time_limit.stopped_early))


def _epoch_end_backup(callbacks):
    """The `_EpochEndBackup` of the `_Backup` among `callbacks` (and of their EMA swap)."""
    backup = next(c for c in callbacks if isinstance(c, _Backup))
    ema_swap = next((c for c in callbacks if isinstance(c, keras.callbacks.SwapEMAWeights)),
                    None)
    return _EpochEndBackup(backup, ema_swap)


def _workers_agree():
    """Under a multi-worker strategy (`fit` runs in its scope): `agree(flag)`, true if any
    worker's flag is; None otherwise."""
    import tensorflow as tf

    from apps.common import distribute

    strategy = tf.distribute.get_strategy()
    if not distribute.is_multi_worker(strategy):
        return None
    return lambda flag: distribute.any_worker(strategy, flag)


def format_seconds(seconds):
    """`75.3` -> `"1m15s"`: wall times as people read them."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{seconds:02d}s"


def write_metrics(run, metrics):
    """Write `metrics.json`, which also marks the run as finished."""
    path = run.file(run_dir_module.METRICS_FILE)
    path.write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    return path


def summary_line(app, metric_name, value, wall_seconds, run_path):
    """The one line printed at the end of training."""
    return (f"{app}: {metric_name} {value:.4f} in {format_seconds(wall_seconds)} "
            f"(wall time); run written to {run_path}")
