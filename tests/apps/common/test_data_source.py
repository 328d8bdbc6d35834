"""Choosing a data source: a named folder wins, `--source files` insists on one, else the fallback."""

import pytest

from apps.common import data_source
from apps.common.errors import UsageError


def _fallback():
    return "fallback"


def test_a_named_folder_is_read_and_nothing_else_tried(tmp_path, monkeypatch):
    monkeypatch.delenv("RNN_SUITE_DATA", raising=False)
    read = lambda root: ("files", root.path, root.origin)  # noqa: E731
    never = lambda: pytest.fail("the fallback must not be tried")  # noqa: E731
    assert data_source.local_files_or(str(tmp_path), "auto", read, "x.npz", never) == (
        "files", tmp_path, "--data-dir")
    monkeypatch.setenv("RNN_SUITE_DATA", str(tmp_path))
    assert data_source.local_files_or(None, "files", read, "x.npz", never) == (
        "files", tmp_path, "$RNN_SUITE_DATA")


def test_no_folder_named(monkeypatch):
    monkeypatch.delenv("RNN_SUITE_DATA", raising=False)
    read = lambda root: pytest.fail("no folder to read")  # noqa: E731
    assert data_source.local_files_or(None, "auto", read, "x.npz", _fallback) == "fallback"
    with pytest.raises(UsageError, match=r"^--source files needs --data-dir or "
                                         r"\$RNN_SUITE_DATA \(expected x.npz there\)$"):
        data_source.local_files_or(None, "files", read, "x.npz", _fallback)


def test_a_named_folder_that_does_not_exist_is_an_error(tmp_path, monkeypatch):
    monkeypatch.delenv("RNN_SUITE_DATA", raising=False)
    with pytest.raises(UsageError, match="is not a folder"):
        data_source.local_files_or(str(tmp_path / "nowhere"), "auto", None, "x", _fallback)
