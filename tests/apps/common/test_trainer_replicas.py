"""The apps' own training steps under `--distribute mirrored`: two replicas take the step one
device takes (adversarial and virtual adversarial training, sampled softmax).

Logical CPU devices must be configured before TensorFlow starts, so each trainer runs in a
fresh process (trainer_replicas_script.py), which prints what it measured.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("trainer_replicas_script.py")
REPO_ROOT = str(Path(__file__).resolve().parents[3])
TRAINERS = ["adversarial", "sampled_softmax"]


@pytest.fixture(scope="module")
def measured():
    running = {name: subprocess.Popen(
        [sys.executable, str(SCRIPT), name], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env={**os.environ, "PYTHONPATH": REPO_ROOT}) for name in TRAINERS}
    results = {}
    for name, process in running.items():
        try:
            out, err = process.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            for other in running.values():
                other.kill()
            pytest.fail(f"trainer_replicas_script.py {name} did not finish in 300 s")
        assert process.returncode == 0, err[-3000:]
        results[name] = json.loads(out.strip().splitlines()[-1])
    return results


@pytest.mark.parametrize("trainer", TRAINERS)
def test_two_replicas_take_the_step_of_one_device(measured, trainer):
    # The gradients the replicas sum are the global batch's (each loss is its replica's
    # share), and the progress bar shows the batch's loss, not a replica's share of it.
    result = measured[trainer]
    assert result["weights_max_change"] > 1e-2  # the step did move the weights
    assert result["weights_max_difference"] < 1e-5
    one, two = result["losses"]
    assert one == pytest.approx(two, rel=1e-5)
