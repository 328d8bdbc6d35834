"""Subword tokenizers for translation: KerasHub's WordPiece against SentencePiece (ours).

On Multi30k (German and English, the app's de->en data, read by the app's
own loader from the offline mirror), learns a vocabulary of --vocab-size
pieces with each of

- WordPiece: `keras_hub.tokenizers.compute_word_piece_vocabulary` and
  `WordPieceTokenizer` (case kept, accents kept, split on whitespace and
  punctuation, "##" marking a word's continuation);
- SentencePiece unigram and BPE: `apps.common.subwords.learn_subwords`
  and `SubwordVectorizer` (the app's), byte fallback on;

and prints a markdown table per language: seconds to learn; sentences/s to
tokenise the training split in the graph (tf.data, batches of 256, a
sequential map, the best of 3 passes); mean pieces per training sentence;
the share of test sentences that come back exactly (detokenize(tokenize(x))
== x, x as the app's loader gives it: NFKC, single spaces) and the same with
spaces ignored; [UNK] pieces in the test split. Then a table of what each
needs installed beyond tensorflow and keras (`pip show`'s Requires, followed
to the end), with the installed size.

    RNN_SUITE_DATA=/work/shared/data python benchmarks/subword_tokenizers.py
    python benchmarks/subword_tokenizers.py --data-dir shared/data --vocab-size 4000

Needs the `bench` extra (keras-hub): `pip install -e .[bench]`.
"""

import argparse
import importlib.metadata
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from apps.common import tensorflow_env  # noqa: E402

tensorflow_env.set_defaults()

BATCH = 256
PASSES = 3
BASE = ("tensorflow", "keras")
NEEDS = {"WordPiece (keras-hub)": ("keras-hub",),
         "SentencePiece (ours)": ("sentencepiece", "tensorflow-text")}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=None,
                        help="the offline data mirror (default: $RNN_SUITE_DATA)")
    parser.add_argument("--vocab-size", type=int, default=8000)
    parser.add_argument("--limit", type=int, default=0,
                        help="at most this many sentences of each split (0: all)")
    return parser.parse_args(argv)


def load_multi30k(data_dir, limit):
    """{"de": (train, test), "en": (train, test)}: the app's Multi30k loader, de->en."""
    from apps.translation import data
    from apps.translation.config import TranslationConfig

    config = TranslationConfig(dataset="multi30k", source_lang="deu", target_lang="eng",
                               limit=limit)
    corpus = data.load(config, data_dir)
    if not limit:
        print(corpus.description, flush=True)
    return {"de": (corpus.train[0], corpus.test[0]), "en": (corpus.train[1], corpus.test[1])}


class WordPiece:
    name = "WordPiece (keras-hub)"

    def __init__(self, sentences, vocab_size):
        import keras_hub
        import tensorflow as tf

        reserved = ["[PAD]", "[UNK]", "[START]", "[END]"]  # the app's special ids
        data = tf.data.Dataset.from_tensor_slices(sentences).batch(BATCH)
        vocabulary = keras_hub.tokenizers.compute_word_piece_vocabulary(
            data, vocab_size, lowercase=False, strip_accents=False, reserved_tokens=reserved)
        self.tokenizer = keras_hub.tokenizers.WordPieceTokenizer(
            vocabulary=vocabulary, lowercase=False, strip_accents=False, oov_token="[UNK]")
        self.vocabulary_size = len(vocabulary)
        self.unk_id = vocabulary.index("[UNK]")

    def tokenize(self, strings):
        return self.tokenizer.tokenize(strings)  # ragged [B, None]

    def detokenize(self, ids):
        return self.tokenizer.detokenize(ids)


class SentencePiece:
    def __init__(self, sentences, vocab_size, model_type):
        from apps.common import subwords

        self.name = f"SentencePiece {model_type} (ours)"
        self.layer = subwords.SubwordVectorizer(
            subwords.learn_subwords(sentences, vocab_size, model_type=model_type))
        self.vocabulary_size = self.layer.vocabulary_size()
        self.unk_id = subwords.UNK_ID

    def tokenize(self, strings):
        return self.layer(strings)  # dense [B, T], 0-padded

    def detokenize(self, ids):
        return self.layer.detokenize_graph(ids)


def _lengths(ids):
    import tensorflow as tf

    if isinstance(ids, tf.RaggedTensor):
        return ids.row_lengths()
    return tf.reduce_sum(tf.cast(tf.not_equal(ids, 0), tf.int64), axis=1)


