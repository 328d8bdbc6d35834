"""Bad input to `rnn-suite tune` is one line on stderr and exit status 2, before any trial runs."""

import socket
import time

import pytest
from tuning_testutils import MNIST_DATA, run_cli, space

SEARCH = ["--tuner", "random", "--max-trials", "1", "--max-epochs", "1"]


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("args,message", [
    (["tune", "captioning-x"], "invalid choice: 'captioning-x'"),
    (["tune", "mnist", "--tuner", "grid"], "invalid choice: 'grid'"),
    (["tune", "mnist", "--objective", "val_bleu"], "invalid choice: 'val_bleu'"),
    (["tune", "mnist", "--max-trials", "0"], "expected a positive integer"),
    (["tune", "mnist", "--time-limit", "-1"], "expected a number >= 0"),
    (["tune", "mnist", "--space", '{"unitz": [1]}'], "--space: unknown setting 'unitz'"),
    (["tune", "mnist", "--space", '{"units": []}'], "--space units: empty list of choices"),
    (["tune", "mnist", "--space", '{"learning_rate": {"min": 0.1, "max": 0.01}}'],
     "--space learning_rate: empty range, min 0.1 > max 0.01"),
    (["tune", "mnist", "--space", '{"units": [64,'], "--space is not valid JSON"),
    (["tune", "mnist", "--space", "missing.json"], "--space missing.json: no such file"),
    (["tune", "mnist", "--name", "../elsewhere"], "--name '../elsewhere'"),
    (["tune", "mnist", "--limit", "-3"], "--limit must be >= 0"),
    (["tune", "mnist", "--role", "worker", "--chief", "127.0.0.1:8000"],
     "--role worker needs --worker-id ID"),
    (["tune", "mnist", "--role", "chief"], "--role chief needs --chief HOST:PORT"),
    (["tune", "mnist", "--chief", "127.0.0.1:8000"], "--worker-id and --chief need --role"),
    (["tune", "mnist", "--role", "chief", "--chief", "0.0.0.0:8000", "--worker-id", "2"],
     "--worker-id is for --role worker"),
    (["tune", "mnist", "--role", "worker", "--chief", "127.0.0.1:8000", "--worker-id",
      "subchief"], "must not contain 'chief'"),
    (["tune", "mnist", "--role", "worker", "--chief", "localhost", "--worker-id", "1"],
     "expected HOST:PORT"),
    (["tune", "mnist", "--role", "worker", "--chief", "127.0.0.1:8000", "--worker-id", "1",
      "--overwrite"], "--overwrite is for the chief"),
])
def test_bad_flags_are_one_line_errors(in_tmp, capsys, args, message):
    status, out, err = run_cli(capsys, *args)
    assert status == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err + out
    assert not (in_tmp / "runs").exists()  # nothing written on bad input


def test_environment_without_port_is_an_error(in_tmp, capsys, monkeypatch):
    monkeypatch.setenv("KERASTUNER_ORACLE_IP", "127.0.0.1")
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "w1")
    status, _, err = run_cli(capsys, "tune", "mnist", *MNIST_DATA, *SEARCH)
    assert status == 2 and "KERASTUNER_ORACLE_PORT not" in err


def test_bad_data_fails_once_before_any_trial(in_tmp, capsys):
    status, out, err = run_cli(capsys, "tune", "sentiment", "--csv", in_tmp / "none.csv",
                               *SEARCH)
    assert status == 2
    assert "none.csv" in err and len(err.strip().splitlines()) == 1
    assert "Running Trial" not in out


def test_show_space_prints_the_space_and_runs_nothing(in_tmp, capsys):
    status, out, _ = run_cli(capsys, "tune", "translation", "--show-space", "--space",
                             space({"units": [128, 256], "max_vocab": 8000}))
    assert status == 0
    lines = out.splitlines()
    assert "objective val_loss, minimised" in lines[0]
    assert any(line.split()[:2] == ["units", "one"] and "128, 256" in line for line in lines)
    assert any(line.split()[0] == "max_vocab" and line.endswith("8000") for line in lines)
    assert not (in_tmp / "runs").exists()


def test_unreachable_chief_is_an_error_after_the_wait(in_tmp, capsys):
    port = _free_port()
    started = time.perf_counter()
    status, _, err = run_cli(capsys, "tune", "mnist", *MNIST_DATA, *SEARCH, "--role", "worker",
                             "--worker-id", "1", "--chief", f"127.0.0.1:{port}",
                             "--chief-wait", "1.5")
    waited = time.perf_counter() - started
    assert status == 2
    assert f"no chief answered at 127.0.0.1:{port} within 1.5 s" in err
    assert len(err.strip().splitlines()) == 1
    assert 1.5 <= waited < 30


def test_port_in_use_is_an_error(in_tmp, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        status, _, err = run_cli(capsys, "tune", "mnist", *MNIST_DATA, *SEARCH, "--role",
                                 "chief", "--chief", f"127.0.0.1:{port}")
    assert status == 2
    assert f"port {port} is already in use" in err
    assert len(err.strip().splitlines()) == 1
