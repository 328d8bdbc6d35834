"""`--distribute`: the settings' checks, mirrored training in-process, two workers on 127.0.0.1.

The bad inputs (malformed TF_CONFIG or --workers, an index out of range, a flag
that does not fit --distribute) are rows of tests/apps/test_bad_input_catalogue.py.
"""

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from app_testutils import read_json, run_cli

from apps.common import distribute
from apps.common.errors import UsageError
from apps.mnist.config import MnistConfig

REPO_ROOT = str(Path(__file__).resolve().parents[3])
# Small enough to train in seconds, on the embedded digits (8 steps of 8 pixels).
DIGITS = ["--source", "digits", "--mode", "row", "--cell", "gru", "--units", "12",
          "--batch-size", "32", "--limit", "128", "--learning-rate", "0.01", "--seed", "3"]


def test_tf_config_with_a_chief_job_numbers_the_chief_first():
    tf_config = {"cluster": {"chief": ["a:1"], "worker": ["b:2", "c:3"]},
                 "task": {"type": "worker", "index": 1}}
    cluster = distribute.cluster_from_tf_config(json.dumps(tf_config))
    assert (cluster.size, cluster.number, cluster.is_chief) == (3, 2, False)
    assert cluster.tf_config() == tf_config
    chief = distribute.cluster_from_tf_config(json.dumps({**tf_config, "task": {"type": "chief"}}))
    assert chief.is_chief and chief.number == 0


def test_workers_flag_builds_tf_config():
    config = MnistConfig(distribute="multi-worker", workers="10.0.0.1:2222, 10.0.0.2:2222",
                         worker_index=1)
    cluster = distribute.check_settings(config, environ={})
    assert cluster.tf_config() == {"cluster": {"worker": ["10.0.0.1:2222", "10.0.0.2:2222"]},
                                   "task": {"type": "worker", "index": 1}}
    assert not cluster.is_chief


def test_no_cluster_without_multi_worker():
    assert distribute.check_settings(MnistConfig(), environ={"TF_CONFIG": "not even JSON"}) is None
    assert distribute.check_settings(MnistConfig(distribute="mirrored", devices=2),
                                     environ={}) is None


def test_more_devices_than_gpus_is_refused(monkeypatch):
    import tensorflow as tf

    real = tf.config.list_physical_devices
    monkeypatch.setattr(tf.config, "list_physical_devices",
                        lambda kind=None: ["gpu0", "gpu1"] if kind == "GPU" else real(kind))
    with pytest.raises(UsageError, match=r"--devices 4: this machine has 2 GPU\(s\)"):
        distribute.strategy_for(MnistConfig(distribute="mirrored", devices=4))
    assert distribute._mirrored_devices(0) == ["/gpu:0", "/gpu:1"]
    assert distribute._mirrored_devices(1) == ["/gpu:0"]


def test_mirrored_trains_in_process(in_tmp, capsys):
    # One replica here (the CPU, no GPU; --devices N needs a fresh process):
    # the run goes through the strategy's scope and the usual run folder.
    status, out, err = run_cli(capsys, "mnist", "train", *DIGITS, "--epochs", "1",
                               "--limit", "64", "--distribute", "mirrored")
    assert status == 0, err
    assert "distribute: mirrored, 1 replica(s) on CPU:0; global batch 32 = 32 per replica" in out
    (run,) = (in_tmp / "runs" / "mnist").iterdir()
    metrics = read_json(run / "metrics.json")
    assert (metrics["distribute"], metrics["replicas"]) == ("mirrored", 1)
    assert (run / "model.keras").is_file()


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_two_workers_train_one_model_and_the_chief_writes_one_run(tmp_path):
    temp = tmp_path / "tmp"  # where the workers' own folders go
    temp.mkdir()
    workers = ",".join(f"127.0.0.1:{port}" for port in _free_ports(2))
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    env.update(PYTHONPATH=REPO_ROOT, TMPDIR=str(temp))
    command = [sys.executable, "-m", "apps.mnist", "train", *DIGITS, "--epochs", "2",
               "--distribute", "multi-worker", "--workers", workers, "--worker-index"]
    processes = [subprocess.Popen([*command, str(index)], cwd=tmp_path, env=env, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
                 for index in (0, 1)]
    deadline = time.monotonic() + 180
    outputs = []
    for process in processes:
        try:
            outputs.append(process.communicate(timeout=max(1, deadline - time.monotonic()))[0])
        except subprocess.TimeoutExpired:
            for p in processes:
                p.kill()
            pytest.fail("the workers did not finish in 180 s")
    for process, out in zip(processes, outputs):
        assert process.returncode == 0, out[-3000:]

    (run,) = (tmp_path / "runs" / "mnist").iterdir()  # one run folder, the chief's
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs", "tmp"]
    assert list(temp.iterdir()) == []  # the worker's own folder is gone
    metrics = read_json(run / "metrics.json")
    assert (metrics["distribute"], metrics["workers"], metrics["replicas"]) == (
        "multi-worker", 2, 2)
    chief_weights = metrics["final_weights_fingerprint"]
    worker_line = re.search(r"mnist: worker 1 of 2: 2 epoch\(s\) trained .* final weights "
                            r"([0-9a-f]{16})", outputs[1])
    assert worker_line, outputs[1][-3000:]
    assert worker_line.group(1) == chief_weights  # the same weights, bit for bit
    assert f"final weights {chief_weights}" in outputs[0]
    rows = (run / "history.csv").read_text().splitlines()[1:]
    losses = [float(row.split(",")[2]) for row in rows]
    assert len(losses) == 2 and losses[1] < losses[0]
    assert (run / "model.keras").is_file() and (run / "config.json").is_file()
