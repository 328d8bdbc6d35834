"""Reviews from the aclImdb archive or folder, tensorflow-datasets, or a CSV of your own.

Whatever the source, the result is the same: lists of raw review strings
and 0/1 labels, split into train / validation / test. The model does its
own text preprocessing, so these strings are also what `predict` feeds it.

IMDB keeps its official 25k/25k train/test split; the validation split is
carved from train with a fixed seed (`SPLIT_SEED`, independent of `--seed`,
so every run and `evaluate` see the same splits): at random, or by movie
(`--validation-split movie`: no movie has reviews on both sides, as between
IMDB's own train and test halves, whose movies are disjoint; the archive's
urls files name each review's movie). A CSV has no official
split: test and validation are carved from it, also with the fixed seed.
"""

import csv
import io
import logging
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from apps.common import data_mirror, data_source
from apps.common.imdb_files import ARCHIVES, FOLDER, find_imdb, read_imdb, read_movies
from apps.common import text as text_module
from apps.common.errors import UsageError
from apps.common.splits import LabelledSplits
from apps.sentiment.config import VALIDATION_SPLITS

UNLABELLED_IMDB = "imdb-unsup"

SPLIT_SEED = 0
VALIDATION_FRACTION = 0.1
CSV_TEST_FRACTION = 0.2
CLASS_NAMES = ("negative", "positive")
# Two-valued label columns whose order is known (label 0 first), compared lower-cased.
KNOWN_LABELS = [("0", "1"), ("neg", "pos"), ("negative", "positive"), ("false", "true"),
                ("no", "yes"), ("-1", "1"), ("bad", "good")]


@dataclass
class Reviews(LabelledSplits):
    """Review texts and 0/1 labels split three ways, and what they are (name: "imdb" or "csv")."""

    class_names: tuple = CLASS_NAMES
    x_unlabelled: tuple = ()  # reviews without labels (virtual adversarial training)


def load(source="auto", data_dir=None, limit=0, csv_path=None, text_col="text",
         label_col="label", validation_split="random"):
    """Load the reviews the settings ask for.

    `validation_split` is "random" or "movie" (aclImdb files only: whole
    movies are held out, so validation scores what test will).

    Raises:
        UsageError: If the requested source is not available or malformed,
            saying what was expected where.
    """
    if csv_path and source in ("files", "tfds"):
        raise UsageError(f"--csv and --source {source} name two different datasets; drop one "
                         "(--source csv or auto reads the CSV)")
    if validation_split not in VALIDATION_SPLITS:
        raise UsageError(f"--validation-split must be one of {', '.join(VALIDATION_SPLITS)}; "
                         f"got {validation_split!r}")
    if validation_split == "movie" and (source in ("csv", "tfds") or csv_path):
        raise UsageError("--validation-split movie needs the aclImdb archive or folder (its "
                         "urls files name each review's movie); a CSV and tensorflow-datasets "
                         "do not say which movie a review is about: use --validation-split "
                         "random")
    if source == "csv" or (source == "auto" and csv_path):
        if not csv_path:
            raise UsageError("--source csv needs --csv FILE (a CSV with a header row)")
        data = from_csv(csv_path, text_col, label_col)
    elif source == "tfds":
        data = _from_tfds(require=True)
    else:
        data = data_source.local_files_or(data_dir, source,
                                          lambda root: _from_files(root, validation_split),
                                          f"{ARCHIVES[0]} or the extracted {FOLDER}/ folder",
                                          otherwise=lambda: _tfds_or_error(validation_split))
    return data.limited(limit)


def _tfds_or_error(validation_split="random"):
    """No folder named: tfds `imdb_reviews` if prepared here; else say every way to give reviews."""
    data = _from_tfds(require=False)
    if data is not None and validation_split == "movie":
        raise UsageError("--validation-split movie needs the aclImdb archive or folder: pass "
                         f"--data-dir or set ${data_mirror.ENV_VAR} (tensorflow-datasets' "
                         "imdb_reviews does not say which movie a review is about)")
    if data is None:
        raise UsageError(
            f"no IMDB reviews found: pass --data-dir or set ${data_mirror.ENV_VAR} to a "
            f"folder holding imdb/{ARCHIVES[0]} (or the extracted {FOLDER}/ folder), "
            "prepare tfds 'imdb_reviews', or train on your own with --csv FILE")
    return data


