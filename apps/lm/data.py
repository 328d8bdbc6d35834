"""The documents a language model reads, and the windows it trains on.

Documents come from your own text (`--text`: a file, a folder or an archive
of .txt files), the IMDB unlabelled reviews of the data mirror
(`--dataset imdb-unsup`), or a small corpus generated here (the embedded
default, so that a fresh machine can train offline). Whatever the source,
the documents are split three ways with a fixed seed (`SPLIT_SEED`,
independent of `--seed`): training, validation (the best epoch) and test
(`evaluate`'s perplexity).

The token stream of a split is its documents' ids, each document preceded
by the end-of-document id and the last one followed by it: the model learns
how reviews start and when they end, and `generate` starts from that id.
Training cuts the training stream into windows of `window` tokens, each
predicting the next `window` tokens (truncated backpropagation through time).
"""

import dataclasses
import tarfile
from pathlib import Path

import numpy as np

from apps.common import data_mirror, imdb_files
from apps.common import text as text_module
from apps.common.errors import UsageError

SPLIT_SEED = 0
VALIDATION_FRACTION = 0.05
TEST_FRACTION = 0.05
MIN_DOCUMENTS = 3
TEXT_SUFFIXES = (".txt",)
ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz")


@dataclasses.dataclass
class Corpus:
    """Documents (raw strings) split three ways, and what they are."""

    name: str
    description: str
    train: list
    validation: list
    test: list

    def limited(self, limit):
        """At most `limit` documents of each split (0: all)."""
        if not limit:
            return self
        return dataclasses.replace(self, train=self.train[:limit],
                                   validation=self.validation[:limit], test=self.test[:limit],
                                   description=self.description + f"; at most {limit:,} "
                                   "documents per split (--limit)")


def load(config):
    """The corpus a config names, split; all bad input fails here with a one-line error."""
    if config.text:
        if config.dataset != "auto":
            raise UsageError(f"--text and --dataset {config.dataset} name two corpora; drop one")
        documents, description = read_documents(config.text)
        name = "text"
    else:
        dataset = config.dataset
        root = data_mirror.data_root(config.data_dir)
        if dataset == "auto":
            dataset = "imdb-unsup" if root is not None and _has_unlabelled(root) else "embedded"
        if dataset == "embedded":
            documents = generated_reviews()
            description = (f"the embedded corpus: {len(documents):,} generated short reviews "
                           "(no data folder with the IMDB reviews was given: pass --data-dir "
                           f"or set ${data_mirror.ENV_VAR} for real text)")
            name = "embedded"
        else:
            documents, description = imdb_reviews(root, with_train=dataset == "imdb-unsup+train")
            name = dataset
    return split(documents, name, description).limited(config.limit)


def _has_unlabelled(root):
    try:
        imdb_files.find_unlabelled(root)
    except UsageError:
        return False
    return True


def imdb_reviews(root, with_train=False):
    """The IMDB unlabelled reviews (and the labelled training ones), without any test review.

    Maas et al.'s unlabelled reviews hold 270 texts that are also labelled
    test reviews: they are left out (exact text, whitespace stripped), so a
    sentiment model initialised from this LM has never read a test review.

    Returns:
        (documents, description).
    """
    if root is None:
        raise UsageError("--dataset imdb-unsup needs the IMDB reviews: pass --data-dir or set "
                         f"${data_mirror.ENV_VAR} to a folder holding imdb/"
                         f"{imdb_files.UNLABELLED_ARCHIVE}")
    path = imdb_files.find_unlabelled(root)
    try:
        documents = list(imdb_files.read_unlabelled(str(path.resolve())))
    except (OSError, tarfile.TarError, EOFError, UnicodeDecodeError, ValueError) as error:
        raise UsageError(f"cannot read the unlabelled IMDB reviews from {path}: {error}")
    description = f"IMDB unlabelled reviews from {path} ({root.origin})"
    try:
        labelled = imdb_files.find_imdb(root)
        x_train, _, x_test, _ = imdb_files.read_imdb(str(labelled.resolve()))
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


def read_documents(path):
    """The documents of `--text PATH`: a file, a folder of .txt files, or a tar of them.

    Returns:
        (documents, description).

    Raises:
        UsageError: A missing path, no text at all, a binary or non-UTF-8 file.
    """
    path = Path(path)
    if not path.exists():
        raise UsageError(f"--text {path} does not exist (expected a UTF-8 text file, a folder "
                         "of .txt files or a .tar.gz of them)")
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in TEXT_SUFFIXES)
        if not files:
            raise UsageError(f"--text {path} holds no .txt files (expected one document per "
                             "file)")
        documents = [_decode(p.read_bytes(), p) for p in files]
        what = f"{len(files):,} .txt files in {path}"
    elif path.name.endswith(ARCHIVE_SUFFIXES):
        documents = _archive_documents(path)
        what = f"{len(documents):,} .txt files in {path}"
    else:
        text = _decode(path.read_bytes(), path)
        documents = [p for p in _paragraphs(text) if p.strip()]
        if len(documents) < MIN_DOCUMENTS:
            documents = [line for line in text_module.split_lines(text) if line.strip()]
        what = f"{path} ({len(documents):,} paragraphs or lines)"
    documents = [d for d in documents if d.strip()]
    if not documents:
        raise UsageError(f"--text {path} has no text (only empty or blank documents)")
    if len(documents) < MIN_DOCUMENTS:
        raise UsageError(f"--text {path} has {len(documents)} document(s); at least "
                         f"{MIN_DOCUMENTS} are needed to carve training, validation and test "
                         "splits (separate paragraphs with a blank line)")
    return documents, f"your text: {what}"


