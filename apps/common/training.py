"""The training loop every app shares: compile, callbacks, resumable fit, the summary line."""

import csv
import dataclasses
import functools
import importlib.util
import json
import shutil
import time
import typing
from pathlib import Path

import keras

from apps.common import run_dir as run_dir_module

# Mid-epoch backups: an epoch of pixel MNIST takes many minutes on a CPU, so
# a kill should not throw the whole epoch away.
BACKUP_EVERY_BATCHES = 100


def set_seed(seed):
    """Seed Python, NumPy and TensorFlow (weights, dropout, shuffling)."""
    keras.utils.set_random_seed(seed)


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


class _Backup(keras.callbacks.BackupAndRestore):
    """`BackupAndRestore` that saves every N batches *and* at every epoch end.

    With an integer `save_freq` Keras only saves on batches; the epoch-end save
    makes the recorded epoch number match the weights right after an epoch.
    A run killed mid-epoch restarts that epoch from the weights of its last
    backup (Keras restores epochs, not batches).
    """

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, logs)
        if self.save_freq != "epoch":
            self._save_model()


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


def _restored_epoch(run):
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


class _CheckpointOf(keras.callbacks.ModelCheckpoint):
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
    `model.keras` holds.
    """
    history_csv = run.file(run_dir_module.HISTORY_FILE)
    callbacks = [_Backup(str(run.backup_dir), save_freq=BACKUP_EVERY_BATCHES)]
    checkpoint = (keras.callbacks.ModelCheckpoint if saved_model is None
                  else functools.partial(_CheckpointOf, saved_model))
    if config.ema_momentum:
        # After the backup (which must hold the raw weights to resume from) and
        # before the checkpoint: validation and the saved model use the average.
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


def fit(model, train_data, validation_data, config, run, monitor="val_accuracy", mode="max",
        extra_callbacks=(), saved_model=None, metric_callbacks=()):
    """Train `model` into `run`, resuming from its backup if one is there.

    Prints where it resumes from; Keras's progress bar shows the epochs.

    Returns:
        A `TrainingResult`.
    """
    return fit_from_epoch(model, train_data, validation_data, config, run, monitor=monitor,
                          mode=mode, extra_callbacks=extra_callbacks,
                          metric_callbacks=metric_callbacks, saved_model=saved_model)


def fit_from_epoch(model, train_data, validation_data, config, run, monitor="val_accuracy",
                   mode="max", extra_callbacks=(), metric_callbacks=(), initial_epoch=0,
                   saved_model=None):
    """`fit`, for a model that may already have trained `initial_epoch` epochs elsewhere.

    Hyperband continues a trial from an earlier trial's weights: training
    then runs epochs `initial_epoch + 1 .. config.epochs`, and the learning
    rate schedule starts where that many epochs would have left it.

    Args:
        model, train_data, validation_data, config, run, monitor, mode,
            extra_callbacks: As for `fit`.
        metric_callbacks: Callbacks that add metrics to each epoch's logs
            (e.g. a validation BLEU). They run before every other callback,
            so `monitor`, the history file and early stopping can use them.
        initial_epoch: Epochs already trained (0 for a fresh model). A
            backup in `run` (an interrupted run) takes precedence.
        saved_model: The model `model.keras` holds, when not `model` itself
            (it must share `model`'s weights).

    Returns:
        A `TrainingResult`.
    """
    # A backup taken before the first epoch of a continued model ended says 0.
    initial_epoch = max(initial_epoch, _restored_epoch(run) if run.resumed else 0)
    history_csv = run.file(run_dir_module.HISTORY_FILE)
    if run.resumed:
        _trim_history(history_csv, initial_epoch)
        print(f"resuming the interrupted run in {run.path} at epoch {initial_epoch + 1}",
              flush=True)
    elif history_csv.exists():
        history_csv.unlink()
    timer = StepTimer()
    callbacks = (list(metric_callbacks) + make_callbacks(run, config, monitor, mode, saved_model)
                 + [timer])
    time_limit = (TimeLimit(config.time_limit, agree=_workers_agree()) if config.time_limit
                  else None)
    if time_limit:
        callbacks.append(time_limit)
    callbacks.extend(extra_callbacks)
    if not tensorboard_available() and not run.resumed:
        print("note: the tensorboard package is not installed, so no TensorBoard logs are "
              "written (pip install tensorboard)", flush=True)
    # BackupAndRestore needs built weights (and optimizer slots) before fit.
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    if initial_epoch and not run.resumed:
        # The schedule reads the optimizer's step counter (a restored backup sets it itself).
        model.optimizer.iterations.assign(initial_epoch * steps_per_epoch(train_data))
    started = time.perf_counter()
    history = model.fit(train_data, validation_data=validation_data, epochs=config.epochs,
                        initial_epoch=initial_epoch,
                        callbacks=callbacks, verbose="auto", shuffle=False)
    return TrainingResult(history, time.perf_counter() - started, timer.steps_per_second,
                          initial_epoch, bool(time_limit and time_limit.stopped_early))


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


@dataclasses.dataclass(frozen=True)
class TrainingStory:
    """An app's own pieces of `train`; `run_training` does the rest, the same for every app.

    Attributes:
        app: The app's name ("mnist"): the run folder's parent and the model's registry.
        load_data: `load_data(config)` -> the app's data (with `.name` and
            `.description`); all bad input must fail here, before a run folder exists.
        build_training: `build_training(config, data)` -> a `TrainingSetup`
            (the one builder `rnn-suite tune` calls too).
        evaluate: `evaluate(best_model, config, data, run)` -> the test report
            (a dict for `metrics.json`), pictures written into `run.path`.
        settings: `settings(config, data)` -> what `metrics.json` says about
            the model and data besides the report (cell, units, data sizes);
            the setup's `sizes` join them.
        headline: `headline(metrics)` -> `(name, value)` of the summary line.
        describe: Optional `describe(config, data)` -> the line printed after
            the data's description (how much of it is used, and how).
        resolve: Optional `resolve(config, data)` -> the config with "auto"
            settings made concrete, as `config.json` keeps them.
        curves: The metrics drawn in `learning_curves.png`.
        run_callbacks: Optional `run_callbacks(config, data, run)` -> callbacks
            that write into the run folder as training goes (the language
            model's `samples.txt`).
    """

    app: str
    load_data: typing.Callable
    build_training: typing.Callable
    evaluate: typing.Callable
    settings: typing.Callable
    headline: typing.Callable
    describe: typing.Optional[typing.Callable] = None
    resolve: typing.Optional[typing.Callable] = None
    curves: tuple = ("loss", "accuracy")
    run_callbacks: typing.Optional[typing.Callable] = None


LEARNING_CURVES_FILE = "learning_curves.png"


def _worker_run(strategy, config):
    """Where a non-chief worker writes: a temporary folder of its own.

    When `--run-dir` (the same folder, on storage every worker sees) holds an
    interrupted run, the chief's backup is copied in, to resume from.
    """
    from apps.common import distribute

    interrupted = run_dir_module.interrupted_run_dir(config)
    path = Path(distribute.worker_temp_dir(strategy))
    resumed = interrupted is not None and distribute.copy_backup(
        interrupted, run_dir_module.BACKUP_FOLDER, run_dir_module.HISTORY_FILE, path)
    print(f"run: written by the chief; this worker writes into {path} (deleted at the end)"
          + (f", resuming from the backup in {interrupted}" if resumed else ""), flush=True)
    return run_dir_module.TrainingRun(path=path, resumed=resumed)


def _check_same_start(strategy, run):
    """Every worker must start from the same epoch, or the first step would never match."""
    from apps.common import distribute, errors

    epochs = distribute.all_workers(strategy, _restored_epoch(run) if run.resumed else 0)
    if len(set(epochs)) > 1:
        raise errors.UsageError(
            f"the workers would start from different epochs ({', '.join(f'{e:g}' for e in epochs)}"
            "): a multi-worker run resumes from the chief's backup in --run-dir, which must "
            "name the same folder on every worker, on storage they all see")


def _worker_done(app, strategy, result, fingerprint):
    """A non-chief worker's last line; it waits until the chief has written the run."""
    from apps.common import distribute

    number, count = distribute.worker_number(strategy), distribute.worker_count(strategy)
    print(f"{app}: worker {number} of {count}: {result.epochs_done} epoch(s) trained in "
          f"{format_seconds(result.wall_seconds)}, final weights {fingerprint}; waiting for "
          "the chief to write the run", flush=True)
    distribute.all_workers(strategy, 0)
    return {"app": app, "worker": number, "workers": count, "epochs_done": result.epochs_done,
            "final_weights_fingerprint": fingerprint}


def run_training(story, config, extra_callbacks=()):
    """Train an app from a validated config and leave a complete run folder.

    Strategy (`--distribute`; bad settings fail before anything is written) ->
    seed -> load the data (bad input fails before anything is written) ->
    start or resume the run folder -> build and compile the model and fit it
    with the common callbacks, both in the strategy's scope -> evaluate the
    best saved model on the test split -> learning curves -> `metrics.json`
    -> the one summary line.

    In a multi-worker run only the chief does all of this; every other
    worker trains in step with it, writes into a temporary folder of its own
    (deleted at the end), and prints one line with its weights' fingerprint.

    Args:
        story: The app's `TrainingStory`.
        config: The app's validated config.
        extra_callbacks: More Keras callbacks for `fit` (tests use them).

    Returns:
        The metrics written to `metrics.json` (a non-chief worker: what it did).
    """
    from apps.common import distribute, errors, model_files, plots

    started = time.perf_counter()
    strategy = distribute.strategy_for(config)
    multi_worker = distribute.is_multi_worker(strategy)
    chief = distribute.is_chief(strategy)
    set_seed(config.seed)
    data = story.load_data(config)
    print(f"data: {data.description}", flush=True)
    if story.resolve:
        config = story.resolve(config, data)
    if story.describe:
        print(story.describe(config, data), flush=True)
    if config.distribute != "none":
        print(distribute.describe(strategy, config), flush=True)
    if chief:
        # Without a --run-dir that every worker shares, the others could not
        # find the chief's backup: a multi-worker run resumes only from one.
        run = run_dir_module.start_training_run(story.app, config,
                                                find_interrupted=not multi_worker)
        print(f"run: {run.path}{' (resuming)' if run.resumed else ''}", flush=True)
    else:
        run = _worker_run(strategy, config)
    try:
        with strategy.scope():
            try:
                setup = story.build_training(config, data)
            except errors.UsageError:
                run.discard()  # bad input found while building leaves no new run folder behind
                raise
            train_data, validation_data = setup.train_data, setup.validation_data
            if multi_worker:
                train_data = distribute.shard_by_data(train_data)
                validation_data = distribute.shard_by_data(validation_data)
                _check_same_start(strategy, run)
            # Before the backup and the history: an epoch a kill leaves logged has its files.
            first_callbacks = (*setup.metric_callbacks,
                               *(story.run_callbacks(config, data, run)
                                 if story.run_callbacks and chief else ()))
            result = fit(setup.model, train_data, validation_data, config, run,
                         monitor=setup.monitor, mode=setup.mode, extra_callbacks=extra_callbacks,
                         saved_model=setup.saved_model, metric_callbacks=first_callbacks)
        model = setup.saved_model or setup.model
        fingerprint = distribute.weights_fingerprint(model) if multi_worker else None
        if not chief:
            return _worker_done(story.app, strategy, result, fingerprint)
        if not run.model_path.exists() and config.distribute != "none":
            # Evaluation runs outside the strategy (a collective of the chief
            # alone would wait forever): on a model read back from its file.
            model.save(run.model_path)
        best = (model_files.load_model(run.model_path, story.app) if run.model_path.exists()
                else model)
        report = story.evaluate(best, config, data, run)
        history_csv = run.file(run_dir_module.HISTORY_FILE)
        plots.learning_curves(history_csv, run.file(LEARNING_CURVES_FILE), metrics=story.curves)
        history = plots.read_history(history_csv)
        best_value = history[setup.monitor] if history and setup.monitor in history else None
        if best_value is not None:
            best_value = float(best_value.max() if setup.mode == "max" else best_value.min())
        metrics = {
            "app": story.app,
            "dataset": data.name,
            "dataset_description": data.description,
            **story.settings(config, data),
            "parameters": int(model.count_params()),
            **setup.sizes,
            **report,
            f"best_{setup.monitor}": best_value,
            "epochs_done": result.epochs_done,
            "epochs_requested": config.epochs,
            "resumed_from_epoch": result.initial_epoch if run.resumed else None,
            "stopped_by_time_limit": result.stopped_by_time,
            "distribute": config.distribute,
            "replicas": int(strategy.num_replicas_in_sync),
            "train_seconds": round(result.wall_seconds, 2),
            "train_steps_per_second": round(result.steps_per_second, 3),
            "train_examples_per_second": round(result.steps_per_second * config.batch_size, 1),
            "wall_seconds": round(time.perf_counter() - started, 2),
        }
        if multi_worker:
            metrics["workers"] = distribute.worker_count(strategy)
            metrics["final_weights_fingerprint"] = fingerprint
            print(f"{story.app}: worker 0 of {metrics['workers']} (chief): final weights "
                  f"{fingerprint}", flush=True)
        write_metrics(run, metrics)
        if multi_worker:
            distribute.all_workers(strategy, 0)  # the others wait for the run to be written
    finally:
        run.release()
        if not chief:
            shutil.rmtree(run.path, ignore_errors=True)
    label, value = story.headline(metrics)
    print(summary_line(story.app, label, value, metrics["wall_seconds"], run.path), flush=True)
    return metrics