# ----------------------------------------------------------------- aclImdb files

def _from_files(root, validation_split="random"):
    path = find_imdb(root)
    # The parses are cached by path: an absolute one, so that another folder's
    # `data/aclImdb_v1.tar.gz` (a relative --data-dir, another cwd) is not taken for it.
    key = str(path.resolve())
    try:
        splits = read_imdb(key)
        movies = read_movies(key) if validation_split == "movie" else None
    except (OSError, tarfile.TarError, EOFError, UnicodeDecodeError, ValueError) as error:
        raise UsageError(f"cannot read IMDB reviews from {path}: {error} (expected the "
                         f"aclImdb archive or folder: {FOLDER}/{{train,test}}/{{pos,neg}}/*.txt)")
    if validation_split == "movie" and movies is None:
        raise UsageError(f"--validation-split movie: {path} has no {FOLDER}/train/urls_pos.txt "
                         "and urls_neg.txt, which name each review's movie (the original "
                         "aclImdb archive has them); use --validation-split random")
    return _imdb(*splits, description=f"IMDB (aclImdb) from {path} ({root.origin})",
                 train_movies=movies)


def _imdb(x_train, y_train, x_test, y_test, description, train_movies=None):
    """Shuffle with the fixed seed and carve validation from train: at random, or whole movies
    (`train_movies` given) until a tenth of the reviews. The test order is the same either way
    (so `evaluate --limit N` scores the same N reviews)."""
    rng = np.random.default_rng(SPLIT_SEED)
    order = rng.permutation(len(x_train))
    test = rng.permutation(len(x_test))
    n_val = int(round(len(x_train) * VALIDATION_FRACTION))
    if train_movies is None:
        val, train = order[:n_val], order[n_val:]
    else:
        movie_rng = np.random.default_rng(SPLIT_SEED)
        movies = np.asarray(train_movies)
        names, counts = np.unique(movies, return_counts=True)
        shuffled = movie_rng.permutation(len(names))
        taken = np.searchsorted(np.cumsum(counts[shuffled]), n_val) + 1
        in_val = np.isin(movies, names[shuffled[:taken]])
        val = movie_rng.permutation(np.flatnonzero(in_val))
        train = movie_rng.permutation(np.flatnonzero(~in_val))
        description += (f"; validation: {taken:,} whole movies held out "
                        f"({len(val):,} reviews), none of them in train")
    return Reviews("imdb", description,
                   [x_train[i] for i in train], y_train[train],
                   [x_train[i] for i in val], y_train[val],
                   [x_test[i] for i in test], y_test[test])


# ----------------------------------------------------------------- tensorflow-datasets

def _from_tfds(require):
    """IMDB through tensorflow-datasets, only if `imdb_reviews` is already prepared locally.

    Nothing is downloaded. With `require=False` any failure returns None
    quietly (tfds logs through absl, which is silenced meanwhile).
    """
    absl_logger = logging.getLogger("absl")
    previous_level = absl_logger.level
    absl_logger.setLevel(logging.ERROR)
    try:
        import tensorflow_datasets as tfds

        builder = tfds.builder("imdb_reviews")
        if not builder.is_prepared():
            if require:
                raise UsageError(f"--source tfds: tfds 'imdb_reviews' is not prepared in "
                                 f"{builder.data_dir} (this app never downloads; use --data-dir)")
            return None
        train, test = tfds.as_numpy(builder.as_dataset(
            split=["train", "test"], batch_size=-1, as_supervised=True))
        return _imdb([t.decode("utf-8") for t in train[0]], np.asarray(train[1], np.int64),
                     [t.decode("utf-8") for t in test[0]], np.asarray(test[1], np.int64),
                     description=f"IMDB from tensorflow-datasets ({builder.data_dir})")
    except UsageError:
        raise
    except Exception as error:  # noqa: BLE001 - any tfds failure means "try the next source"
        if require:
            raise UsageError(f"--source tfds: loading tfds 'imdb_reviews' failed ({error})") \
                from None
        return None
    finally:
        absl_logger.setLevel(previous_level)


