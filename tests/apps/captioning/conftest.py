"""Fixtures for the captioning tests: a private feature cache, one small trained run."""

import pytest
from captioning_testutils import TINY

from apps import cli


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory, monkeypatch):
    """Feature caches and converted weights go to a temporary folder, never ~/.cache."""
    monkeypatch.setenv("RNN_SUITE_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(scope="session")
def shapes_run(tmp_path_factory):
    """One finished run on one-shape images (10 epochs, ~40 s), shared by the tests that read it."""
    import os

    os.environ.setdefault("RNN_SUITE_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
    run = tmp_path_factory.mktemp("captioning") / "run"
    status = cli.main(["captioning", "train", *TINY, "--epochs", "10", "--run-dir", str(run)])
    assert status == 0
    return run
