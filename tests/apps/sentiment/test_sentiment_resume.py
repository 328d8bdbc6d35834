"""A sentiment run killed with SIGKILL mid-training, then the same command again: it resumes."""

from app_testutils import kill_after_first_epoch, read_json, run_cli
from sentiment_testutils import MODEL_FLAGS, data_flags

from apps.common import plots


def test_killed_process_resumes(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = ["sentiment", "train", *data_flags(tmp_path), *MODEL_FLAGS, "--epochs", "4",
            "--batch-size", "8"]
    run = kill_after_first_epoch("sentiment", args[1:], tmp_path)

    status, out, err = run_cli(capsys, *args)
    assert status == 0, err
    assert "resuming the interrupted run" in out
    metrics = read_json(run / "metrics.json")
    assert metrics["resumed_from_epoch"] >= 1
    assert list(plots.read_history(run / "history.csv")["epoch"]) == [0, 1, 2, 3]
    assert list((tmp_path / "runs" / "sentiment").iterdir()) == [run]  # no second run