# ----------------------------------------------------------------- CSV

def from_csv(path, text_col="text", label_col="label"):
    """Reviews from a CSV with a header row, a text column and a two-class label column.

    Rows with an empty text are skipped (and counted in the description).

    Raises:
        UsageError: Missing file or columns, bad UTF-8, not exactly two label
            values, or too few rows to split.
    """
    texts, raw_labels, skipped = _read_csv(Path(path), text_col, label_col)
    labels, class_names = _two_classes(raw_labels, path, label_col)
    if len(texts) < 10:
        raise UsageError(f"--csv {path} has {len(texts)} usable rows; need at least 10 to carve "
                         "train, validation and test splits")
    rng = np.random.default_rng(SPLIT_SEED)
    order = rng.permutation(len(texts))
    n_test = max(1, int(round(len(order) * CSV_TEST_FRACTION)))
    n_val = max(1, int(round((len(order) - n_test) * VALIDATION_FRACTION)))
    test, val, train = np.split(order, [n_test, n_test + n_val])
    labels = np.asarray(labels, np.int64)
    note = f", {skipped} rows with empty text skipped" if skipped else ""
    description = (f"CSV {path} ({len(texts):,} reviews: {len(train):,} train, {len(val):,} "
                   f"validation, {len(test):,} test; classes {class_names[0]}=0, "
                   f"{class_names[1]}=1{note})")
    return Reviews("csv", description,
                   [texts[i] for i in train], labels[train],
                   [texts[i] for i in val], labels[val],
                   [texts[i] for i in test], labels[test], class_names)


def read_test_csv(path, text_col="text", label_col="label"):
    """Every row of a CSV, for `evaluate --csv`: (texts, raw label values, rows skipped).

    The same reader as training's (`from_csv`); the labels are mapped onto a
    model's classes by `reviews_from_test_csv`, once the model is loaded.

    Raises:
        UsageError: Missing file or columns, bad UTF-8, an empty label, or no
            row with a text.
    """
    texts, labels, skipped = _read_csv(Path(path), text_col, label_col)
    if not texts:
        raise UsageError(f"--csv {path} has no reviews (expected a header row with columns "
                         f"{text_col!r} and {label_col!r}, then one row per review)")
    return texts, labels, skipped


def reviews_from_test_csv(path, texts, raw_labels, skipped, class_names, label_col="label",
                          limit=0):
    """The whole CSV read by `read_test_csv` as the test split (no train or validation).

    Args:
        class_names: The model's (label 0, label 1).
        limit: Keep the first this many rows (0: all).

    Raises:
        UsageError: Label values that are not the model's classes (`labels_onto`).
    """
    labels = labels_onto(raw_labels, class_names, path, label_col)
    if limit:
        texts, labels = texts[:limit], labels[:limit]
    counts = np.bincount(labels, minlength=2)
    note = f", {skipped} rows with empty text skipped" if skipped else ""
    kept = (f" (--limit {limit} of {len(raw_labels):,})" if len(texts) < len(raw_labels)
            else "")
    description = (f"CSV {path} as the test set: {len(texts):,} reviews{kept}, "
                   f"{counts[0]:,} {class_names[0]} and {counts[1]:,} {class_names[1]}{note}")
    empty = np.zeros((0,), np.int64)
    return Reviews("csv", description, [], empty, [], empty, list(texts), labels,
                   tuple(class_names))


