"""Fixtures for every app's tests: an empty working folder. (Each app's own are in its folder.)"""

import pytest


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    """Run the test from an empty folder (so `runs/` lands there)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path
