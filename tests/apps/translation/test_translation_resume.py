"""A translation run killed with SIGKILL mid-training, then the same command again: it resumes."""

from app_testutils import killed_and_resumed
from translation_testutils import TINY


def test_killed_process_resumes(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # Fewer pairs and test sentences than TINY (the last --limit wins): the point is the resume.
    killed_and_resumed(capsys, ["translation", "train", *TINY, "--epochs", "4", "--batch-size",
                                "8", "--limit", "160", "--eval-limit", "8"], tmp_path)
