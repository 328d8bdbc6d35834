"""Fixtures of the language-model tests: one small trained run, shared by the tests that only
read it."""

import pytest

from apps import cli


@pytest.fixture(scope="session")
def lm_run(tmp_path_factory):
    """A finished tiny training run (2 epochs, words, the embedded corpus)."""
    from test_lm import TINY

    run = tmp_path_factory.mktemp("lm") / "run"
    status = cli.main(["lm", "train", *TINY, "--epochs", "2", "--run-dir", str(run)])
    assert status == 0
    return run
