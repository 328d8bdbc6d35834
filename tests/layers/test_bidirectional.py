"""Bidirectional gives the same numbers as keras.layers.Bidirectional
in every merge mode, with masks and with return_state, wrapping each layer."""
import numpy as np
import pytest
import keras
import tensorflow as tf

import layers as L
from rnn_testutils import (
    B, T, F, H, keras_layer, our_layer, random_weights, inputs,
    states_for, lengths_mask, run_with_grads, assert_all_close, build_call,
)

WRAPPED = ["simple_rnn", "gru", "lstm"]
MERGE_MODES = ["concat", "sum", "mul", "ave", None]

# name -> (inner layer kwargs, call options)
CASES = {
    "sequences": ({"return_sequences": True}, {}),
    "last": ({}, {}),
    "sequences_mask_right": ({"return_sequences": True}, {"mask": "right"}),
    "sequences_mask_left": ({"return_sequences": True}, {"mask": "left"}),
    "last_mask_left": ({}, {"mask": "left"}),
    "state_mask_right": ({"return_state": True}, {"mask": "right"}),
    "sequences_state": ({"return_sequences": True, "return_state": True}, {}),
}


def _pair(kind, merge_mode, layer_kw, x, seed=0, **bi_kw):
    k = keras.layers.Bidirectional(keras_layer(kind, **layer_kw), merge_mode=merge_mode,
                                   **bi_kw.get("keras", {}))
    o = L.Bidirectional(our_layer(kind, **layer_kw), merge_mode=merge_mode,
                        **bi_kw.get("ours", {}))
    build_call(k, x)
    build_call(o, x)
    random_weights(k, seed=seed)
    o.set_weights(k.get_weights())
    return k, o


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("merge_mode", MERGE_MODES, ids=[str(m) for m in MERGE_MODES])
@pytest.mark.parametrize("kind", WRAPPED)
def test_bidirectional_same_as_keras(kind, merge_mode, case):
    layer_kw, opts = CASES[case]
    x = inputs()
    mask = None
    if "mask" in opts:
        mask = lengths_mask([5, 3, 1], T, left=opts["mask"] == "left")
        x = np.where(mask[..., None], x, -5.0).astype("float32")
    k, o = _pair(kind, merge_mode, layer_kw, x)
    k_out, k_grads = run_with_grads(k, x, mask=mask)
    o_out, o_grads = run_with_grads(o, x, mask=mask)
    assert_all_close(o_out, k_out, "outputs/states")
    assert_all_close(o_grads, k_grads, "gradients")


@pytest.mark.parametrize("kind", WRAPPED)
def test_bidirectional_weights_layout_equals_keras(kind):
    x = inputs()
    k, o = _pair(kind, "concat", {}, x)
    assert [tuple(w.shape) for w in o.weights] == [tuple(w.shape) for w in k.weights]
    assert [w.name for w in o.weights] == [w.name for w in k.weights]
    # Forward weights first, then backward, as in Keras.
    n = len(o.weights) // 2
    assert_all_close(o.forward_layer.get_weights(), k.get_weights()[:n], "forward weights")
    assert_all_close(o.backward_layer.get_weights(), k.get_weights()[n:], "backward weights")
    assert o.backward_layer.go_backwards and not o.forward_layer.go_backwards


@pytest.mark.parametrize("kind", WRAPPED)
def test_bidirectional_initial_state(kind):
    x = inputs()
    init = states_for(kind, seed=3) + states_for(kind, seed=4)
    kw = {"return_sequences": True, "return_state": True}
    k, o = _pair(kind, "concat", kw, x, seed=1)
    k_out, k_grads = run_with_grads(k, x, initial_state=init)
    o_out, o_grads = run_with_grads(o, x, initial_state=init)
    assert_all_close(o_out, k_out, "outputs/states")
    assert_all_close(o_grads, k_grads, "gradients")