def labels_onto(raw_labels, class_names, path, label_col="label"):
    """A test CSV's label values as 0/1 labels of a model whose classes are `class_names`.

    A value names a class (case aside). When the classes are one of the pairs
    whose order is known (`KNOWN_LABELS`: negative/positive, neg/pos, 0/1,
    ...), any one of those pairs may spell them instead, in its order: a model
    trained on IMDB reads a CSV labelled 0/1 or neg/pos. One class alone is
    fine (a test set of positive reviews).

    Raises:
        UsageError: Naming the values found and the classes expected.
    """
    names = [str(n) for n in class_names]
    values = sorted(set(raw_labels))
    by_name = {n.lower(): i for i, n in enumerate(names)}
    index = None
    if all(v.lower() in by_name for v in values):
        index = {v: by_name[v.lower()] for v in values}
    polar = tuple(n.lower() for n in names) in KNOWN_LABELS
    if index is None and polar:
        for known in KNOWN_LABELS:
            if all(v.lower() in known for v in values):
                index = {v: known.index(v.lower()) for v in values}
                break
    if index is None:
        shown = ", ".join(repr(v) for v in values[:6]) + (", ..." if len(values) > 6 else "")
        spellings = (" (or one of the pairs " + ", ".join("/".join(k) for k in KNOWN_LABELS)
                     + ")" if polar else "")
        raise UsageError(f"--csv {path}: column {label_col!r} holds {shown}, not the run's "
                         f"classes {names[0]!r} and {names[1]!r}{spellings}")
    return np.array([index[v] for v in raw_labels], np.int64)


def _read_csv(path, text_col, label_col):
    if not path.is_file():
        raise UsageError(f"--csv {path} does not exist (expected a CSV file with a header row "
                         f"holding columns {text_col!r} and {label_col!r})")
    text = text_module.read_text(path, "--csv")
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        header = reader.fieldnames or []
        missing = [c for c in (text_col, label_col) if c not in header]
        if missing:
            shown = ", ".join(repr(h) for h in header[:10]) or "none (the file is empty)"
            raise UsageError(
                f"--csv {path} has no column {' or '.join(repr(m) for m in missing)} "
                f"(its columns: {shown}); name them with --text-col and --label-col")
        texts, labels, skipped = [], [], 0
        for row in reader:
            review = (row.get(text_col) or "").strip()
            label = (row.get(label_col) or "").strip()
            if not review:
                skipped += 1
                continue
            if not label:
                raise UsageError(f"--csv {path}: line {reader.line_num} has an empty "
                                 f"{label_col!r} label")
            texts.append(review)
            labels.append(label)
    except csv.Error as error:
        raise UsageError(f"--csv {path} is not a valid CSV file ({error})") from None
    return texts, labels, skipped


def _two_classes(raw_labels, path, label_col):
    """Map a label column with exactly two values to 0/1; returns (labels, class_names)."""
    values = sorted(set(raw_labels))
    if len(values) != 2:
        shown = ", ".join(repr(v) for v in values[:6]) + (", ..." if len(values) > 6 else "")
        raise UsageError(f"--csv {path}: column {label_col!r} must hold exactly two classes, "
                         f"found {len(values)}: {shown or 'none'}")
    lowered = tuple(sorted(v.lower() for v in values))
    order = values
    for known in KNOWN_LABELS:
        if lowered == tuple(sorted(known)):
            by_lower = {v.lower(): v for v in values}
            order = [by_lower[known[0]], by_lower[known[1]]]
            break
    index = {value: i for i, value in enumerate(order)}
    names = tuple(order)
    if lowered in (("0", "1"), ("-1", "1")):
        names = CLASS_NAMES
    return [index[v] for v in raw_labels], names


# ----------------------------------------------------------------- vocabulary and pipelines

def build_vocabulary(texts, vocab_size):
    """The `vocab_size` most frequent words of `texts` (with "" and "[UNK]" first)."""
    vectorizer = text_module.make_vectorizer(vocab_size)
    text_module.adapt(vectorizer, texts)
    return vectorizer.get_vocabulary()


def word_counts(texts):
    """A cheap length per text (whitespace words), for bucketing."""
    return np.array([len(t.split()) for t in texts], np.int64)


