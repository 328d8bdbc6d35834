"""Documents from a text file, a folder of .txt files or a tar of them: the lm app's `--text`,
sentiment's `--unlabelled`.

Every failure is a one-line `UsageError` naming the flag and the path: a
missing path, no text at all, a binary (NUL bytes) or non-UTF-8 file.
"""

import tarfile
from pathlib import Path

from apps.common import text as text_module
from apps.common.errors import UsageError

TEXT_SUFFIXES = (".txt",)
ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz")


def read_documents(path, min_documents=1, flag="--text"):
    """The documents of a file, a folder of .txt files, or a tar of them (`flag PATH`).

    A file's documents are its blank-line separated paragraphs, or its lines
    if it has just one paragraph (or fewer than `min_documents`).

    Returns:
        (documents, description).

    Raises:
        UsageError: A missing path, no text at all, a binary or non-UTF-8 file.
    """
    path = Path(path)
    if not path.exists():
        raise UsageError(f"{flag} {path} does not exist (expected a UTF-8 text file, a folder "
                         "of .txt files or a .tar.gz of them)")
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in TEXT_SUFFIXES)
        if not files:
            raise UsageError(f"{flag} {path} holds no .txt files (expected one document per "
                             "file)")
        documents = [_decode(p.read_bytes(), p, flag) for p in files]
        what = f"{len(files):,} .txt files in {path}"
    elif path.name.endswith(ARCHIVE_SUFFIXES):
        documents = _archive_documents(path, flag)
        what = f"{len(documents):,} .txt files in {path}"
    else:
        text = _decode(path.read_bytes(), path, flag)
        documents = [p for p in _paragraphs(text) if p.strip()]
        if len(documents) < max(2, min_documents):  # no blank lines: one document per line
            documents = [line for line in text_module.split_lines(text) if line.strip()]
        what = f"{path} ({len(documents):,} paragraphs or lines)"
    documents = [d for d in documents if d.strip()]
    if not documents:
        raise UsageError(f"{flag} {path} has no text (only empty or blank documents)")
    if len(documents) < min_documents:
        raise UsageError(f"{flag} {path} has {len(documents)} document(s); at least "
                         f"{min_documents} are needed (one each for training, validation and "
                         "test; separate paragraphs with a blank line)")
    return documents, f"your text: {what}"


def _paragraphs(text):
    return text.replace("\r\n", "\n").split("\n\n")


def _decode(data, where, flag):
    if b"\x00" in data:
        raise UsageError(f"{flag} {where} looks binary (it holds NUL bytes); expected UTF-8 "
                         "text")
    return text_module.decode_utf8(data, f"{flag} {where}")


def _archive_documents(path, flag):
    try:
        with tarfile.open(path, "r:*") as archive:
            members = sorted((m for m in archive if m.isfile() and m.name.endswith(TEXT_SUFFIXES)),
                             key=lambda m: m.name)
            documents = [_decode(archive.extractfile(m).read(), f"{path}:{m.name}", flag)
                         for m in members]
    except (OSError, tarfile.TarError, EOFError) as error:
        raise UsageError(f"cannot read {flag} {path}: {error} (expected a .tar or .tar.gz of "
                         ".txt files)")
    if not documents:
        raise UsageError(f"{flag} {path} holds no .txt files (expected one document per file)")
    return documents
