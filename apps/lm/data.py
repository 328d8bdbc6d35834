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

import numpy as np

from apps.common import data_mirror, imdb_files
from apps.common import documents as documents_module
from apps.common.errors import UsageError

SPLIT_SEED = 0
VALIDATION_FRACTION = 0.05
TEST_FRACTION = 0.05
MIN_DOCUMENTS = 3  # one each for training, validation and test


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
        documents, description = documents_module.read_documents(config.text, MIN_DOCUMENTS)
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
            documents, description = imdb_files.unlabelled_reviews(
                root, with_train=dataset == "imdb-unsup+train", flag=f"--dataset {dataset}")
            name = dataset
    return split(documents, name, description).limited(config.limit)


def _has_unlabelled(root):
    try:
        imdb_files.find_unlabelled(root)
    except UsageError:
        return False
    return True


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
