"""Fixtures of the MNIST tests: one small trained run."""

import pytest
from app_testutils import TINY

from apps import cli


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory):
    """One finished tiny training run (3 epochs), shared by the tests that only read it."""
    run = tmp_path_factory.mktemp("trained") / "run"
    status = cli.main(["mnist", "train", *TINY, "--epochs", "3", "--run-dir", str(run)])
    assert status == 0
    return run
