"""Sentence pairs for translation: Anki/Tatoeba pairs, Multi30k, tfds TED, or a generated task.

Whatever the source, the result is a `Corpus`: raw (untokenised, Unicode
NFKC-normalised) source and target sentences for train / validation / test.
Anki files have no official split; one is drawn with a fixed seed
(`SPLIT_SEED`, not `--seed`), so `evaluate` sees the same test split as
`train`. It is drawn by sentence, not by pair: pairs that share a sentence on
either side stay in one split (`split_by_sentence`). Multi30k uses its own
train / val / test_2016_flickr. `pipeline` makes the tf.data input of training
from the pairs, bucketed by length.
"""

import gzip
import logging
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from apps.common import data_mirror, data_source
from apps.common import text as common_text
from apps.common.errors import UsageError
from apps.translation import text

SPLIT_SEED = 0
ANKI_VALIDATION_FRACTION = 0.05
ANKI_TEST_FRACTION = 0.05
ANKI_TUTORIAL_URL = "http://storage.googleapis.com/download.tensorflow.org/data/spa-eng.zip"
MULTI30K_SPLITS = {"train": "train", "validation": "val", "test": "test_2016_flickr"}
TED_NAME = "ted_hrlr_translate/pt_to_en"
# ISO 639-1/639-3 spellings people use, to one code each.
LANGUAGES = {"en": "eng", "eng": "eng", "english": "eng",
             "es": "spa", "spa": "spa", "spanish": "spa",
             "de": "deu", "deu": "deu", "ger": "deu", "german": "deu",
             "pt": "por", "por": "por", "portuguese": "por",
             "fr": "fra", "fra": "fra", "fre": "fra", "french": "fra",
             "it": "ita", "ita": "ita", "italian": "ita",
             "src": "src", "tgt": "tgt"}
MULTI30K_CODES = {"eng": "en", "deu": "de", "fra": "fr"}


@dataclass
class Corpus:
    """Sentence pairs split three ways, and where they came from."""

    name: str
    description: str
    source_lang: str
    target_lang: str
    train: tuple  # (sources, targets): two lists of str
    validation: tuple
    test: tuple

    def limited(self, limit):
        """At most `limit` pairs of each split (all if `limit` is 0)."""
        if not limit:
            return self
        cut = lambda pairs: (pairs[0][:limit], pairs[1][:limit])  # noqa: E731
        return Corpus(self.name, self.description, self.source_lang, self.target_lang,
                      cut(self.train), cut(self.validation), cut(self.test))


def language(code, flag):
    """`--source-lang es` -> "spa"; unknown spellings are kept as given (lower case)."""
    code = str(code).strip().lower()
    if not code:
        raise UsageError(f"{flag} needs a language code, e.g. spa, eng, deu, por")
    return LANGUAGES.get(code, code)


normalize = text.normalize

def load(config, data_dir=None):
    """The corpus `config` asks for (dataset, pairs, languages, limit, skip_bad_lines).

    Raises:
        UsageError: Saying which files were expected where, or which line of a
            pairs file is malformed.
    """
    source, target = language(config.source_lang, "--source-lang"), language(
        config.target_lang, "--target-lang")
    if source == target and config.dataset != "generated":
        raise UsageError(f"--source-lang and --target-lang are both {source}; "
                         "translate between two languages")
    dataset = config.dataset
    if config.pairs:
        if dataset not in ("auto", "anki"):
            raise UsageError(f"--pairs is a tab-separated pairs file (the anki format); it "
                             f"cannot be combined with --dataset {dataset}")
        corpus = _anki_from_file(Path(config.pairs), source, target, config.skip_bad_lines,
                                 origin="--pairs")
        return corpus.limited(config.limit)
    if dataset == "auto":
        dataset = _dataset_for(source, target)
    if dataset == "generated":
        corpus = generated()
    elif dataset == "multi30k":
        corpus = _multi30k(source, target, data_dir)
    elif dataset == "ted":
        corpus = _ted(source, target)
    else:
        corpus = _anki(source, target, data_dir, config.skip_bad_lines)
    return corpus.limited(config.limit)


