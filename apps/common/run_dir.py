"""Run directories: `runs/<app>/<timestamp>/`, resuming an interrupted one, finding a run's model.

A run directory is finished once it holds `metrics.json`. One without it is
an interrupted run; rerunning the same training command (same settings, no
`--run-dir`) picks it up again, so that "kill it, rerun it" just continues.
A `train.lock` holding the process id keeps two live processes apart.
"""

import dataclasses
import datetime
import json
import os
import shutil
import typing
from dataclasses import dataclass
from pathlib import Path

from apps.common import config as config_module
from apps.common.errors import UsageError

RUNS_ROOT = Path("runs")
CONFIG_FILE = "config.json"
MODEL_FILE = "model.keras"
METRICS_FILE = "metrics.json"
HISTORY_FILE = "history.csv"
BACKUP_FOLDER = "backup"
LOGS_FOLDER = "logs"
LOCK_FILE = "train.lock"


@dataclass
class TrainingRun:
    """Where a training run writes, and whether it continues an interrupted one."""

    path: Path
    resumed: bool
    # The outermost folder this run made (the run folder, or e.g. runs/ itself on
    # a first run): what `discard` removes.
    created: typing.Optional[Path] = None

    def file(self, name):
        return self.path / name

    @property
    def model_path(self):
        return self.path / MODEL_FILE

    @property
    def backup_dir(self):
        return self.path / BACKUP_FOLDER

    def discard(self):
        """Remove a new run's folder, and the parents it made, after bad input stopped it.

        A resumed run is never removed: it holds earlier epochs.
        """
        if not self.resumed and self.created is not None:
            shutil.rmtree(self.created, ignore_errors=True)

    def release(self):
        """Drop the lock so that a later command may resume this run."""
        lock = self.path / LOCK_FILE
        if lock.exists() and _lock_owner(lock) == os.getpid():
            lock.unlink()


def _timestamp():
    return datetime.datetime.now().strftime("%Y%m%d-%H%M%S")


def _lock_owner(lock):
    try:
        return int(lock.read_text().strip())
    except (OSError, ValueError):
        return None


def _locked_by_another_process(path):
    owner = _lock_owner(path / LOCK_FILE)
    if owner is None or owner == os.getpid():
        return False
    try:
        os.kill(owner, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_unfinished(path):
    return (path / CONFIG_FILE).is_file() and not (path / METRICS_FILE).exists()


def _same_experiment(path, config):
    try:
        saved = json.loads((path / CONFIG_FILE).read_text())
    except (OSError, ValueError):
        return False
    # A run saved before a setting existed was trained with what is now its
    # default, so a newer release still resumes it.
    defaults = {field.name: field.default for field in dataclasses.fields(config)
                if field.default is not dataclasses.MISSING}
    saved = {**{k: v for k, v in defaults.items() if k not in saved}, **saved}
    return (config_module.experiment_settings(saved)
            == config_module.experiment_settings(config.to_dict()))


def _checked_run_dir(path, config, check_lock=True):
    """Whether `--run-dir` `path` holds an interrupted run to resume; `UsageError` if unusable."""
    if path.exists() and not path.is_dir():
        raise UsageError(f"--run-dir {path} is a file (expected a folder for the run)")
    if (path / METRICS_FILE).exists():
        raise UsageError(f"--run-dir {path} already holds a finished run (it has "
                         f"{METRICS_FILE}); choose a new folder")
    if check_lock and _locked_by_another_process(path):
        raise UsageError(f"--run-dir {path} is being trained by process "
                         f"{_lock_owner(path / LOCK_FILE)}")
    resumed = _is_unfinished(path)
    if resumed and not _same_experiment(path, config):
        raise UsageError(f"--run-dir {path} holds an interrupted run with other settings "
                         f"(see its {CONFIG_FILE}); rerun with those to resume it, or choose "
                         "a new folder")
    return resumed


def interrupted_run_dir(config):
    """The `--run-dir` folder when it holds an interrupted run with these settings, else None.

    Reads only (no lock, nothing written): a multi-worker run's other workers
    resume from the backup the chief keeps there.

    Raises:
        UsageError: As `start_training_run` does for an unusable `--run-dir`
            (but for its lock, which the chief holds).
    """
    if not config.run_dir:
        return None
    path = Path(config.run_dir)
    return path if _checked_run_dir(path, config, check_lock=False) else None


def start_training_run(app, config, find_interrupted=True):
    """Choose and prepare the directory a `train` command writes to.

    With `--run-dir`: that folder (resumed if it holds an interrupted run with
    the same settings). Without: the newest interrupted run of `app` under
    `runs/` with the same settings (unless `find_interrupted` is false), or a
    new `runs/<app>/<timestamp>/`. Writes `config.json` and takes the lock.

    Raises:
        UsageError: If `--run-dir` holds a finished run, a run with other
            settings, or a run another live process is training.
    """
    if config.run_dir:
        path = Path(config.run_dir)
        resumed = _checked_run_dir(path, config)
    else:
        path, resumed = _resumable_run(app, config) if find_interrupted else (None, False)
        if path is None:
            path = _new_run_path(app)
    created = next((p for p in reversed((path, *path.parents)) if not p.exists()), None)
    path.mkdir(parents=True, exist_ok=True)
    config_module.save_config(dataclasses.replace(config, run_dir=str(path)), path / CONFIG_FILE)
    (path / LOCK_FILE).write_text(str(os.getpid()))
    return TrainingRun(path=path, resumed=resumed, created=created)


def _resumable_run(app, config):
    root = RUNS_ROOT / app
    if not root.is_dir():
        return None, False
    for path in sorted((p for p in root.iterdir() if p.is_dir()), reverse=True):
        if (_is_unfinished(path) and not _locked_by_another_process(path)
                and _same_experiment(path, config)):
            return path, True
    return None, False


def _new_run_path(app):
    base = RUNS_ROOT / app / _timestamp()
    path, n = base, 1
    while path.exists():
        path = base.with_name(f"{base.name}-{n}")
        n += 1
    return path


def add_run_flag(parser, app):
    """The `--run DIR` flag of `evaluate` and `predict` (default: the newest run)."""
    parser.add_argument(
        "--run", default="latest", metavar="DIR",
        help="run folder (or its model.keras) to use (default: latest, the newest run "
             f"under runs/{app}/ with a model)")


def latest_run(app):
    """The newest run of `app` under `runs/` that holds a model, or None."""
    root = RUNS_ROOT / app
    if not root.is_dir():
        return None
    runs = [p for p in root.iterdir() if (p / MODEL_FILE).is_file()]
    return max(runs, key=lambda p: (p / MODEL_FILE).stat().st_mtime, default=None)


def find_model(app, run, flag="--run"):
    """Resolve `--run` (a run folder, a `.keras` file, or "latest") to the model file.

    `flag` is the flag that named the run, for the messages (`--encoder-from`, ...).

    Raises:
        UsageError: If the folder or the model in it does not exist.
    """
    if run in (None, "latest"):
        found = latest_run(app)
        if found is None:
            raise UsageError(f"no trained run under {RUNS_ROOT / app}/ (expected a folder with "
                             f"{MODEL_FILE}); train one first or pass {flag} DIR")
        return found / MODEL_FILE
    path = Path(run)
    if path.is_file():
        return path
    if not path.exists():
        raise UsageError(f"{flag} {path} does not exist (expected a run folder holding "
                         f"{MODEL_FILE})")
    model = path / MODEL_FILE
    if not model.is_file():
        raise UsageError(f"{flag} {path} has no {MODEL_FILE} (expected a folder written by "
                         f"`rnn-suite {app} train`)")
    return model
