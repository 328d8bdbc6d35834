"""Helpers for the app tests: the data source, the tiny settings, a CLI runner.

Real MNIST from the mirror when `RNN_SUITE_DATA` is set (as CI does), the
embedded scikit-learn digits otherwise; never the network (`--source`).
"""

import json
import os

import keras

from apps import cli

MIRROR = os.environ.get("RNN_SUITE_DATA")
SOURCE = "files" if MIRROR else "digits"
DATASET = "mnist" if MIRROR else "digits"
IMAGE_SIZE = 28 if MIRROR else 8

# Small enough that every training test takes seconds on two cores.
TINY = ["--source", SOURCE, "--mode", "row", "--cell", "gru", "--units", "12",
        "--batch-size", "32", "--limit", "256", "--learning-rate", "0.01", "--seed", "3"]


def run_cli(capsys, *args):
    """Run `rnn-suite ARGS` in-process; returns (exit status, stdout, stderr)."""
    status = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return status, out, err


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
