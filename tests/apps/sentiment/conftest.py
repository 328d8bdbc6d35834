"""Fixtures for the sentiment tests: one small trained run, shared by the tests that only read it."""

import pytest
from sentiment_testutils import MODEL_FLAGS, data_flags

from apps import cli


@pytest.fixture(scope="session")
def sentiment_run(tmp_path_factory):
    """A finished tiny training run (3 epochs, attention pooling)."""
    base = tmp_path_factory.mktemp("sentiment")
    run = base / "run"
    status = cli.main(["sentiment", "train", *data_flags(base), *MODEL_FLAGS, "--epochs", "3",
                       "--run-dir", str(run)])
    assert status == 0
    return run
