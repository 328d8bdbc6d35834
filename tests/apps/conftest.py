"""Fixtures for the app tests: an empty working folder, one small trained run."""

import pytest
from app_testutils import TINY

from apps import cli


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    """Run the test from an empty folder (so `runs/` lands there)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory):
    """One finished tiny training run (3 epochs), shared by the tests that only read it."""
    run = tmp_path_factory.mktemp("trained") / "run"
    status = cli.main(["mnist", "train", *TINY, "--epochs", "3", "--run-dir", str(run)])
    assert status == 0
    return run