def measure(make, train, test):
    import tensorflow as tf

    start = time.perf_counter()
    tokenizer = make(train)
    learn_s = time.perf_counter() - start

    dataset = tf.data.Dataset.from_tensor_slices(train).batch(BATCH).map(tokenizer.tokenize)
    for _ in dataset.take(2):  # traced once, outside the timing
        pass
    best = float("inf")
    for _ in range(PASSES):
        start = time.perf_counter()
        for _ in dataset:
            pass
        best = min(best, time.perf_counter() - start)
    pieces = sum(int(tf.reduce_sum(_lengths(ids))) for ids in dataset)

    def round_trip(strings):
        ids = tokenizer.tokenize(strings)
        flat = ids.flat_values if isinstance(ids, tf.RaggedTensor) else ids
        return (tf.reduce_sum(tf.cast(tf.equal(flat, tf.cast(tokenizer.unk_id, flat.dtype)),
                                      tf.int64)),
                tokenizer.detokenize(ids))

    # In tf.data (in the graph) for both: KerasHub's tokenizers give Python lists eagerly.
    unknown, exact, spaceless = 0, 0, 0
    squeeze = re.compile(r"\s+")
    batches = tf.data.Dataset.from_tensor_slices(test).batch(BATCH).map(round_trip)
    for start, (unk, back) in zip(range(0, len(test), BATCH), batches):
        texts = test[start:start + BATCH]
        back = [t.decode("utf-8") for t in back.numpy().tolist()]
        unknown += int(unk)
        exact += sum(b == t for b, t in zip(back, texts))
        spaceless += sum(squeeze.sub("", b) == squeeze.sub("", t) for b, t in zip(back, texts))
    return {
        "tokenizer": tokenizer.name,
        "vocabulary": f"{tokenizer.vocabulary_size:,}",
        "learn s": f"{learn_s:.1f}",
        "sentences/s": f"{len(train) / best:,.0f}",
        "pieces/sentence": f"{pieces / len(train):.2f}",
        "round-trip exact": f"{100 * exact / len(test):.1f}%",
        "round-trip, spaces ignored": f"{100 * spaceless / len(test):.1f}%",
        "[UNK] in test": f"{unknown:,}",
    }


def _canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def requirements_closure(names):
    """The named distributions and everything they require, by `pip show`'s Requires."""
    seen, todo = set(), [_canonical(n) for n in names]
    while todo:
        todo = [n for n in dict.fromkeys(todo) if n not in seen]
        if not todo:
            break
        shown = subprocess.run([sys.executable, "-m", "pip", "show", *todo],
                               capture_output=True, text=True, check=False).stdout
        seen.update(todo)
        todo = [_canonical(r.strip()) for line in shown.splitlines()
                if line.startswith("Requires:") for r in line[9:].split(",") if r.strip()]
    return seen


def installed_mib(names):
    total = 0
    for name in names:
        try:
            files = importlib.metadata.distribution(name).files or []
        except importlib.metadata.PackageNotFoundError:
            continue
        total += sum(f.size or 0 for f in files)
    return total / 2**20


def print_table(rows):
    header = list(rows[0])
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row[h] for h in header) + " |")


def main(argv=None):
    args = parse_args(argv)
    # Imported first, so that no "seconds to learn" counts an import.
    import keras_hub  # noqa: F401
    import sentencepiece  # noqa: F401
    import tensorflow_text  # noqa: F401

    corpus = load_multi30k(args.data_dir, args.limit)
    makers = [
        lambda s: WordPiece(s, args.vocab_size),
        lambda s: SentencePiece(s, args.vocab_size, "unigram"),
        lambda s: SentencePiece(s, args.vocab_size, "bpe"),
    ]
    for language, (train, test) in corpus.items():
        rows = [measure(make, train, test) for make in makers]
        print(f"\n### Multi30k {language}: {len(train):,} training, {len(test):,} test "
              f"sentences, --vocab-size {args.vocab_size}\n")
        print_table(rows)

    base = requirements_closure(BASE)
    rows = []
    for name, needs in NEEDS.items():
        extra = sorted(requirements_closure(needs) - base)
        rows.append({"tokenizer": name, "extra packages": str(len(extra)),
                     "installed MiB": f"{installed_mib(extra):.0f}",
                     "which (beyond tensorflow and keras)": ", ".join(extra)})
    print("\n### What each needs installed\n")
    print_table(rows)


if __name__ == "__main__":
    main()
