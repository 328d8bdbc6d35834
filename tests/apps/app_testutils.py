"""Helpers for the app tests: the data source, the tiny settings, a CLI runner.

Real MNIST from the mirror when `RNN_SUITE_DATA` is set (as CI does), the
embedded scikit-learn digits otherwise; never the network (`--source`).
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras

from cli_testutils import run_cli  # noqa: F401 - the tests import it from here
from run_folder_testutils import backed_up_epochs

MIRROR = os.environ.get("RNN_SUITE_DATA")
SOURCE = "files" if MIRROR else "digits"
DATASET = "mnist" if MIRROR else "digits"
IMAGE_SIZE = 28 if MIRROR else 8

# Small enough that every training test takes seconds on two cores.
TINY = ["--source", SOURCE, "--mode", "row", "--cell", "gru", "--units", "12",
        "--batch-size", "32", "--limit", "256", "--learning-rate", "0.01", "--seed", "3"]


def read_json(path):
    return json.loads(path.read_text())


class Interrupt(keras.callbacks.Callback):
    """Stands in for Ctrl-C (or a kill) in the middle of an epoch."""

    def __init__(self, epoch, batch):
        super().__init__()
        self.epoch, self.batch, self.current = epoch, batch, None

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.current == self.epoch and batch == self.batch:
            raise KeyboardInterrupt


REPO_ROOT = str(Path(__file__).resolve().parents[2])


def kill_after_first_epoch(app, args, cwd, timeout=180):
    """Start `python -m apps.<app> ARGS` in `cwd`, SIGKILL it once an epoch is backed up.

    Returns:
        The run folder (its backup holds at least one epoch, and `history.csv`
        at least as many; no `metrics.json`); fails the test if no epoch
        finished in `timeout` seconds.
    """
    process = subprocess.Popen([sys.executable, "-m", f"apps.{app}", *args], cwd=cwd,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env={**os.environ, "PYTHONPATH": REPO_ROOT})
    deadline = time.monotonic() + timeout
    run = None
    while time.monotonic() < deadline and process.poll() is None:
        found = [path.parent for path in Path(cwd).glob(f"runs/{app}/*/config.json")]
        if found and backed_up_epochs(found[0]) >= 1:
            run = found[0]
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert run is not None, "training never finished an epoch"
    assert not (run / "metrics.json").exists()
    logged = len((run / "history.csv").read_text().strip().splitlines()) - 1
    assert logged >= backed_up_epochs(run)  # an epoch is backed up only once it is logged
    return run


def killed_and_resumed(capsys, args, cwd, epochs=4, after_kill=None):
    """SIGKILL `rnn-suite ARGS` (a `train` of `epochs` epochs) after its first epoch, rerun it.

    Checks what every app promises: the rerun resumes the same run folder
    (no second run), and its history holds each epoch once.

    Args:
        after_kill: Optional `after_kill(run)`, called on the killed run's
            folder before the rerun (to note what the rerun must keep).

    Returns:
        `(run folder, its metrics.json as a dict)`.
    """
    app = args[0]
    run = kill_after_first_epoch(app, args[1:], cwd)
    if after_kill:
        after_kill(run)
    status, out, err = run_cli(capsys, *args)
    assert status == 0, err
    assert "resuming the interrupted run" in out
    metrics = read_json(run / "metrics.json")
    assert metrics["resumed_from_epoch"] >= 1
    from apps.common import plots

    assert list(plots.read_history(run / "history.csv")["epoch"]) == list(range(epochs))
    assert list((Path(cwd) / "runs" / app).iterdir()) == [run]  # no second run
    return run, metrics
