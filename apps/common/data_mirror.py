"""Finding a dataset's local files: `--data-dir`, then `$RNN_SUITE_DATA` (the offline mirror).

Apps describe the files they accept as a list of alternatives (each a list of
file names, relative to a few candidate sub-folders); this module finds the
first complete alternative or says exactly which files were expected where.
"""

import os
from dataclasses import dataclass
from pathlib import Path

from apps.common.errors import UsageError

ENV_VAR = "RNN_SUITE_DATA"


@dataclass(frozen=True)
class DataRoot:
    """A folder the user pointed at, and how (for messages)."""

    path: Path
    origin: str  # "--data-dir" or "$RNN_SUITE_DATA"

    def describe(self):
        return f"{self.origin} {self.path}"


def data_root(data_dir=None):
    """The folder to read local data from, or None when the user named none.

    `data_dir` (the `--data-dir` flag) wins over `$RNN_SUITE_DATA`. A named
    folder that does not exist is an error, not a reason to look elsewhere:
    the user asked for it.
    """
    if data_dir:
        root = DataRoot(Path(data_dir).expanduser(), "--data-dir")
    elif os.environ.get(ENV_VAR):
        root = DataRoot(Path(os.environ[ENV_VAR]).expanduser(), "$" + ENV_VAR)
    else:
        return None
    if not root.path.is_dir():
        raise UsageError(f"{root.describe()} is not a folder (expected the folder holding the "
                         "datasets, e.g. the offline mirror shared/data)")
    return root


def find_files(root, subfolders, alternatives, wanted=None):
    """Find the first alternative whose files all exist in one of `subfolders` of `root`.

    Args:
        root: A `DataRoot`.
        subfolders: Relative folders to look in, in order ("." is the root).
        alternatives: A list of lists of file names; each inner list is one
            complete way of providing the dataset.
        wanted: How to name the expected files in the error (default: all
            the alternatives, spelled out).

    Returns:
        `(alternative_index, [paths])` for the first complete alternative found.

    Raises:
        UsageError: Naming every file that was expected and where.
    """
    for folder in subfolders:
        base = root.path / folder
        for index, names in enumerate(alternatives):
            paths = [base / name for name in names]
            if all(p.is_file() for p in paths):
                return index, paths
    raise UsageError(missing_message(root, subfolders, alternatives, wanted))


def missing_message(root, subfolders, alternatives, wanted=None):
    """One line saying which files were expected where under `root`."""
    wanted = wanted or " or ".join(
        names[0] if len(names) == 1 else "the files " + ", ".join(names)
        for names in alternatives)
    places = ", ".join(str(root.path / f) if f != "." else str(root.path) for f in subfolders)
    return f"{root.describe()} lacks the data: expected {wanted} in one of: {places}"
