"""Fixtures of the tuning tests: an empty working folder (searches write runs/ there)."""

import pytest


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    """Run the test from an empty folder, with no keras-tuner chief/worker variables set."""
    monkeypatch.chdir(tmp_path)
    for name in ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path
