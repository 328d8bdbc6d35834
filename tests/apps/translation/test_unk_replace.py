"""Unknown-word replacement (Luong et al., 2015) on a word-level run: a copy task with unseen words.

The model learns to copy sentences; words seen once in training are [UNK] on
both sides, so it learns to write [UNK] where the source has one. Sentences
with words it never saw then come out with [UNK]s, which the replacement
fills in from the source word the decoder attended to most.
"""

import numpy as np
import pytest

from apps import cli
from apps.translation import text

COMMON = ["ba", "ko", "mi", "tu", "ze", "lo", "pa", "ri"]
UNSEEN = ["zorblax", "quintel", "mavrodin", "oskelun", "trevanic", "pelgrum"]


def _copy_pairs(path, count=900, seed=0):
    """English<TAB>Other lines of a copy task; every 3rd sentence has a word seen only once."""
    rng = np.random.default_rng(seed)
    lines = []
    for number in range(count):
        words = [COMMON[i] for i in rng.integers(0, len(COMMON), int(rng.integers(3, 7)))]
        if number % 3 == 0:
            words[int(rng.integers(0, len(words)))] = f"rare{number}"
        sentence = " ".join(words)
        lines.append(f"{sentence}\t{sentence}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def copy_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("copy")
    pairs = folder / "copy.tsv"
    _copy_pairs(pairs)
    run = folder / "run"
    status = cli.main(["translation", "train", "--dataset", "anki", "--pairs", str(pairs),
                       "--source-lang", "spa", "--target-lang", "eng", "--tokenizer", "word",
                       "--min-count", "2", "--units", "32", "--embedding-dim", "16",
                       "--attention-units", "16", "--batch-size", "32",
                       "--learning-rate", "0.01", "--epochs", "8", "--dropout", "0.0",
                       "--eval-limit", "10", "--beam-size", "2", "--seed", "1",
                       "--run-dir", str(run)])
    assert status == 0
    return run


def _unseen_sentences(count=12, seed=5):
    rng = np.random.default_rng(seed)
    sentences = []
    for number in range(count):
        words = [COMMON[i] for i in rng.integers(0, len(COMMON), 4)]
        words[number % 4] = UNSEEN[number % len(UNSEEN)]
        sentences.append(" ".join(words))
    return sentences


def _predict(capsys, run, sentences, *flags):
    capsys.readouterr()
    assert cli.main(["translation", "predict", "--run", str(run), "--beam-size", "2",
                     *flags, *sentences]) == 0
    return capsys.readouterr().out.splitlines()


def test_unknown_words_are_copied_from_the_attended_source_word(copy_run, capsys):
    sentences = _unseen_sentences()
    raw = _predict(capsys, copy_run, sentences, "--no-unk-replace")
    replaced = _predict(capsys, copy_run, sentences)
    assert len(raw) == len(replaced) == len(sentences)
    # Without replacement the unseen words come out as [UNK] ...
    assert sum(text.UNK in line for line in raw) >= 0.8 * len(sentences)
    # ... with it, the copy is exact: the unseen word is back, where it was.
    exact = [line.lower() == sentence for line, sentence in zip(replaced, sentences)]
    assert sum(exact) >= 0.8 * len(sentences), list(zip(sentences, raw, replaced))
    assert not any(text.UNK in line for line in replaced)


def test_replace_unknown_takes_the_most_attended_source_word():
    attention = np.array([[0.9, 0.05, 0.05],
                          [0.1, 0.2, 0.7],
                          [0.1, 0.8, 0.1],
                          [0.3, 0.3, 0.4]])
    assert text.replace_unknown(["the", "[UNK]", "[UNK]"], ["el", "perro", "zorblax"],
                                attention) == ["the", "zorblax", "perro"]
    assert text.replace_unknown(["a", "b"], ["x"], attention) == ["a", "b"]
    assert text.replace_unknown(["[UNK]"], [], attention) == ["[UNK]"]
