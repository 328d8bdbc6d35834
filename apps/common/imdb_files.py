"""The aclImdb files (Maas et al. 2011), read from the archive or the extracted folder.

Shared by the sentiment app (the labelled reviews, and the movie of each) and
the language model (the 50,000 unlabelled reviews, and the test reviews it
must leave out). Each archive is parsed once per process.
"""

import re
import tarfile
from functools import lru_cache
from pathlib import Path

import numpy as np

from apps.common import data_mirror
from apps.common.errors import UsageError

ARCHIVES = ["aclImdb_v1_labeled.tar.gz", "aclImdb_v1.tar.gz"]
UNLABELLED_ARCHIVE = "aclImdb_v1_unsup.tar.gz"
FOLDER = "aclImdb"
SUBFOLDERS = ["imdb", "."]
_MEMBER = re.compile(r"(?:^|/)aclImdb/(train|test)/(pos|neg)/[^/]+\.txt$")
_URLS = re.compile(r"(?:^|/)aclImdb/train/urls_(pos|neg)\.txt$")
_UNSUP = re.compile(r"(?:^|/)aclImdb/train/(unsup)/[^/]+\.txt$")
_MOVIE = re.compile(r"/title/(tt\d+)/")

def find_imdb(root):
    """The archive or extracted `aclImdb/` folder under a `DataRoot`.

    Raises:
        UsageError: Naming the files expected and the folders searched.
    """
    for folder in SUBFOLDERS:
        base = root.path / folder
        for name in ARCHIVES:
            if (base / name).is_file():
                return base / name
        for candidate in (base / FOLDER, base):
            if (candidate / "train" / "pos").is_dir() and (candidate / "test" / "neg").is_dir():
                return candidate
    raise UsageError(data_mirror.missing_message(
        root, SUBFOLDERS, [[name] for name in ARCHIVES],
        wanted=f"{' or '.join(ARCHIVES)} or the extracted {FOLDER}/ folder "
               "(train/pos, train/neg, test/pos, test/neg)"))


@lru_cache(maxsize=4)
def read_imdb(path):
    """(train_texts, train_labels, test_texts, test_labels) from an aclImdb archive or folder.

    Parsed once per process (the archive streams through gzip in ~2 s);
    files are read in sorted order, so the result never depends on the
    archive's member order.
    """
    found, _ = _scan_imdb(path)
    result = []
    for split in ("train", "test"):
        neg, pos = found[split, "neg"], found[split, "pos"]
        if not neg or not pos:
            raise ValueError(f"no {split}/{'neg' if not neg else 'pos'} reviews inside")
        result.append([t for _, t in neg] + [t for _, t in pos])
        result.append(np.array([0] * len(neg) + [1] * len(pos), np.int64))
    return tuple(result)


@lru_cache(maxsize=4)
def read_movies(path):
    """The movie (IMDB title id) of each training review, in `read_imdb`'s order; None without urls.

    Review `train/pos/<id>_<rating>.txt` is about the movie on line <id> of
    `train/urls_pos.txt`.
    """
    found, urls = _scan_imdb(path)
    if set(urls) != {"neg", "pos"}:
        return None
    movies = []
    for label in ("neg", "pos"):
        for name, _ in found["train", label]:
            line = int(Path(name).name.split("_")[0])
            match = _MOVIE.search(urls[label][line]) if line < len(urls[label]) else None
            if match is None:
                raise ValueError(f"train/urls_{label}.txt names no movie (/title/tt...) on line "
                                 f"{line + 1}, for {Path(name).name}")
            movies.append(match.group(1))
    return tuple(movies)


@lru_cache(maxsize=4)
def _scan_imdb(path):
    """One pass over an aclImdb archive or folder: the reviews, sorted (member name, text) by
    (split, label), and the lines of `train/urls_{neg,pos}.txt` by label (absent if missing)."""
    found = {("train", "neg"): [], ("train", "pos"): [], ("test", "neg"): [],
             ("test", "pos"): []}
    urls = {}
    for groups, name, data in _imdb_files(path, _URLS, _MEMBER):
        if len(groups) == 1:
            urls[groups[0]] = data.decode("utf-8").splitlines()
        else:
            found[groups].append((name, data.decode("utf-8")))
    for reviews in found.values():
        reviews.sort()
    return found, urls