def _dataset_for(source, target):
    pair = {source, target}
    if pair == {"deu", "eng"}:
        return "multi30k"
    if pair == {"por", "eng"}:
        return "ted"
    if "eng" in pair:
        return "anki"
    raise UsageError(f"no dataset for {source}->{target}: the built-in ones are Anki pairs "
                     "(English and another language), Multi30k (deu/eng) and TED (por/eng); "
                     "pass --pairs FILE for another pair")


# --- Anki / Tatoeba ---------------------------------------------------------------

def _anki(source, target, data_dir, skip_bad_lines):
    if "eng" not in (source, target):
        raise UsageError(f"Anki pairs are English and another language; got {source}->{target}")
    other = target if source == "eng" else source
    root = data_mirror.data_root(data_dir)
    folder = f"{other}-eng"
    if root is not None:
        subfolders = [f"translation/anki/{folder}", f"anki/{folder}", folder, "."]
        _, paths = data_mirror.find_files(
            root, subfolders, [[f"{other}.txt.gz"], [f"{other}.txt"]],
            wanted=f"the Anki pairs file {other}.txt(.gz) (English<TAB>Other per line)")
        return _anki_from_file(paths[0], source, target, skip_bad_lines,
                               origin=root.origin)
    path = _anki_download(other)
    if path is None:
        raise UsageError(
            f"no {other}-eng pairs here: pass --data-dir or set ${data_mirror.ENV_VAR} to the "
            f"data mirror (expected translation/anki/{folder}/{other}.txt.gz there), or "
            "--pairs FILE; the TensorFlow tutorial's download needs a network")
    return _anki_from_file(path, source, target, skip_bad_lines, origin="download")


def _anki_download(other):
    """The TensorFlow tutorial's spa-eng file, downloaded once into the Keras cache; or None."""
    if other != "spa" or not data_source.download_possible():
        return None
    try:
        import keras

        folder = Path(keras.utils.get_file("spa-eng.zip", origin=ANKI_TUTORIAL_URL,
                                           extract=True))
        found = sorted(folder.parent.rglob("spa.txt")) + sorted(folder.rglob("spa.txt"))
        return found[0] if found else None
    except Exception:  # noqa: BLE001 - no download means "not available", said by the caller
        return None


def read_pairs(path, skip_bad_lines=False):
    """(english, other) lists from an Anki file; reports the first malformed line.

    A line must have at least two tab-separated, non-empty columns (a third,
    the attribution, is ignored). Blank lines are skipped.

    Returns:
        `(english, other, skipped)`: two lists of str and the number of
        malformed lines skipped.
    """
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"pairs file {path} does not exist (expected a text file of "
                         "English<TAB>Other lines, gzipped or not)")
    opener = gzip.open if path.suffix == ".gz" else open
    english, other, skipped = [], [], 0
    try:
        with opener(path, "rt", encoding="utf-8-sig") as handle:
            for number, line in enumerate(handle, 1):
                line = line.rstrip("\r\n")
                if not line.strip():
                    continue
                columns = line.split("\t")
                if len(columns) < 2 or not columns[0].strip() or not columns[1].strip():
                    if skip_bad_lines:
                        skipped += 1
                        continue
                    shown = line if len(line) <= 60 else line[:57] + "..."
                    raise UsageError(
                        f"pairs file {path}, line {number}: expected English<TAB>Other"
                        f"[<TAB>attribution], got {shown!r} (use --skip-bad-lines to skip "
                        "such lines)")
                english.append(normalize(columns[0]))
                other.append(normalize(columns[1]))
    except UnicodeDecodeError as error:
        raise UsageError(f"pairs file {path} is not valid UTF-8 ({error.reason}); save it as "
                         "UTF-8") from None
    except (OSError, EOFError, zlib.error) as error:  # zlib.error: a damaged .gz
        raise UsageError(f"cannot read pairs file {path}: {error}") from None
    if not english:
        raise UsageError(f"pairs file {path} holds no pairs (expected English<TAB>Other lines)")
    return english, other, skipped


