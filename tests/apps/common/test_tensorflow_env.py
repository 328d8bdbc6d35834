"""The environment `rnn-suite`, trials and benchmarks start TensorFlow in (`tensorflow_env`)."""

import os
import subprocess
import sys
from pathlib import Path

from apps import cli
from apps.common import tensorflow_env

REPOSITORY = Path(__file__).resolve().parents[3]


def test_set_defaults_fills_what_is_unset_and_keeps_what_the_user_set(monkeypatch):
    monkeypatch.delenv("TF_CPU_ALLOCATOR_USE_BFC", raising=False)
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "0")
    tensorflow_env.set_defaults()
    assert os.environ["TF_CPU_ALLOCATOR_USE_BFC"] == "true"
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0"


def test_the_command_sets_them_before_anything_else(monkeypatch):
    called = []
    monkeypatch.setattr(tensorflow_env, "set_defaults", lambda: called.append(True))
    assert cli.main(["--help"]) == 0
    assert called == [True]


def test_tensorflow_then_pools_its_cpu_memory():
    # Only TensorFlow's BFC allocator keeps statistics: get_memory_info answers for the
    # CPU only when the variable took effect (a TensorFlow that renamed it fails here).
    script = ("from apps.common import tensorflow_env\n"
              "tensorflow_env.set_defaults()\n"
              "import tensorflow as tf\n"
              "x = tf.ones([256, 256]) @ tf.ones([256, 256])\n"
              "print(tf.config.experimental.get_memory_info('CPU:0')['peak'])\n")
    env = {k: v for k, v in os.environ.items() if k != "TF_CPU_ALLOCATOR_USE_BFC"}
    env["PYTHONPATH"] = str(REPOSITORY)
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert int(result.stdout.strip().splitlines()[-1]) >= 256 * 256 * 4
