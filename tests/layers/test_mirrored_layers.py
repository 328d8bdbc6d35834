"""The layers under `tf.distribute.MirroredStrategy`: two replicas train as one device does.

Logical CPU devices must be configured before TensorFlow starts, so the work
runs in a fresh process (mirrored_script.py), which prints what it measured.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).with_name("mirrored_script.py")
REPO_ROOT = str(Path(__file__).resolve().parents[2])


@pytest.fixture(scope="module")
def measured():
    try:
        done = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True,
                              timeout=240, env={**os.environ, "PYTHONPATH": REPO_ROOT})
    except subprocess.TimeoutExpired:
        pytest.fail("mirrored_script.py did not finish in 240 s (a hang while tracing fit?)")
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_one_step_on_two_replicas_gives_the_weights_of_one_device(measured):
    # SimpleRNN, Bidirectional(GRU), LSTM, an AttentiveCell(LSTMCell,
    # BahdanauAttention) and a BahdanauAttention, with masked (padded) steps:
    # a global batch of 8 split 4 + 4 gives the same step as 8 on one device.
    assert measured["weights_max_change"] > 1e-2  # the step did move the weights
    assert measured["weights_max_difference"] < 1e-5
    one, two = measured["losses"]
    assert one == pytest.approx(two, rel=1e-6)


def test_each_replica_draws_its_own_dropout_masks(measured):
    first, second = (np.array(m) for m in measured["dropout"])
    assert first.shape == second.shape == (4, 5)
    for mask in (first, second):
        assert set(np.unique(mask)) <= {0.0, 2.0}  # rate 0.5: dropped, or kept and scaled
    assert not np.array_equal(first, second)  # the mirrored seed alone would make them equal


def test_stateful_layers_are_refused_on_several_replicas(measured):
    error = measured["stateful_error"]
    assert error is not None and "stateful=True" in error and "2 replicas" in error


def test_stacked_layers_with_a_loop_remainder_train(measured):
    assert np.isfinite(measured["stacked_fit_loss"])