SORT_CHUNK_BATCHES = 20


def pipeline(texts, labels, batch_size, max_length, shuffle=False, seed=0):
    """A tf.data pipeline of (string reviews [B], float labels [B, 1]).

    Reviews of similar length are batched together, because the model pads a
    batch only to its longest review: a batch of short reviews costs few
    recurrent steps. The reviews are (re)shuffled every epoch, cut into chunks
    of `SORT_CHUNK_BATCHES` batches, sorted by length within each chunk and
    batched; the batches then come out in random order. Without `shuffle`,
    the same happens in the given order. The number of batches is always
    ceil(N / batch_size), so Keras knows the epoch's length.
    """
    import tensorflow as tf

    count = len(texts)
    lengths = np.minimum(word_counts(texts), max_length).astype(np.int32)
    labels = np.asarray(labels, np.float32).reshape(-1, 1)
    dataset = tf.data.Dataset.from_tensor_slices((list(texts), labels, lengths))
    if shuffle:
        dataset = dataset.shuffle(count, seed=seed, reshuffle_each_iteration=True)

    def sort_chunk(text, label, length):
        order = tf.argsort(length, stable=True)
        return tf.gather(text, order), tf.gather(label, order)

    dataset = (dataset.batch(batch_size * SORT_CHUNK_BATCHES).map(sort_chunk).unbatch()
               .batch(batch_size))
    if shuffle:
        dataset = dataset.shuffle(2 * SORT_CHUNK_BATCHES, seed=seed + 1,
                                  reshuffle_each_iteration=True)
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(-(-count // batch_size)))
    return dataset.prefetch(tf.data.AUTOTUNE)


def with_unlabelled(train_data, unlabelled, batch_size, max_length, seed=0):
    """`train_data` of ((reviews, unlabelled reviews), labels): virtual adversarial training's.

    The unlabelled reviews are batched as `pipeline` batches (shuffled, by
    length) and cycled, as many batches as the labelled ones give, so an
    epoch is still one pass over the labelled reviews.
    """
    import tensorflow as tf

    others = (pipeline(unlabelled, np.zeros(len(unlabelled)), batch_size, max_length,
                       shuffle=True, seed=seed + 2)
              .map(lambda texts, _: texts).repeat())
    zipped = tf.data.Dataset.zip((train_data, others)).map(
        lambda labelled, texts: ((labelled[0], texts), labelled[1]))
    return zipped.apply(tf.data.experimental.assert_cardinality(train_data.cardinality()))


def predict_probabilities(model, texts, batch_size, max_length):
    """P(label 1) for each text, in the given order (batched by length internally)."""
    import tensorflow as tf

    texts = list(texts)
    if not texts:
        return np.zeros((0,), np.float32)
    order = np.argsort(np.minimum(word_counts(texts), max_length), kind="stable")
    result = np.empty(len(texts), np.float32)
    for start in range(0, len(texts), batch_size):
        chunk = order[start:start + batch_size]
        # predict_on_batch runs the compiled predict function: an eager call would
        # run the recurrent loop step by step in Python, many times slower.
        output = model.predict_on_batch(tf.constant([texts[i] for i in chunk]))
        result[chunk] = np.asarray(output).reshape(-1)
    return result


def load_unlabelled(unlabelled, data_dir, limit=0):
    """The reviews `--unlabelled` names: imdb-unsup, or a file, folder or archive of text.

    Returns:
        (a tuple of texts, a description).

    Raises:
        UsageError: If they cannot be found or read, naming the flag.
    """
    from apps.common import documents, imdb_files

    if unlabelled == UNLABELLED_IMDB:
        texts, description = imdb_files.unlabelled_reviews(
            data_mirror.data_root(data_dir), flag=f"--unlabelled {UNLABELLED_IMDB}")
    else:
        texts, description = documents.read_documents(unlabelled, flag="--unlabelled")
    if limit:
        texts = texts[:limit]
        description += f"; the first {len(texts):,} (--limit)"
    return tuple(texts), description
