"""Choosing where a dataset comes from: local files first, then whatever else an app offers.

The order every app follows (DESIGN.md, "Data never ships inside the
repository"): a folder the user named (`--data-dir`, else `$RNN_SUITE_DATA`,
the offline mirror) is read and nothing else is tried, since the user asked
for it; `--source files` without such a folder is an error saying what was
expected there; otherwise the app's next source (tensorflow-datasets, a
download, embedded data, or an error of its own) is tried.
"""

import socket

from apps.common import data_mirror
from apps.common.errors import UsageError


def local_files_or(data_dir, source, read_files, expected, otherwise):
    """The dataset from the user's local folder if one is named, else from `otherwise()`.

    Args:
        data_dir: The `--data-dir` flag (None: `$RNN_SUITE_DATA`, if set).
        source: The `--source` flag; "files" insists on local files.
        read_files: `read_files(root)` reads the dataset from a
            `data_mirror.DataRoot` (and says which files it expected, if missing).
        expected: The files `--source files` wants, for its error
            ("mnist.npz or the four IDX files").
        otherwise: `otherwise()` gives the dataset when no folder is named.

    Raises:
        UsageError: `--source files` with no folder named, or whatever
            `read_files` or `otherwise` raise.
    """
    root = data_mirror.data_root(data_dir)
    if root is not None:
        return read_files(root)
    if source == "files":
        raise UsageError(f"--source files needs --data-dir or ${data_mirror.ENV_VAR} "
                         f"(expected {expected} there)")
    return otherwise()


def download_possible(host="storage.googleapis.com", timeout=3.0):
    """Whether `host` answers on port 443 within `timeout` seconds (False offline)."""
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False
