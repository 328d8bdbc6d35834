"""keras-tuner's chief/worker mode on loopback: a chief and two workers, one killed, restarted."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from run_folder_testutils import backed_up_epochs
from tuning_testutils import MNIST_SPACE, read_trials, space

REPOSITORY = Path(__file__).resolve().parents[2]
TRIALS = 3
WAIT_SECONDS = 150


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start(folder, args, log_name):
    env = dict(os.environ, PYTHONPATH=str(REPOSITORY), TF_CPP_MIN_LOG_LEVEL="3")
    for name in ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT"):
        env.pop(name, None)
    log = open(folder / log_name, "w")
    return subprocess.Popen([sys.executable, "-m", "apps.cli", *args], cwd=folder, env=env,
                            stdout=log, stderr=subprocess.STDOUT)


def _parent_of(pid):
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def _run_of(pid, project):
    """(run folder, training pid) of the trial worker `pid` trains, once an epoch is backed up.

    The worker trains in a child process (a fresh one per trial), whose pid
    the run's lock holds.
    """
    for lock in project.glob("trial_*/execution0/train.lock"):
        try:
            owner = int(lock.read_text().strip())
        except (OSError, ValueError):
            continue
        run = lock.parent
        if (_parent_of(owner) == pid and backed_up_epochs(run) >= 1
                and not (run / "metrics.json").exists()):
            return run, owner
    return None


def test_chief_and_two_workers_finish_a_search_despite_a_killed_worker(tmp_path):
    port = _free_port()
    search = ["tune", "mnist", "--source", "digits", "--mode", "row", "--limit", "400",
              "--seed", "3", "--tuner", "random", "--max-trials", str(TRIALS), "--max-epochs",
              "4", "--space", space(MNIST_SPACE), "--name", "loopback",
              "--chief", f"127.0.0.1:{port}"]
    worker = [*search, "--role", "worker", "--chief-wait", "60"]
    processes = [_start(tmp_path, [*search, "--role", "chief"], "chief.log")]
    # Worker 1 trains each trial in a fresh process (the default); the others
    # in their own process, which starts trials sooner.
    first = _start(tmp_path, [*worker, "--worker-id", "1"], "worker1.log")
    processes.append(_start(tmp_path, [*worker, "--in-process", "--worker-id", "2"],
                            "worker2.log"))
    project = tmp_path / "runs" / "tune" / "mnist" / "loopback"
    try:
        deadline = time.time() + WAIT_SECONDS
        found = None
        while found is None:
            assert first.poll() is None, "worker 1 ended before it could be killed mid-trial"
            assert time.time() < deadline, "worker 1 never finished an epoch"
            found = _run_of(first.pid, project)
            time.sleep(0.05)
        victim, trainer = found
        first.send_signal(signal.SIGKILL)
        first.wait()
        epochs_before = backed_up_epochs(victim)
        while _parent_of(trainer) is not None:  # its trial process dies with it
            assert time.time() < deadline, "worker 1's trial process outlived it"
            time.sleep(0.05)
        processes.append(_start(tmp_path, [*worker, "--in-process", "--worker-id", "1"],
                                "worker1-restarted.log"))
        for process in processes:
            process.wait(timeout=max(1, deadline - time.time()))
    finally:
        for process in [first, *processes]:
            if process.poll() is None:
                process.kill()
                process.wait()
    logs = {p.name: p.read_text() for p in tmp_path.glob("*.log")}
    assert [p.returncode for p in processes] == [0, 0, 0], logs
    trials = read_trials(project)
    # Every trial recorded exactly once, and all of them completed.
    assert [t["trial_id"] for t in trials] == [str(i) for i in range(TRIALS)]
    assert all(t["status"] == "COMPLETED" for t in trials), (trials, logs)  # logs: why not
    # The restarted worker took its interrupted trial back and resumed it from its backup.
    resumed = re.search(rf"resuming the interrupted run in {victim.relative_to(tmp_path)} at "
                        r"epoch (\d+)", logs["worker1-restarted.log"])
    assert resumed, logs["worker1-restarted.log"]
    assert int(resumed.group(1)) == epochs_before + 1 >= 2  # from its backup, not from scratch
    history = (victim / "history.csv").read_text().splitlines()[1:]
    assert [int(row.split(",")[0]) for row in history] == [0, 1, 2, 3]  # no epoch twice
    assert (project / "best.json").is_file()
    assert "next: rnn-suite mnist train --config" in logs["chief.log"]
    assert "no trials left" in logs["worker2.log"]
