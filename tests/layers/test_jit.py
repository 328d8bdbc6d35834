"""The layers compile with XLA (jit_compile=True) and give the
same predictions and loss trajectory as without it."""
import numpy as np
import pytest
import keras
import tensorflow as tf

import layers as L
from rnn_testutils import B, T, F, H, inputs, lengths_mask

VOCAB = 12
STEPS = 3


def _stack_model():
    tokens = keras.Input((T,), dtype="int32")
    h = keras.layers.Embedding(VOCAB, F, mask_zero=True)(tokens)
    # Each layer alone is compiled below (LAYERS); this checks masked sequences passing
    # through a stack of them, kept short because XLA compile time grows with it.
    h = L.Bidirectional(L.LSTM(H, return_sequences=True), merge_mode="concat")(h)
    seq = L.SimpleRNN(H, return_sequences=True, go_backwards=False)(h)
    last = L.GRU(5, reset_after=False)(seq)
    context, _ = L.BahdanauAttention(4)(last, seq, values_mask=keras.ops.not_equal(tokens, 0))
    out = keras.layers.Dense(1)(keras.layers.Concatenate()([context, last]))
    return keras.Model(tokens, out)


def _attentive_model():
    memory = keras.Input((T, F))
    dec_in = keras.Input((4, 3))
    dec = L.AttentiveRecurrent(L.AttentiveCell(L.LSTMCell(6), L.BahdanauAttention(5)),
                               return_sequences=True)(dec_in, memory=memory)
    out = keras.layers.Dense(1)(keras.layers.GlobalAveragePooling1D()(dec))
    return keras.Model([memory, dec_in], out)


def _data(kind):
    rng = np.random.default_rng(0)
    y = rng.normal(size=(B, 1)).astype("float32")
    if kind == "stack":
        tokens = rng.integers(1, VOCAB, size=(B, T)).astype("int32")
        return np.where(lengths_mask([5, 3, 1], T), tokens, 0).astype("int32"), y
    return [inputs(), rng.normal(size=(B, 4, 3)).astype("float32")], y


@pytest.mark.parametrize("kind", ["stack", "attentive"])
def test_jit_compiled_training_matches_non_jit(kind):
    build = _stack_model if kind == "stack" else _attentive_model
    x, y = _data(kind)
    models = {}
    for jit in (True, False):
        keras.utils.set_random_seed(0)
        m = build()
        m.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse", jit_compile=jit)
        models[jit] = m
    models[False].set_weights(models[True].get_weights())
    assert models[True].jit_compile is True, "Keras turned XLA off for this model"

    traj = {}
    for jit, m in models.items():
        traj[jit] = [float(m.train_on_batch(x, y)) for _ in range(STEPS)]
    np.testing.assert_allclose(traj[True], traj[False], atol=1e-5, rtol=1e-4,
                               err_msg="loss trajectory jit vs non-jit")
    assert traj[True][-1] < traj[True][0], f"loss did not go down: {traj[True]}"
    preds = {jit: m.predict(x, verbose=0) for jit, m in models.items()}
    np.testing.assert_allclose(preds[True], preds[False], atol=1e-5, rtol=1e-4)
    for a, b in zip(models[True].get_weights(), models[False].get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=1e-4)


LAYERS = {
    "SimpleRNN": lambda: L.SimpleRNN(H, return_sequences=True, go_backwards=True),
    "GRU": lambda: L.GRU(H, return_state=True),
    "GRU_v1": lambda: L.GRU(H, reset_after=False, return_sequences=True),
    "LSTM": lambda: L.LSTM(H, return_sequences=True, return_state=True,
                           zero_output_for_mask=True),
    "Bidirectional": lambda: L.Bidirectional(L.LSTM(H, return_sequences=True), merge_mode="sum"),
}


@pytest.mark.parametrize("name", list(LAYERS))
def test_layer_under_tf_function_jit_compile_equals_eager(name):
    layer = LAYERS[name]()
    x = tf.constant(inputs())
    mask = tf.constant(lengths_mask([5, 3, 1], T, left=True))
    def run(x, mask):
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = tf.nest.flatten(layer(x, mask=mask))
            loss = tf.add_n([tf.reduce_sum(o * (i + 1.0) * o) for i, o in enumerate(out)])
        return out, tape.gradient(loss, [x] + list(layer.trainable_weights))

    eager_out, eager_grads = run(x, mask)
    compiled_out, compiled_grads = tf.function(run, jit_compile=True)(x, mask)
    assert len(compiled_out) == len(eager_out)
    for a, b in zip(compiled_out, eager_out):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5, rtol=1e-4,
                                   err_msg="XLA output differs from eager")
    for a, b in zip(compiled_grads, eager_grads):
        assert a is not None and b is not None
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5, rtol=1e-4,
                                   err_msg="XLA gradient differs from eager")
