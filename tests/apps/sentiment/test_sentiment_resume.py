"""A sentiment run killed with SIGKILL mid-training, then the same command again: it resumes."""

from app_testutils import killed_and_resumed
from sentiment_testutils import MODEL_FLAGS, data_flags


def test_killed_process_resumes(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    killed_and_resumed(capsys, ["sentiment", "train", *data_flags(tmp_path), *MODEL_FLAGS,
                                "--epochs", "4", "--batch-size", "8"], tmp_path)
