"""The Anki split: by sentence, so no sentence of either side sits in two splits; Multi30k's own."""

import gzip
from collections import Counter

import numpy as np
import pytest

from apps.common.errors import UsageError
from apps.translation import data
from apps.translation.config import TranslationConfig


def _write_pairs(path, lines):
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode("utf-8")))
    return path


def _repetitive_pairs(count=600, seed=1):
    """English<TAB>Spanish lines repeating both sides, as Anki files do.

    Most English sentences have one translation, some several; some Spanish
    sentences translate several English ones; some repeats differ only in case.
    """
    rng = np.random.default_rng(seed)
    lines = []
    for index in range(count):
        english = f"Sentence {index}."
        for alternative in range(int(rng.choice([1, 1, 1, 2, 3, 4]))):
            lines.append(f"{english}\tFrase {index} v{alternative}.")
        if index % 7 == 0:  # a Spanish sentence shared with the next English one
            lines.append(f"Sentence {index + 1} again.\tFrase {index} v0.")
        if index % 11 == 0:  # the same English sentence in another case
            lines.append(f"SENTENCE {index}.\tOtra frase {index}.")
    order = rng.permutation(len(lines))
    return [lines[i] for i in order]


def _load(pairs, source="spa", target="eng"):
    config = TranslationConfig(pairs=str(pairs), source_lang=source, target_lang=target)
    return data.load(config)


def _sentences(split, side):
    return {sentence.casefold() for sentence in split[side]}


@pytest.mark.parametrize("source,target", [("spa", "eng"), ("eng", "spa")])
def test_no_sentence_of_either_side_is_in_two_splits(tmp_path, source, target):
    lines = _repetitive_pairs()
    corpus = _load(_write_pairs(tmp_path / "spa.txt.gz", lines), source, target)
    splits = {"train": corpus.train, "validation": corpus.validation, "test": corpus.test}
    for side in (0, 1):
        for a, b in (("train", "test"), ("train", "validation"), ("validation", "test")):
            shared = _sentences(splits[a], side) & _sentences(splits[b], side)
            assert not shared, (side, a, b, sorted(shared)[:5])
    # every pair once, none lost or duplicated
    english, spanish = (1, 0) if source == "spa" else (0, 1)
    kept = Counter(f"{split[english][i]}\t{split[spanish][i]}"
                   for split in splits.values() for i in range(len(split[0])))
    assert kept == Counter(lines)
    assert "split by sentence" in corpus.description


def test_the_split_keeps_its_proportions_and_is_the_same_every_time(tmp_path):
    pairs = _write_pairs(tmp_path / "spa.txt.gz", _repetitive_pairs())
    corpus = _load(pairs)
    total = sum(len(split[0]) for split in (corpus.train, corpus.validation, corpus.test))
    expected = round(total * data.ANKI_TEST_FRACTION)
    for split in (corpus.validation, corpus.test):
        assert abs(len(split[0]) - expected) <= 5, (len(split[0]), expected)
    again = _load(pairs)
    assert (again.train, again.validation, again.test) == (
        corpus.train, corpus.validation, corpus.test)
    # the other direction is the same split, sides swapped
    reverse = _load(pairs, "eng", "spa")
    assert reverse.test == (corpus.test[1], corpus.test[0])


def test_pairs_sharing_a_sentence_through_a_chain_stay_together():
    english = ["Go.", "Leave.", "Leave.", "Run.", "Hi.", "Hello.", "Stop.", "Wait."]
    spanish = ["Vete.", "Vete.", "Márchate.", "Corre.", "Hola.", "Hola.", "Para.", "Espera."]
    groups = sorted(data.sentence_groups(english, spanish))
    assert groups == [[0, 1, 2], [3], [4, 5], [6], [7]]
    train, validation, test = data.split_by_sentence(english, spanish)
    assert sorted(train + validation + test) == list(range(len(english)))
    assert train and validation and test
    for group in groups:
        homes = [name for name, split in (("train", train), ("validation", validation),
                                          ("test", test)) if set(group) & set(split)]
        assert len(homes) == 1, (group, homes)


def test_a_tiny_file_still_gets_three_splits_of_whole_groups():
    english = ["A.", "A.", "A.", "A.", "B.", "C."]
    spanish = ["a1.", "a2.", "a3.", "a4.", "b.", "c."]
    train, validation, test = data.split_by_sentence(english, spanish)
    assert sorted(map(len, (train, validation, test))) == [1, 1, 4]


def test_pairs_that_all_share_a_sentence_cannot_be_split(tmp_path):
    pairs = _write_pairs(tmp_path / "p.txt.gz", [f"Go.\tVete {i}." for i in range(30)])
    with pytest.raises(UsageError, match="only 1 group.*without a sentence in two splits"):
        _load(pairs)
    with pytest.raises(UsageError, match="only 2 pairs; need at least 3"):
        _load(_write_pairs(tmp_path / "q.txt.gz", ["Go.\tVete.", "Run.\tCorre."]))


def test_multi30k_keeps_its_official_splits(tmp_path):
    folder = tmp_path / "translation" / "multi30k"
    folder.mkdir(parents=True)
    for split, size in (("train", 5), ("val", 2), ("test_2016_flickr", 3)):
        for code, word in (("en", "A dog"), ("de", "Ein Hund")):
            # the same sentence in train and test: official splits are kept as published
            text = "".join(f"{word} {i % 2}.\n" for i in range(size))
            (folder / f"{split}.{code}.gz").write_bytes(gzip.compress(text.encode("utf-8")))
    config = TranslationConfig(source_lang="deu", target_lang="eng", dataset="multi30k")
    corpus = data.load(config, data_dir=str(tmp_path))
    assert corpus.name == "multi30k"
    assert corpus.train == ([f"Ein Hund {i % 2}." for i in range(5)],
                            [f"A dog {i % 2}." for i in range(5)])
    assert corpus.validation[0] == ["Ein Hund 0.", "Ein Hund 1."]
    assert corpus.test[1] == ["A dog 0.", "A dog 1.", "A dog 0."]