def _anki_from_file(path, source, target, skip_bad_lines, origin):
    english, other, skipped = read_pairs(path, skip_bad_lines)
    if skipped:
        print(f"warning: skipped {skipped:,} malformed line(s) of {path}", flush=True)
    if source == "eng":
        sources, targets = english, other
    else:
        sources, targets = other, english
    train, validation, test = split_by_sentence(english, other, what=f"pairs file {path}")
    pick = lambda idx: ([sources[i] for i in idx], [targets[i] for i in idx])  # noqa: E731
    description = (f"Anki pairs {path} ({origin}), {source}->{target}: {len(train):,} train / "
                   f"{len(validation):,} validation / {len(test):,} test (split by sentence, "
                   f"seed {SPLIT_SEED}){f', {skipped} bad lines skipped' if skipped else ''}")
    return Corpus("anki", description, source, target, pick(train), pick(validation),
                  pick(test))


def _sentence_key(sentence):
    """What counts as "the same sentence": NFKC, single spaces (done by `read_pairs`), any case.

    Case is folded because the model lower-cases everything: "Go." and "go."
    are one sentence to it.
    """
    return sentence.casefold()


def sentence_groups(english, other):
    """Pair indices grouped so that pairs sharing a sentence, on either side, share a group.

    The groups are the connected components of the graph whose nodes are the
    pairs and whose edges join two pairs with the same English or the same
    other-language sentence (union-find). Anki files repeat both sides: one
    English sentence with several Spanish translations ("Go." / "Ve.",
    "Vete.", "Vaya."), and one Spanish sentence translating several English
    ones. Grouping by one side only would still let the other side's
    sentence sit in train and test (as a source in one, a target in the
    other); grouping by both is the rule that leaves no sentence of either
    side in two splits, whichever way the run translates.

    Returns:
        A list of lists of pair indices (ascending), ordered by their first index.
    """
    if len(english) != len(other):
        raise ValueError(f"{len(english)} English sentences but {len(other)} others")
    parent = list(range(len(english)))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]  # path halving
            i = parent[i]
        return i

    for side in (english, other):
        first = {}
        for index, sentence in enumerate(side):
            seen = first.setdefault(_sentence_key(sentence), index)
            if seen != index:
                a, b = find(index), find(seen)
                if a != b:
                    parent[max(a, b)] = min(a, b)
    groups = {}
    for index in range(len(parent)):
        groups.setdefault(find(index), []).append(index)
    return list(groups.values())


def split_by_sentence(english, other, seed=SPLIT_SEED,
                      validation_fraction=ANKI_VALIDATION_FRACTION,
                      test_fraction=ANKI_TEST_FRACTION, what="pairs file"):
    """(train, validation, test) lists of pair indices, no sentence of either side in two splits.

    The groups of `sentence_groups` are shuffled with `seed` and dealt out
    whole: each goes to test if it still fits in test's share
    (`test_fraction` of the pairs, at least 1), else to validation if it fits
    there, else to train. Groups are small (at most 40 pairs in the Anki
    spa-eng file, most are one pair), so the shares come out exact or within a
    group of it, and which groups land in test does not depend on their size.
    In a tiny file where a split would stay empty, the smallest group of the
    split holding the most groups moves there. The pairs of each split are
    shuffled too, so a `--limit` prefix is a random sample, not whole groups.

    Raises:
        UsageError: With fewer than 3 pairs, or fewer than 3 groups of pairs
            that share no sentence (nothing to split three ways).
    """
    count = len(english)
    n_val = max(1, int(round(count * validation_fraction)))
    n_test = max(1, int(round(count * test_fraction)))
    if count < n_val + n_test + 1:
        raise UsageError(f"{what} has only {count} pairs; need at least 3 "
                         "(train, validation, test)")
    groups = sentence_groups(english, other)
    if len(groups) < 3:
        raise UsageError(f"{what} has {count} pairs but they share sentences so that only "
                         f"{len(groups)} group(s) of pairs share none; need at least 3 to "
                         "split train, validation and test without a sentence in two splits")
    rng = np.random.default_rng(seed)
    splits = {"test": [], "validation": [], "train": []}  # lists of group numbers
    sizes = dict.fromkeys(splits, 0)
    for number in rng.permutation(len(groups)):
        size = len(groups[number])
        if sizes["test"] + size <= n_test:
            name = "test"
        elif sizes["validation"] + size <= n_val:
            name = "validation"
        else:
            name = "train"
        splits[name].append(int(number))
        sizes[name] += size
    for name in ("test", "validation", "train"):
        if not splits[name]:
            donor = max(splits, key=lambda s: len(splits[s]))
            smallest = min(splits[donor], key=lambda g: len(groups[g]))
            splits[donor].remove(smallest)
            splits[name].append(smallest)
    result = []
    for name in ("train", "validation", "test"):
        members = [i for number in splits[name] for i in groups[number]]
        result.append([int(i) for i in rng.permutation(members)])
    return tuple(result)


