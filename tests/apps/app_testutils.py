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
    """Start `python -m apps.<app> ARGS` in `cwd`, SIGKILL it once an epoch is logged.

    Returns:
        The run folder (it holds `history.csv` with at least one epoch and no
        `metrics.json`); fails the test if no epoch finished in `timeout` seconds.
    """
    process = subprocess.Popen([sys.executable, "-m", f"apps.{app}", *args], cwd=cwd,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env={**os.environ, "PYTHONPATH": REPO_ROOT})
    deadline = time.monotonic() + timeout
    history_csv = None
    while time.monotonic() < deadline and process.poll() is None:
        found = list(Path(cwd).glob(f"runs/{app}/*/history.csv"))
        if found and len(found[0].read_text().strip().splitlines()) >= 2:
            history_csv = found[0]
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert history_csv is not None, "training never finished an epoch"
    assert not (history_csv.parent / "metrics.json").exists()
    return history_csv.parent


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
