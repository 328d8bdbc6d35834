"""`--help` documents every flag and its default; `python -m apps.mnist` is the same command."""

import subprocess
import sys

import pytest
from app_testutils import run_cli

TRAIN_FLAGS = ["--cell", "--units", "--layers", "--bidirectional", "--epochs", "--batch-size",
               "--learning-rate", "--data-dir", "--run-dir", "--seed", "--limit", "--config",
               "--mode", "--jit", "--early-stopping", "--time-limit"]


def test_train_help_lists_every_flag_with_its_default(capsys):
    status, out, _ = run_cli(capsys, "mnist", "train", "--help")
    assert status == 0
    for flag in TRAIN_FLAGS:
        assert flag in out, flag
    help_text = " ".join(out.split())
    assert "(default: gru)" in help_text and "(default: pixel)" in help_text
    assert "(default: 128)" in help_text


@pytest.mark.parametrize("command, flags", [
    ("evaluate", ["--run", "--data-dir", "--limit", "--batch-size", "(default: latest"]),
    ("predict", ["--run", "IMAGE", "--top", "(default: 3)"]),
])
def test_other_commands_help(capsys, command, flags):
    status, out, _ = run_cli(capsys, "mnist", command, "--help")
    assert status == 0
    for flag in flags:
        assert flag in " ".join(out.split())


def test_python_dash_m_is_the_same_command():
    result = subprocess.run([sys.executable, "-m", "apps.mnist", "train", "--units", "0"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip() == "rnn-suite: error: --units must be a positive integer, got 0"