# --- Multi30k -------------------------------------------------------------------

def _multi30k(source, target, data_dir):
    codes = []
    for lang in (source, target):
        if lang not in MULTI30K_CODES:
            raise UsageError(f"Multi30k has English, German (and French) sentences; got "
                             f"{source}->{target}")
        codes.append(MULTI30K_CODES[lang])
    root = data_mirror.data_root(data_dir)
    if root is None:
        raise UsageError(f"Multi30k needs --data-dir or ${data_mirror.ENV_VAR} (expected "
                         f"translation/multi30k/{{train,val,test_2016_flickr}}.{{{codes[0]},"
                         f"{codes[1]}}}.gz there)")
    names = [f"{split}.{code}" for split in MULTI30K_SPLITS.values() for code in codes]
    _, paths = data_mirror.find_files(
        root, ["translation/multi30k", "multi30k", "."],
        [[n + ".gz" for n in names], names],
        wanted=f"the Multi30k files {', '.join(n + '(.gz)' for n in names)}")
    folder, suffix = paths[0].parent, paths[0].suffix if paths[0].suffix == ".gz" else ""
    splits = {}
    for key, split in MULTI30K_SPLITS.items():
        sides = [_read_lines(folder / f"{split}.{code}{suffix}") for code in codes]
        if len(sides[0]) != len(sides[1]):
            raise UsageError(f"Multi30k {split}: {len(sides[0])} {codes[0]} lines but "
                             f"{len(sides[1])} {codes[1]} lines in {folder} (expected "
                             "line-aligned files)")
        splits[key] = tuple(sides)
    description = (f"Multi30k from {folder} ({root.origin}), {source}->{target}: "
                   f"{len(splits['train'][0]):,} train / {len(splits['validation'][0]):,} val "
                   f"/ {len(splits['test'][0]):,} test_2016_flickr")
    return Corpus("multi30k", description, source, target, splits["train"],
                  splits["validation"], splits["test"])


def _read_lines(path):
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            return [normalize(line) for line in common_text.split_lines(handle.read())]
    except (OSError, EOFError, UnicodeDecodeError, zlib.error) as error:
        raise UsageError(f"cannot read {path}: {error}") from None


# --- TED (tfds) -----------------------------------------------------------------

def _ted(source, target):
    if {source, target} != {"por", "eng"}:
        raise UsageError(f"the TED dataset here is {TED_NAME} (por/eng); got {source}->{target}")
    corpus = _from_tfds()
    if corpus is None:
        raise UsageError(f"tfds {TED_NAME} is not prepared here and cannot be downloaded (no "
                         "network); pass --pairs FILE with Portuguese<->English pairs instead")
    if source == "eng":
        swap = lambda pairs: (pairs[1], pairs[0])  # noqa: E731
        corpus = Corpus(corpus.name, corpus.description.replace("por->eng", "eng->por"),
                        source, target, swap(corpus.train), swap(corpus.validation),
                        swap(corpus.test))
    return corpus


