"""The sentiment model without the CLI: masks, saving, attention weights, calibration, text."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from sentiment_testutils import generated_reviews, tiny_config

from apps.common import text as text_module
from apps.sentiment import data
from apps.sentiment import model as model_module

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def vocabulary():
    texts, _ = generated_reviews(200)
    return data.build_vocabulary(texts, 200)


def _model(vocabulary, **overrides):
    keras.utils.set_random_seed(1)
    return model_module.build_model(tiny_config(**overrides), vocabulary)


def _predict(model, texts):
    return np.asarray(model(tf.constant(texts), training=False)).ravel()


@pytest.mark.parametrize("pooling", ["attention", "last", "max"])
@pytest.mark.parametrize("cell,bidirectional", [("gru", True), ("lstm", False), ("rnn", True)])
def test_padding_never_changes_the_probability(vocabulary, pooling, cell, bidirectional):
    model = _model(vocabulary, pooling=pooling, cell=cell, bidirectional=bidirectional,
                   layers=2 if cell == "lstm" else 1)
    review = "The plot was dull, but the music was wonderful."
    alone = _predict(model, [review])[0]
    # In a batch with longer reviews it is padded to 12 and to 30 steps.
    padded_12 = _predict(model, [review, "film " * 12])[0]
    padded_30 = _predict(model, [review, "film " * 40])[0]
    np.testing.assert_allclose([padded_12, padded_30], [alone, alone], rtol=1e-5, atol=1e-6)


def test_padding_invariance_at_the_word_id_level(vocabulary):
    model = _model(vocabulary)
    inner = keras.Model(model.get_layer("truncate").output, model.output)
    ids = model_module.vectorizer_layer(model)(tf.constant(["great film, awful plot"])).numpy()
    short = np.pad(ids, [[0, 0], [0, 2]])
    long = np.pad(ids, [[0, 0], [0, 25]])
    np.testing.assert_allclose(inner.predict(short, verbose=0), inner.predict(long, verbose=0),
                               rtol=1e-5, atol=1e-6)


def test_truncation_keeps_the_first_max_length_words(vocabulary):
    model = _model(vocabulary, max_length=5)
    base = _predict(model, ["great film dull plot music"])[0]
    longer = _predict(model, ["great film dull plot music awful awful awful terrible"])[0]
    assert base == pytest.approx(longer, abs=1e-6)


def test_empty_and_punctuation_only_texts_get_a_defined_answer(vocabulary):
    model = _model(vocabulary)
    probabilities = _predict(model, ["", "!!! ... ???", "<br /><br />"])
    assert np.all(np.isfinite(probabilities))
    assert np.allclose(probabilities, probabilities[0])
    # Alone too (a batch whose longest review has no words at all).
    assert np.isfinite(_predict(model, [""])[0])


def test_saved_model_takes_raw_strings_and_gives_the_same_outputs(vocabulary, tmp_path):
    model = _model(vocabulary)
    model_module.set_temperature(model, 1.7)
    texts = ["A WONDERFUL film!", "awful<br />boring", "", "unknownword zzz great"]
    before = _predict(model, texts)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)  # safe_mode on
    np.testing.assert_allclose(_predict(loaded, texts), before, rtol=1e-6)
    assert model_module.temperature(loaded) == pytest.approx(1.7)
    assert model_module.class_names(loaded) == ("negative", "positive")
    assert (model_module.vectorizer_layer(loaded).get_vocabulary()
            == model_module.vectorizer_layer(model).get_vocabulary())


def test_attention_weights_cover_the_words_only(vocabulary):
    model = _model(vocabulary)
    explainer = model_module.explainer(model)
    _, ids, weights = explainer(tf.constant(["great film", "the plot was very dull indeed"]))
    ids, weights = np.asarray(ids), np.asarray(weights)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-5)
    assert np.all(weights[ids == 0] == 0)
    assert np.all(weights[ids != 0] > 0)


def test_last_pooling_has_no_explainer(vocabulary):
    with pytest.raises(ValueError, match="attention"):
        model_module.explainer(_model(vocabulary, pooling="last"))


def test_fit_temperature_recovers_a_known_temperature():
    rng = np.random.default_rng(0)
    true_logits = rng.normal(0, 2, size=20000)
    labels = (rng.random(20000) < 1 / (1 + np.exp(-true_logits))).astype(float)
    assert model_module.fit_temperature(true_logits * 3.0, labels) == pytest.approx(3.0, rel=0.05)


def test_log_loss_is_the_binary_cross_entropy_of_the_scaled_logits():
    logits, labels = np.array([0.0, 2.0, -1.0, 800.0]), np.array([1, 0, 0, 1])
    p = 1 / (1 + np.exp(-logits[:3] / 2.0))
    expected = -np.sum(labels[:3] * np.log(p) + (1 - labels[:3]) * np.log(1 - p)) / 4
    # A huge logit with the right label costs nothing (and does not overflow).
    assert model_module.log_loss(logits, labels, 2.0) == pytest.approx(expected, rel=1e-12)


def test_standardisation_lowercases_and_strips_html_and_punctuation():
    assert text_module.words(["It's GREAT!<br />Really...  A must-see.\u0085Ok"]) == [
        ["its", "great", "really", "a", "must", "see", "ok"]]
    assert text_module.words(["Ça DÉTONNE, «vraiment»"]) == [["ça", "détonne", "vraiment"]]
    assert text_module.words(["?!", ""]) == [[], []]


def test_word_dropout_drops_whole_words_in_training_only(vocabulary):
    model = _model(vocabulary, word_dropout=0.5)
    layer = model.get_layer("word_dropout")
    embedded = np.ones((4, 50, 8), np.float32)
    dropped = np.asarray(layer(embedded, training=True))
    per_word = dropped.reshape(-1, 8)
    # Every word is kept whole (scaled by 1 / (1 - rate)) or dropped whole.
    assert set(np.unique(per_word)) <= {0.0, 2.0}
    assert np.all(per_word.min(axis=1) == per_word.max(axis=1))
    assert 0.3 < (per_word[:, 0] == 0).mean() < 0.7
    np.testing.assert_array_equal(np.asarray(layer(embedded, training=False)), embedded)
    review = "The plot was dull, but the music was wonderful."
    np.testing.assert_allclose(_predict(model, [review, "film " * 40])[0],
                               _predict(model, [review])[0], rtol=1e-5, atol=1e-6)
