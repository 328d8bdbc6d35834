"""An interrupted run, rerun with the same command, continues from its saved epoch."""

from pathlib import Path

import keras
from app_testutils import TINY, Interrupt, killed_and_resumed, read_json, run_cli

from apps.common import plots, training

def _interrupting(monkeypatch, epoch, batch):
    original = training.make_callbacks

    def make_callbacks(*args, **kwargs):
        return original(*args, **kwargs) + [Interrupt(epoch, batch)]

    monkeypatch.setattr(training, "make_callbacks", make_callbacks)
    return original


def test_rerun_resumes_from_the_saved_epoch(in_tmp, capsys, monkeypatch):
    # Backups every 3 batches and at each epoch end; interrupted after the
    # mid-epoch backup of epoch 2, the rerun restarts epoch 2 from that backup.
    monkeypatch.setattr(training, "BACKUP_EVERY_BATCHES", 3)
    command = ["mnist", "train", *TINY, "--epochs", "3", "--limit", "192"]
    original = _interrupting(monkeypatch, epoch=1, batch=4)
    status, _, err = run_cli(capsys, *command)
    assert status == 130 and "rerun the same command" in err
    (run,) = (in_tmp / "runs" / "mnist").iterdir()
    assert not (run / "metrics.json").exists()
    assert (run / "backup").is_dir()
    assert list(plots.read_history(run / "history.csv")["epoch"]) == [0]
    saved_model_time = (run / "model.keras").stat().st_mtime

    monkeypatch.setattr(training, "make_callbacks", original)
    status, out, _ = run_cli(capsys, *command)
    assert status == 0
    assert f"resuming the interrupted run in runs/mnist/{run.name} at epoch 2" in out
    assert list((in_tmp / "runs" / "mnist").iterdir()) == [run]  # same folder, no new run
    history = plots.read_history(run / "history.csv")
    assert list(history["epoch"]) == [0, 1, 2]  # epoch 0 kept, not trained again
    metrics = read_json(run / "metrics.json")
    assert metrics["resumed_from_epoch"] == 1
    assert metrics["epochs_done"] == 3
    assert (run / "model.keras").stat().st_mtime >= saved_model_time
    assert not (run / "backup").exists()


def test_a_kill_before_an_epochs_history_row_trains_that_epoch_again(
        in_tmp, capsys, monkeypatch):
    """Killed at the end of epoch 2 before its row reached history.csv: the backup must not
    count epoch 2 as done, so the rerun trains it again and no epoch is missing."""
    monkeypatch.setattr(training, "BACKUP_EVERY_BATCHES", 3)
    write_row = keras.callbacks.CSVLogger.on_epoch_end

    def killed_at_epoch_1(self, epoch, logs=None):
        if epoch == 1:
            raise KeyboardInterrupt
        write_row(self, epoch, logs)

    monkeypatch.setattr(keras.callbacks.CSVLogger, "on_epoch_end", killed_at_epoch_1)
    command = ["mnist", "train", *TINY, "--epochs", "3", "--limit", "192"]
    status, _, _ = run_cli(capsys, *command)
    assert status == 130
    (run,) = (in_tmp / "runs" / "mnist").iterdir()
    assert list(plots.read_history(run / "history.csv")["epoch"]) == [0]

    monkeypatch.setattr(keras.callbacks.CSVLogger, "on_epoch_end", write_row)
    status, out, _ = run_cli(capsys, *command)
    assert status == 0
    assert f"resuming the interrupted run in runs/mnist/{run.name} at epoch 2" in out
    assert list(plots.read_history(run / "history.csv")["epoch"]) == [0, 1, 2]


def _killed_while_writing(monkeypatch, cls, method, call):
    """Make the `call`-th `cls.method(path)` write half a file there and stop, as a kill would."""
    original = getattr(cls, method)
    calls = []

    def cut_short(self, filepath, *args, **kwargs):
        calls.append(filepath)
        if len(calls) == call:
            Path(filepath).write_bytes(b"\x89HDF\r\n\x1a\n")
            raise KeyboardInterrupt
        return original(self, filepath, *args, **kwargs)

    monkeypatch.setattr(cls, method, cut_short)
    return original


def test_a_kill_while_the_backup_is_written_resumes_from_the_one_before(
        in_tmp, capsys, monkeypatch):
    command = ["mnist", "train", *TINY, "--epochs", "3", "--limit", "192"]
    original = _killed_while_writing(monkeypatch, keras.Model, "save_weights", call=2)
    status, _, _ = run_cli(capsys, *command)
    assert status == 130  # while epoch 2's backup was written
    monkeypatch.setattr(keras.Model, "save_weights", original)
    status, out, err = run_cli(capsys, *command)
    assert status == 0, err
    (run,) = (in_tmp / "runs" / "mnist").iterdir()
    assert f"resuming the interrupted run in runs/mnist/{run.name} at epoch 2" in out
    assert list(plots.read_history(run / "history.csv")["epoch"]) == [0, 1, 2]


def test_a_kill_while_the_best_model_is_written_keeps_the_one_before(
        in_tmp, capsys, monkeypatch):
    command = ["mnist", "train", *TINY, "--epochs", "3", "--limit", "192",
               "--learning-rate", "0.003"]  # epochs that improve: model.keras saved again
    _killed_while_writing(monkeypatch, keras.Model, "save", call=2)
    status, _, _ = run_cli(capsys, *command)
    assert status == 130  # stopped inside the second save
    (run,) = (in_tmp / "runs" / "mnist").iterdir()
    keras.models.load_model(run / "model.keras")  # the first save's model, whole


def test_other_settings_start_a_new_run(in_tmp, capsys, monkeypatch):
    original = _interrupting(monkeypatch, epoch=0, batch=1)
    status, _, _ = run_cli(capsys, "mnist", "train", *TINY, "--epochs", "2", "--limit", "64")
    assert status == 130
    monkeypatch.setattr(training, "make_callbacks", original)
    status, out, _ = run_cli(capsys, "mnist", "train", *TINY, "--epochs", "1", "--limit", "64",
                             "--units", "10")
    assert status == 0 and "resuming" not in out
    assert len(list((in_tmp / "runs" / "mnist").iterdir())) == 2


def test_finished_run_dir_is_not_overwritten(trained_run, capsys):
    status, _, err = run_cli(capsys, "mnist", "train", *TINY, "--run-dir", trained_run)
    assert status == 2
    assert "already holds a finished run" in err


def test_killed_process_resumes(in_tmp, capsys):
    """A real kill -9 mid-training, then the same command again: it continues, nothing lost."""
    killed_and_resumed(capsys, ["mnist", "train", *TINY, "--epochs", "4", "--limit", "800",
                                "--batch-size", "8"], in_tmp)
