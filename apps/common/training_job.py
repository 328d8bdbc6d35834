"""The steps every app's `train` takes, one call each, in the order an app's `train` calls them.

An app's `train` reads top to bottom with them:

    job = TrainingJob(NAME, config)             # --distribute's strategy, the seed
    data = load_data(config)                    # bad input fails here, before any folder
    job.describe(data, "using ...")
    with job.run_folder() as run:               # new, or the interrupted one resumed
        with job.scope(run):                    # the strategy's scope
            setup = build_training(config, data)
            result = job.fit(run, setup, extra_callbacks)
        if not job.chief:
            return job.worker_done(setup, result)
        model = job.best_model(run, setup)
        report = evaluate(model, config, data, run)   # the app's own, pictures included
        return job.finish(run, setup, result, data, settings, report, headline)

Under a multi-worker strategy only the chief writes the run; every other
worker trains in step with it in a temporary folder of its own (deleted at the
end) and stops at `worker_done`. What that takes lives in `distribute.py`.
"""

import contextlib
import shutil
import time

from apps.common import distribute, errors, model_files, plots
from apps.common import run_dir as run_dir_module
from apps.common import training

LEARNING_CURVES_FILE = "learning_curves.png"


class TrainingJob:
    """One `train` command: its strategy, its config and its clock.

    Args:
        app: The app's name ("mnist"): the run folder's parent and the model's registry.
        config: The app's validated config. Bad `--distribute` settings fail here,
            before anything is read or written.
    """

    def __init__(self, app, config):
        self.started = time.perf_counter()
        self.app = app
        self.config = config
        self.strategy = distribute.strategy_for(config)
        self.multi_worker = distribute.is_multi_worker(self.strategy)
        self.chief = distribute.is_chief(self.strategy)
        self._building = False
        training.set_seed(config.seed)

    def use_config(self, config):
        """Make `config` (the given one with "auto" settings made concrete) the job's; returns it."""
        self.config = config
        return config

    def describe(self, data, using=None):
        """Print what the data is, how much of it is used (`using`), and the strategy."""
        print(f"data: {data.description}", flush=True)
        if using:
            print(using, flush=True)
        if self.config.distribute != "none":
            print(distribute.describe(self.strategy, self.config), flush=True)

    @contextlib.contextmanager
    def run_folder(self):
        """Start or resume the run folder (`--run-dir`, or a new timestamped one); yields it.

        The run's lock is released at the end, however the command ends; a
        non-chief worker's temporary folder is deleted.
        """
        if self.chief:
            # Without a --run-dir that every worker shares, the others could not
            # find the chief's backup: a multi-worker run resumes only from one.
            run = run_dir_module.start_training_run(self.app, self.config,
                                                    find_interrupted=not self.multi_worker)
            print(f"run: {run.path}{' (resuming)' if run.resumed else ''}", flush=True)
        else:
            run = distribute.worker_run(self.strategy, self.config)
        try:
            yield run
        finally:
            run.release()
            if not self.chief:
                shutil.rmtree(run.path, ignore_errors=True)

    @contextlib.contextmanager
    def scope(self, run):
        """The strategy's scope and `--precision`'s policy, where the model is built and fitted.

        Bad input found while building (before `fit` starts) leaves no new run folder behind.
        """
        self._building = True
        try:
            with self.strategy.scope(), training.precision_policy(self.config):
                yield
        except errors.UsageError:
            if self._building:
                run.discard()
            raise
        finally:
            self._building = False

    def fit(self, run, setup, extra_callbacks=(), writers=()):
        """Fit a `TrainingSetup` with the common callbacks (`training.fit`); a `TrainingResult`.

        Args:
            run: The run folder.
            setup: What the app's `build_training` returned.
            extra_callbacks: More Keras callbacks (tests use them).
            writers: Callbacks that write into the run folder as training goes
                (the language model's `samples.txt`); the chief's only. They run
                before the backup and the history, so an epoch a kill leaves
                logged has its files.
        """
        self._building = False
        train_data, validation_data = setup.train_data, setup.validation_data
        if self.multi_worker:
            train_data = distribute.shard_by_data(train_data)
            validation_data = distribute.shard_by_data(validation_data)
            distribute.check_same_start(self.strategy,
                                        training.restored_epoch(run) if run.resumed else 0)
        first_callbacks = (*setup.metric_callbacks, *(writers if self.chief else ()))
        return training.fit(setup.model, train_data, validation_data, self.config, run,
                            monitor=setup.monitor, mode=setup.mode,
                            extra_callbacks=extra_callbacks, metric_callbacks=first_callbacks,
                            saved_model=setup.saved_model)

    def worker_done(self, setup, result):
        """A non-chief worker's end: one line with its weights' fingerprint, once the chief is done."""
        model = setup.saved_model or setup.model
        return distribute.worker_done(self.app, self.strategy, result.epochs_done,
                                      training.format_seconds(result.wall_seconds),
                                      distribute.weights_fingerprint(model))

    def best_model(self, run, setup):
        """The model to evaluate: the best epoch's, read back from `model.keras`."""
        model = setup.saved_model or setup.model
        if not run.model_path.exists() and self.config.distribute != "none":
            # Evaluation runs outside the strategy (a collective of the chief
            # alone would wait forever): on a model read back from its file.
            model.save(run.model_path)
        if not run.model_path.exists():
            return model
        return model_files.load_model(run.model_path, self.app)

    def finish(self, run, setup, result, data, settings, report, headline,
               curves=("loss", "accuracy")):
        """Draw the learning curves, write `metrics.json`, print the summary line.

        Args:
            run, setup, result: The run folder, the setup and what `fit` returned.
            data: The app's data (its `.name` and `.description` go into the metrics).
            settings: What `metrics.json` says about the model and data besides the
                report (cell, units, data sizes); the setup's `sizes` join them.
            report: The app's test report (a dict).
            headline: `(label, key)`: the summary line reports `report[key]` as `label`.
            curves: The metrics drawn in `learning_curves.png`.

        Returns:
            The metrics written to `metrics.json`.
        """
        config, strategy = self.config, self.strategy
        history_csv = run.file(run_dir_module.HISTORY_FILE)
        plots.learning_curves(history_csv, run.file(LEARNING_CURVES_FILE), metrics=curves)
        history = plots.read_history(history_csv)
        best_value = history[setup.monitor] if history and setup.monitor in history else None
        if best_value is not None:
            best_value = float(best_value.max() if setup.mode == "max" else best_value.min())
        model = setup.saved_model or setup.model
        metrics = {
            "app": self.app,
            "dataset": data.name,
            "dataset_description": data.description,
            **settings,
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
            "wall_seconds": round(time.perf_counter() - self.started, 2),
        }
        if self.multi_worker:
            metrics["workers"] = distribute.worker_count(strategy)
            metrics["final_weights_fingerprint"] = distribute.weights_fingerprint(model)
            print(f"{self.app}: worker 0 of {metrics['workers']} (chief): final weights "
                  f"{metrics['final_weights_fingerprint']}", flush=True)
        training.write_metrics(run, metrics)
        if self.multi_worker:
            distribute.all_workers(strategy, 0)  # the others wait for the run to be written
        label, key = headline
        print(training.summary_line(self.app, label, metric_value(metrics, key),
                                    metrics["wall_seconds"], run.path), flush=True)
        return metrics


def metric_value(metrics, key):
    """`metrics[key]`, where a key "a.b" reads `metrics["a"]["b"]` (captioning's scores);
    None when it is not there."""
    value = metrics
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value
