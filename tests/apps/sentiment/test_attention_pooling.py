"""AttentionPooling: the formula against NumPy, through a save and a load, masked and unmasked.

It computes with `layers.attention.additive_attention`, as BahdanauAttention
does; what a saved sentiment model holds of it (class name, weights, config)
stays as it was.
"""

import json
import zipfile

import keras
import numpy as np
import pytest

from apps.sentiment.model import AttentionPooling

T, F, UNITS, VOCAB = 6, 5, 4, 9


def _oracle(weights, h, mask=None):
    """score_t = v^T tanh(W h_t + b); softmax over the unmasked steps; sum_t w_t h_t (float64)."""
    h = h.astype("float64")
    hidden = np.tanh(h @ weights["kernel"] + weights["bias"])
    scores = (hidden @ weights["score"])[..., 0]  # [B, T]
    if mask is None:
        mask = np.ones(scores.shape, bool)
    scores = np.where(mask, scores, -np.inf)
    peak = np.where(mask.any(-1, keepdims=True), scores.max(-1, keepdims=True), 0.0)
    e = np.where(mask, np.exp(scores - peak), 0.0)
    total = e.sum(-1, keepdims=True)
    w = np.divide(e, total, out=np.zeros_like(e), where=total > 0)
    return (w[..., None] * h).sum(1), w


def _randomize(model, seed=0):
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0.0, 0.7, w.shape).astype("float32")
                       for w in model.get_weights()])


def _saved_and_loaded(model, tmp_path):
    path = tmp_path / "pooling.keras"
    model.save(path)
    with zipfile.ZipFile(path) as archive:
        config = json.loads(archive.read("config.json"))
    return keras.models.load_model(path), config  # safe_mode on, no custom_objects


def _pooling_config(config):
    layers = config["config"]["layers"]
    return next(layer for layer in layers if layer["class_name"] == "AttentionPooling")


def _check_saved_layer(loaded, config):
    saved = _pooling_config(config)
    assert saved["registered_name"] == "rnn_suite.apps>AttentionPooling"
    assert set(saved["config"]) - {"name", "trainable", "dtype"} == {"units"}
    pooling = loaded.get_layer("attention_pooling")
    assert type(pooling) is AttentionPooling
    assert {w.path.split("/")[-1]: tuple(w.shape) for w in pooling.weights} == {
        "kernel": (F, UNITS), "bias": (UNITS,), "score": (UNITS, 1)}
    return {w.path.split("/")[-1]: np.asarray(w, "float64") for w in pooling.weights}


def test_unmasked_pooling_matches_numpy_after_save_and_load(tmp_path):
    inputs = keras.Input((T, F))
    context, weights = AttentionPooling(UNITS, name="attention_pooling")(inputs)
    model = keras.Model(inputs, [context, weights])
    _randomize(model)
    h = np.random.default_rng(1).normal(size=(3, T, F)).astype("float32")
    before = [np.asarray(t) for t in model(h)]

    loaded, config = _saved_and_loaded(model, tmp_path)
    after = [np.asarray(t) for t in loaded(h)]
    np.testing.assert_array_equal(after[0], before[0])
    np.testing.assert_array_equal(after[1], before[1])
    expected_context, expected_weights = _oracle(_check_saved_layer(loaded, config), h)
    np.testing.assert_allclose(after[1], expected_weights, atol=1e-6)
    np.testing.assert_allclose(after[0], expected_context, atol=1e-5)
    np.testing.assert_allclose(after[1].sum(-1), 1.0, atol=1e-6)


def test_masked_pooling_matches_numpy_after_save_and_load(tmp_path):
    ids = keras.Input((T,), dtype="int32")
    embedded = keras.layers.Embedding(VOCAB, F, mask_zero=True, name="embedding")(ids)
    context, weights = AttentionPooling(UNITS, name="attention_pooling")(embedded)
    model = keras.Model(ids, [context, weights, embedded])
    _randomize(model, seed=2)
    rng = np.random.default_rng(3)
    tokens = rng.integers(1, VOCAB, size=(4, T)).astype("int32")
    tokens[0, 4:] = 0  # right padding
    tokens[1, :2] = 0  # left padding
    tokens[2, :] = 0  # nothing at all: an empty review
    before = [np.asarray(t) for t in model(tokens)]

    loaded, config = _saved_and_loaded(model, tmp_path)
    after = [np.asarray(t) for t in loaded(tokens)]
    for a, b in zip(after, before):
        np.testing.assert_array_equal(a, b)
    mask = tokens != 0
    expected_context, expected_weights = _oracle(_check_saved_layer(loaded, config), after[2],
                                                 mask)
    np.testing.assert_allclose(after[1], expected_weights, atol=1e-6)
    np.testing.assert_allclose(after[0], expected_context, atol=1e-5)
    assert (after[1][~mask] == 0.0).all(), "padded steps must get weight exactly 0"
    np.testing.assert_array_equal(after[1][2], np.zeros(T, "float32"))
    np.testing.assert_array_equal(after[0][2], np.zeros(F, "float32"))
    np.testing.assert_allclose(after[1][[0, 1, 3]].sum(-1), 1.0, atol=1e-6)


@pytest.mark.parametrize("units", [0, -3, 2.5, "8", True])
def test_units_must_be_a_positive_integer(units):
    with pytest.raises(ValueError, match=f"Received: units={units!r}"):
        AttentionPooling(units)


def test_inputs_must_be_steps_of_features():
    with pytest.raises(ValueError, match=r"\[batch, time, features\].*Received input shape"):
        AttentionPooling(UNITS)(np.zeros((2, F), "float32"))