@pytest.mark.parametrize("left", [False, True], ids=["right_pad", "left_pad"])
@pytest.mark.parametrize("kind", WRAPPED)
def test_bidirectional_with_embedding_mask_in_functional_model(kind, left):
    vocab = 9
    rng = np.random.default_rng(5)
    tokens = rng.integers(1, vocab, size=(B, T)).astype("int32")
    tokens = np.where(lengths_mask([5, 3, 1], T, left=left), tokens, 0).astype("int32")
    emb = keras.layers.Embedding(vocab, F, mask_zero=True)

    def model(bi, top):
        inp = keras.Input((T,), dtype="int32")
        h = bi(emb(inp))
        return keras.Model(inp, top(h))

    kb = keras.layers.Bidirectional(keras_layer(kind, return_sequences=True), merge_mode="sum")
    ob = L.Bidirectional(our_layer(kind, return_sequences=True), merge_mode="sum")
    # A Keras layer on top checks that the mask propagates out of the wrapper.
    km = model(kb, keras.layers.GRU(4))
    om = model(ob, keras.layers.GRU(4))
    random_weights(km, seed=6)
    om.set_weights(km.get_weights())
    np.testing.assert_allclose(np.asarray(om(tokens)), np.asarray(km(tokens)),
                               atol=1e-5, rtol=1e-4)


def test_bidirectional_custom_backward_layer():
    x = inputs()
    m = lengths_mask([5, 3, 1], T)
    k = keras.layers.Bidirectional(
        keras.layers.LSTM(H, return_sequences=True),
        backward_layer=keras.layers.LSTM(4, return_sequences=True, go_backwards=True,
                                         activation="relu"))
    o = L.Bidirectional(
        L.LSTM(H, return_sequences=True),
        backward_layer=L.LSTM(4, return_sequences=True, go_backwards=True, activation="relu"))
    build_call(k, x)
    build_call(o, x)
    random_weights(k, seed=7)
    o.set_weights(k.get_weights())
    k_out, k_grads = run_with_grads(k, x, mask=m)
    o_out, o_grads = run_with_grads(o, x, mask=m)
    assert o_out[0].shape == (B, T, H + 4)
    assert_all_close(o_out, k_out, "outputs")
    assert_all_close(o_grads, k_grads, "gradients")


@pytest.mark.parametrize("merge_mode", ["concat", None], ids=["concat", "None"])
def test_bidirectional_output_shapes(merge_mode):
    x = inputs()
    o = L.Bidirectional(L.LSTM(H, return_sequences=True, return_state=True),
                        merge_mode=merge_mode)
    out = o(x)
    shapes = [tuple(t.shape) for t in tf.nest.flatten(out)]
    if merge_mode == "concat":
        assert shapes == [(B, T, 2 * H)] + [(B, H)] * 4
    else:
        assert shapes == [(B, T, H), (B, T, H)] + [(B, H)] * 4
    k = keras.layers.Bidirectional(keras.layers.LSTM(H, return_sequences=True,
                                                     return_state=True), merge_mode=merge_mode)
    k_shapes = k.compute_output_shape((B, T, F))
    o_shapes = o.compute_output_shape((B, T, F))
    assert [tuple(s) for s in o_shapes] == [tuple(s) for s in k_shapes]


def test_bidirectional_copies_a_cell_class_that_is_not_registered():
    """A user's own cell needs no registration to be wrapped (Keras's
    Bidirectional fails to copy it); both directions run the user's recurrence."""

    class TanhCell(keras.layers.Layer):  # local: the deserialiser cannot import it
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.state_size = units

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], self.units))
            self.recurrent_kernel = self.add_weight(shape=(self.units, self.units))

        def call(self, x, state):  # one state: a tensor, as Keras passes it
            h = keras.ops.tanh(x @ self.kernel + state @ self.recurrent_kernel)
            return h, [h]

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    x = inputs()
    bi = L.Bidirectional(L.Recurrent(TanhCell(H), return_sequences=True), merge_mode=None)
    forward, backward = bi(x)
    assert type(bi.forward_layer.cell) is TanhCell and type(bi.backward_layer.cell) is TanhCell

    def numpy_run(cell, sequence):
        w, u = (np.asarray(v) for v in (cell.kernel, cell.recurrent_kernel))
        h, outputs = np.zeros((sequence.shape[0], H)), []
        for t in range(sequence.shape[1]):
            h = np.tanh(sequence[:, t] @ w + h @ u)
            outputs.append(h)
        return np.stack(outputs, axis=1)

    x = np.asarray(x)
    np.testing.assert_allclose(np.asarray(forward), numpy_run(bi.forward_layer.cell, x),
                               atol=1e-5)
    np.testing.assert_allclose(np.asarray(backward),
                               numpy_run(bi.backward_layer.cell, x[:, ::-1])[:, ::-1], atol=1e-5)
