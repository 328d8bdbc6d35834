"""`--tokenizer subword`: SentencePiece pieces for the language model (never [UNK], case and
punctuation kept), inside model.keras and the export, from the command line."""

import keras
import numpy as np
import pytest

from app_testutils import read_json, run_cli
from apps.common import tokens
from apps.lm import data, sampling

from test_lm import TINY, _config

REVIEWS = [f"The Movie was {word}! I'd watch it again.<br /><br />{word.title()}, really."
           for word in ["great", "awful", "dull", "moving", "clever", "weak"]] * 30


@pytest.fixture(scope="module")
def vocabulary():
    return tokens.build_vocabulary(REVIEWS, "subword", 300)


def test_the_first_ids_are_the_language_model_s(vocabulary):
    assert vocabulary.vocabulary[:3] == list(tokens.RESERVED)
    assert vocabulary.kind == "subword" and vocabulary.size == len(vocabulary.vocabulary)
    # Case is kept: "Movie" and "movie" are other pieces.
    assert list(vocabulary.encode(["Movie"])[0]) != list(vocabulary.encode(["movie"])[0])


def test_any_text_is_spelled_without_unknown_and_reads_back(vocabulary):
    text = "Zebra-crossing ¿qué? 🎬 The END"
    (ids,) = vocabulary.encode([text])
    assert tokens.UNK_ID not in ids and tokens.EOD_ID not in ids and len(ids) > len(text.split())
    assert vocabulary.decode(ids) == text
    # IMDB's line breaks are read as a line end, which SentencePiece makes a space.
    (ids,) = vocabulary.encode(["Great.<br /><br />Really."])
    assert vocabulary.decode(ids) == "Great. Really."
    assert vocabulary.decode([tokens.EOD_ID, *ids, tokens.PAD_ID]) == "Great. Really."


def test_a_continuation_is_joined_to_its_prompt_as_the_pieces_say(vocabulary):
    whole = vocabulary.encode(["The Movie was great"])[0]
    for cut in range(1, len(whole)):
        prompt, rest = vocabulary.decode(whole[:cut]), whole[cut:]
        assert prompt + vocabulary.separator(rest) + vocabulary.decode(rest) == \
            "The Movie was great"


def test_reviews_longer_than_sentencepiece_reads_are_still_learned_from():
    # SentencePiece drops any sentence over 4,192 bytes while learning; one long review
    # of a rare word must still give that word its piece.
    documents = ["quixotically " * 1000, *REVIEWS[:6]]
    vocabulary = tokens.build_vocabulary(documents, "subword", 300)
    assert "▁quixotically" in vocabulary.vocabulary


def test_the_config_carries_the_pieces_and_the_model_saves(vocabulary, tmp_path):
    from apps.lm import model as model_module

    again = tokens.TokenVocabulary.from_config(vocabulary.get_config())
    assert again.vocabulary == vocabulary.vocabulary
    assert [list(i) for i in again.encode(REVIEWS[:3])] == \
        [list(i) for i in vocabulary.encode(REVIEWS[:3])]
    model = model_module.build_model(_config(units=16, embedding_dim=8), vocabulary)
    ids = data.stream(REVIEWS[:2], vocabulary)[None]
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(np.asarray(loaded(ids)), np.asarray(model(ids)), atol=1e-6)
    assert model_module.vocabulary_of(loaded).vocabulary == vocabulary.vocabulary


def test_a_vocabulary_is_subwords_exactly_when_it_has_a_proto(vocabulary):
    proto = vocabulary.get_config()["proto"]
    with pytest.raises(ValueError, match="received kind='subword' with proto=None"):
        tokens.TokenVocabulary(kind="subword")
    with pytest.raises(ValueError, match="received kind='word' with proto=given"):
        tokens.TokenVocabulary(list(tokens.RESERVED), kind="word", proto=proto)


def test_train_and_generate_with_subwords_from_the_command_line(capsys, in_tmp):
    status, out, err = run_cli(capsys, "lm", "train", *TINY, "--tokenizer", "subword",
                               "--vocab-size", "300", "--epochs", "2")
    assert status == 0, err
    (run,) = list((in_tmp / "runs" / "lm").iterdir())
    metrics = read_json(run / "metrics.json")
    assert metrics["tokenizer"] == "subword"
    # Two tiny epochs: far from the n-gram peer, but well below guessing among the pieces.
    assert 1 < metrics["test_perplexity"] < metrics["vocabulary_size"] / 3
    assert metrics["peer"]["test_perplexity"] > 1
    capsys.readouterr()
    status, out, err = run_cli(capsys, "lm", "generate", "--run", run, "The act",
                               "--temperature", "0", "--max-tokens", "6")
    assert status == 0, err
    from apps.common import model_files
    from apps.lm import model as model_module

    model = model_files.load_model(run / "model.keras", "lm")
    vocabulary = model_module.vocabulary_of(model)
    ((text, ids),) = sampling.generate(model, vocabulary, "The act", 6, temperature=0)
    assert out.strip() == ("The act" + vocabulary.separator(ids) + text).strip()
    assert "[UNK]" not in (run / "samples.txt").read_text()