def _paragraphs(text):
    return text.replace("\r\n", "\n").split("\n\n")


def _decode(data, where):
    if b"\x00" in data:
        raise UsageError(f"--text {where} looks binary (it holds NUL bytes); expected UTF-8 "
                         "text")
    return text_module.decode_utf8(data, f"--text {where}")


def _archive_documents(path):
    try:
        with tarfile.open(path, "r:*") as archive:
            members = sorted((m for m in archive if m.isfile() and m.name.endswith(TEXT_SUFFIXES)),
                             key=lambda m: m.name)
            documents = [_decode(archive.extractfile(m).read(), f"{path}:{m.name}")
                         for m in members]
    except (OSError, tarfile.TarError, EOFError) as error:
        raise UsageError(f"cannot read --text {path}: {error} (expected a .tar or .tar.gz of "
                         ".txt files)")
    if not documents:
        raise UsageError(f"--text {path} holds no .txt files (expected one document per file)")
    return documents


def split(documents, name, description):
    """Shuffle with the fixed seed and carve validation and test (at least one document each)."""
    order = np.random.default_rng(SPLIT_SEED).permutation(len(documents))
    n_val = max(1, int(round(len(documents) * VALIDATION_FRACTION)))
    n_test = max(1, int(round(len(documents) * TEST_FRACTION)))
    pick = lambda indices: [documents[i] for i in indices]  # noqa: E731
    return Corpus(name, description, pick(order[n_val + n_test:]), pick(order[:n_val]),
                  pick(order[n_val:n_val + n_test]))


# ----------------------------------------------------------------- the embedded corpus

_SUBJECTS = ["the movie", "this film", "the acting", "the story", "the plot", "the music",
             "the ending", "the cast", "the director", "the script"]
_GOOD = ["great", "wonderful", "brilliant", "moving", "funny", "beautiful", "clever"]
_BAD = ["awful", "boring", "terrible", "dull", "silly", "predictable", "weak"]
_LINKS = ["was", "is", "felt", "seemed"]
_ADVERBS = ["", "", "really ", "very ", "quite ", "truly "]
_CLOSINGS = {True: ["i loved it", "watch it", "a must see", "i would see it again"],
             False: ["i hated it", "skip it", "a waste of time", "never again"]}


def generated_reviews(count=3000, seed=0):
    """Short reviews from a small grammar: a corpus a tiny model learns in seconds.

    Each review keeps one opinion throughout ("the acting was very dull .
    skip it"), so a model that predicts well has learned agreement across
    sentences, not only word pairs.
    """
    rng = np.random.default_rng(seed)
    reviews = []
    for _ in range(count):
        good = bool(rng.integers(2))
        words = _GOOD if good else _BAD
        sentences = []
        for _ in range(int(rng.integers(1, 4))):
            sentences.append(f"{rng.choice(_SUBJECTS)} {rng.choice(_LINKS)} "
                             f"{rng.choice(_ADVERBS)}{rng.choice(words)} .")
        sentences.append(f"{rng.choice(_CLOSINGS[good])} .")
        reviews.append(" ".join(sentences))
    return reviews


# ----------------------------------------------------------------- token streams and windows

def stream(documents, vocabulary):
    """The ids of `documents` as one stream: [EOD] doc1 [EOD] doc2 ... [EOD] (int32)."""
    from apps.common import tokens

    eod = np.array([tokens.EOD_ID], np.int32)
    pieces = [eod]
    for ids in vocabulary.encode(documents):
        pieces += [ids, eod]
    return np.concatenate(pieces).astype(np.int32)


def windows(ids, window):
    """(inputs, targets) int32 arrays [N, window]: non-overlapping windows of the stream.

    The last tokens that do not fill a window are left out of training.

    Raises:
        UsageError: If the stream is shorter than one window.
    """
    count = (len(ids) - 1) // window
    if count < 1:
        raise UsageError(f"the training text has {len(ids):,} tokens, fewer than one window of "
                         f"{window} (+1); use a smaller --window or more text")
    used = count * window
    return (ids[:used].reshape(count, window), ids[1:used + 1].reshape(count, window))


def pipeline(ids, window, batch_size, shuffle=False, seed=0):
    """A tf.data pipeline of (inputs [B, window], targets [B, window]) from a token stream."""
    import tensorflow as tf

    inputs, targets = windows(ids, window)
    dataset = tf.data.Dataset.from_tensor_slices((inputs, targets))
    if shuffle:
        dataset = dataset.shuffle(len(inputs), seed=seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)
