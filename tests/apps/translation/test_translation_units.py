"""The pieces on their own: tokenising and detokenising, BLEU, and the search on a toy decoder."""

import numpy as np
import tensorflow as tf

from apps.common import bleu, decoding
from apps.translation import text


def test_words_keep_punctuation_as_tokens_and_lower_case():
    assert text.words([text.normalize("¿Qué HORA es?"), "Tom's  t-shirt."]) == [
        ["¿", "qué", "hora", "es", "?"], ["tom", "'", "s", "t", "-", "shirt", "."]]
    assert text.words([""]) == [[]]


def test_normalize_composes_accents():
    decomposed = "cafe\u0301"
    assert text.normalize(decomposed) == "café"


def test_detokenize_gives_written_text():
    assert text.detokenize(["a", "man", "'", "s", "t", "-", "shirt", ",", "3", ".", "5",
                            "m", "."]) == "A man's t-shirt, 3.5 m."
    assert text.detokenize(["¿", "dónde", "está", "?"]) == "¿Dónde está?"
    assert text.detokenize([]) == ""


def test_vocabulary_from_counts():
    vocabulary = text.build_vocabulary([["b", "a", "a"], ["c", "b", "a"]], min_count=2)
    assert vocabulary == ["a", "b"]


def test_bleu_of_a_perfect_and_a_wrong_corpus():
    refs = ["A man is riding a horse.", "Two dogs play in the snow."]
    perfect = bleu.corpus_scores(refs, refs)
    assert perfect["bleu"] > 99.9 and perfect["chrf"] > 99.9
    assert perfect["bleu_signature"].startswith("nrefs:1|case:mixed")
    wrong = bleu.corpus_scores(["Nothing alike here.", "Not at all."], refs)
    assert wrong["bleu"] < 5
    several = bleu.corpus_scores(refs, [[r, "other"] for r in refs], bleu_orders=(1, 4))
    assert several["bleu_1"] > 99.9


def test_beam_search_finds_what_greedy_misses():
    logp = np.log(np.array([
        [1e-9, 1e-9, 0.5, 0.5],
        [1e-9, 1e-9, 0.55, 0.45],    # after start: greedy takes "end" (0.55)
        [1e-9, 1e-9, 0.5, 0.5],
        [1e-9, 1e-9, 0.99, 0.01],    # after "word": "end" with 0.99 -> 0.4455 < 0.55
    ], dtype=np.float32))
    # Make the two-token path better: after start, "word" 0.45; after word, end 0.99,
    # total 0.4455 < 0.55 by probability; with length normalisation (alpha=1):
    # log(0.55)/1 = -0.598 < (log 0.45 + log 0.99)/2 = -0.404, so beam prefers it.
    table = tf.constant(logp)

    def prepare(context):
        return None

    def step(tokens, states, constants):
        return tf.gather(table, tokens), states, None

    states = [tf.zeros([2, 1])]
    greedy = decoding.greedy_search(prepare, step, {}, states, 1, 2, 5)
    np.testing.assert_array_equal(greedy["tokens"].numpy(), [[2], [2]])
    beam = decoding.beam_search(prepare, step, {}, states, 1, 2, 5, beam_size=2,
                                length_alpha=1.0)
    np.testing.assert_array_equal(beam["tokens"].numpy()[:, 0], [[3, 2], [3, 2]])
    np.testing.assert_allclose(beam["log_prob"].numpy()[0],
                               [np.log(0.45) + np.log(0.99), np.log(0.55)], rtol=1e-5)
    no_normalisation = decoding.beam_search(prepare, step, {}, states, 1, 2, 5, beam_size=2,
                                            length_alpha=0.0)
    np.testing.assert_array_equal(no_normalisation["tokens"].numpy()[0, 0], [2, 0])


def test_smoothed_cross_entropy_matches_keras_over_real_positions():
    import keras

    from apps.common import teacher_forcing

    rng = np.random.default_rng(0)
    logits = rng.normal(size=(3, 5, 7)).astype("float32")
    labels = np.array([[4, 2, 6, 0, 0], [1, 3, 0, 0, 0], [5, 5, 5, 5, 3]], "int32")
    plain = keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0)
    assert np.allclose(teacher_forcing.SmoothedCrossEntropy(0.0)(labels, logits),
                       plain(labels, logits), atol=1e-6)
    # The oracle for s > 0: Keras's own label smoothing on one-hot targets, averaged
    # over the real (non-padding) positions only.
    real = labels != 0
    smoothed = keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.2,
                                                    reduction=None)
    expected = np.asarray(smoothed(np.eye(7)[labels][real], logits[real])).mean()
    ours = teacher_forcing.SmoothedCrossEntropy(0.2)
    assert np.allclose(ours(labels, logits), expected, atol=1e-6)
    assert teacher_forcing.loss(0.2).get_config()["label_smoothing"] == 0.2
    restored = keras.losses.deserialize(keras.losses.serialize(ours))
    assert np.allclose(restored(labels, logits), expected, atol=1e-6)


def test_smoothed_cross_entropy_refuses_a_share_outside_0_1():
    import pytest

    from apps.common import teacher_forcing

    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0, 1\), got 1.5"):
        teacher_forcing.SmoothedCrossEntropy(1.5)