def _from_tfds():
    """tfds ted_hrlr_translate/pt_to_en if prepared or downloadable; None quietly otherwise."""
    absl_logger = logging.getLogger("absl")
    previous = absl_logger.level
    absl_logger.setLevel(logging.ERROR)
    try:
        import tensorflow_datasets as tfds

        builder = tfds.builder(TED_NAME)
        if not builder.is_prepared():
            if not data_source.download_possible():
                return None
            builder.download_and_prepare()
        splits = {}
        for key, split in (("train", "train"), ("validation", "validation"), ("test", "test")):
            pt, en = [], []
            for a, b in tfds.as_numpy(builder.as_dataset(split=split, as_supervised=True)):
                pt.append(normalize(a.decode("utf-8")))
                en.append(normalize(b.decode("utf-8")))
            splits[key] = (pt, en)
        description = (f"tfds {TED_NAME} ({builder.data_dir}), por->eng: "
                       f"{len(splits['train'][0]):,} train / {len(splits['validation'][0]):,} "
                       f"validation / {len(splits['test'][0]):,} test")
        return Corpus("ted", description, "por", "eng", splits["train"], splits["validation"],
                      splits["test"])
    except Exception:  # noqa: BLE001 - any tfds failure means "not available"
        return None
    finally:
        absl_logger.setLevel(previous)


# --- generated ------------------------------------------------------------------

GENERATED_WORDS = ["ba", "ko", "mi", "tu", "ze", "lo", "pa", "ri", "su", "ne", "do", "fa",
                   "gi", "ho", "ju", "ka"]


def generated(count=1200, seed=SPLIT_SEED, min_words=2, max_words=7):
    """A synthetic translation task: reverse the words and rename each one.

    Source "ba ko mi." -> target "Xmi xko xba." -- a deterministic mapping
    that needs attention (the order flips) and two vocabularies. Small and
    fast: what the tests train on when no data mirror is set.
    """
    rng = np.random.default_rng(seed)
    sources, targets = [], []
    for _ in range(count):
        length = int(rng.integers(min_words, max_words + 1))
        chosen = [GENERATED_WORDS[i] for i in rng.integers(0, len(GENERATED_WORDS), length)]
        renamed = ["x" + w[::-1] for w in reversed(chosen)]
        sources.append(" ".join(chosen) + ".")
        targets.append((" ".join(renamed) + ".").capitalize())
    n = len(sources)
    test, val = slice(0, n // 10), slice(n // 10, n // 5)
    train = slice(n // 5, n)
    pick = lambda s: (sources[s], targets[s])  # noqa: E731
    description = (f"generated reverse-and-rename task: {n - n // 5:,} train / "
                   f"{n // 10:,} validation / {n // 10:,} test")
    return Corpus("generated", description, "src", "tgt", pick(train), pick(val), pick(test))


def pipeline(model, sources, targets, batch_size, shuffle=False, seed=0, lengths=None):
    """A tf.data pipeline of ({"source", "target"} strings, labels [B, T+1]), bucketed by length.

    Pairs of similar length are batched together (less padding); the labels
    come from the model's own target vectoriser.
    """
    import numpy as np
    import tensorflow as tf

    from apps.translation import model as model_module
    from apps.translation import text

    if lengths is None:
        lengths = [max(len(a), len(b)) for a, b in zip(text.words(sources), text.words(targets))]
    vectorizer = model.get_layer("target_vectorizer")
    dataset = tf.data.Dataset.from_tensor_slices(
        (list(sources), list(targets), tf.constant(lengths, tf.int32)))
    if shuffle:
        dataset = dataset.shuffle(len(sources), seed=seed, reshuffle_each_iteration=True)
    boundaries = [b for b in (6, 9, 12, 15, 20, 30, 45) if b < max(lengths, default=0)]
    bucket_starts = [b + 1 for b in boundaries]
    dataset = dataset.bucket_by_sequence_length(
        lambda s, t, n: n, bucket_boundaries=bucket_starts,
        bucket_batch_sizes=[batch_size] * (len(boundaries) + 1))
    # Each bucket gives ceil(its pairs / batch_size) batches whatever the order, so
    # the epoch's length is known (the cosine learning-rate schedule needs it).
    per_bucket = np.bincount(np.searchsorted(bucket_starts, lengths, side="right"),
                             minlength=len(bucket_starts) + 1)
    batches = int(sum(-(-count // batch_size) for count in per_bucket))
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(batches))

    def with_labels(source, target, _):
        labels = model_module.teacher_forcing_ids(vectorizer(target))[1]
        return {"source": source, "target": target}, labels

    return dataset.map(with_labels, num_parallel_calls=tf.data.AUTOTUNE).prefetch(
        tf.data.AUTOTUNE)