def _imdb_files(path, *patterns):
    """(match groups, member name, bytes) of every file of an aclImdb archive or folder that
    one of `patterns` matches (the first that does); member names as the archive spells them."""
    if Path(path).is_dir():
        files = ((f"{FOLDER}/{file.relative_to(path).as_posix()}", file)
                 for file in sorted(Path(path).rglob("*")) if file.is_file())
        for name, file in files:
            for pattern in patterns:
                match = pattern.search(name)
                if match:
                    yield match.groups(), str(file), file.read_bytes()
                    break
        return
    with tarfile.open(path, "r:*") as archive:
        for member in archive:
            if not member.isfile():
                continue
            for pattern in patterns:
                match = pattern.search(member.name)
                if match:
                    yield match.groups(), member.name, archive.extractfile(member).read()
                    break


def find_unlabelled(root):
    """The archive (or extracted folder) holding `aclImdb/train/unsup/*.txt` under a `DataRoot`.

    The mirror ships them as a separate archive; the original full aclImdb
    archive or folder holds them too.

    Raises:
        UsageError: Naming the files expected and the folders searched.
    """
    for folder in SUBFOLDERS:
        base = root.path / folder
        for name in [UNLABELLED_ARCHIVE, ARCHIVES[1]]:
            if (base / name).is_file():
                return base / name
        for candidate in (base / FOLDER, base):
            if (candidate / "train" / "unsup").is_dir():
                return candidate
    raise UsageError(data_mirror.missing_message(
        root, SUBFOLDERS, [[UNLABELLED_ARCHIVE]],
        wanted=f"{UNLABELLED_ARCHIVE} or an extracted {FOLDER}/train/unsup/ folder"))


@lru_cache(maxsize=2)
def read_unlabelled(path):
    """The unlabelled reviews of an aclImdb archive or folder, sorted by file name (a tuple).

    Raises:
        ValueError: If there are none.
    """
    found = sorted((name, data.decode("utf-8"))
                   for _, name, data in _imdb_files(path, _UNSUP))
    if not found:
        raise ValueError(f"no {FOLDER}/train/unsup/*.txt reviews inside")
    return tuple(text for _, text in found)


def unlabelled_reviews(root, with_train=False, flag="--dataset imdb-unsup"):
    """The IMDB unlabelled reviews (and the labelled training ones), without any test review.

    Maas et al.'s unlabelled reviews hold 270 texts that are also labelled
    test reviews: they are left out (exact text, whitespace stripped), so a
    model pretrained on them (or trained on them unlabelled) has never read a test review.

    Returns:
        (documents, description).
    """
    if root is None:
        raise UsageError(f"{flag} needs the IMDB reviews: pass --data-dir or set "
                         f"${data_mirror.ENV_VAR} to a folder holding imdb/"
                         f"{UNLABELLED_ARCHIVE}")
    path = find_unlabelled(root)
    try:
        documents = list(read_unlabelled(str(path.resolve())))
    except (OSError, tarfile.TarError, EOFError, UnicodeDecodeError, ValueError) as error:
        raise UsageError(f"cannot read the unlabelled IMDB reviews from {path}: {error}")
    description = f"IMDB unlabelled reviews from {path} ({root.origin})"
    try:
        labelled = find_imdb(root)
        x_train, _, x_test, _ = read_imdb(str(labelled.resolve()))
    except UsageError:
        if with_train:
            raise
        description += ("; the labelled archive was not found, so reviews that are also test "
                        "reviews could not be left out")
    else:
        test_texts = {text.strip() for text in x_test}
        kept = [text for text in documents if text.strip() not in test_texts]
        description += (f"; {len(documents) - len(kept):,} that are also labelled test reviews "
                        "left out")
        documents = kept
        if with_train:
            documents += list(x_train)
            description += f"; with the {len(x_train):,} labelled training reviews"
    return documents, description
