"""The cells and the Keras surface of the layers.

One step of each cell against the Keras cell, weight names/shapes, the cell
protocol, initializers, regularizers, unit_forget_bias, IRNN, dropout (one mask
per sequence), stateful layers.
"""
import numpy as np
import pytest
import keras
import tensorflow as tf

import layers as L
from rnn_testutils import (
    B, T, F, H, KINDS, n_states, keras_layer, our_layer, keras_cell, our_cell,
    random_weights, inputs, states_for, assert_all_close, build_call,
)

KIND_IDS = list(KINDS)


def _flat(x):
    return [np.asarray(t) for t in tf.nest.flatten(x)]


def _flat_sizes(state_size):
    return [int(s) for s in tf.nest.flatten(state_size)]


def _built_cell_pair(kind, **kw):
    kc, oc = keras_cell(kind, **kw), our_cell(kind, **kw)
    kc.build((B, F))
    oc.build((B, F))
    random_weights(kc, seed=21)
    oc.set_weights(kc.get_weights())
    return kc, oc


# ---------------------------------------------------------------------------
# One step against the Keras cells.
# ---------------------------------------------------------------------------

STEP_CASES = {
    "default": {},
    "no_bias": {"use_bias": False},
    "relu": {"activation": "relu"},
    "relu_hard_sigmoid": {"activation": "relu", "recurrent_activation": "hard_sigmoid"},
}


@pytest.mark.parametrize("kind,extra", [
    pytest.param(kind, extra, id=f"{kind}-{name}")
    for kind in KIND_IDS
    for name, extra in STEP_CASES.items()
    if not (kind == "simple_rnn" and "recurrent_activation" in extra)
])
def test_one_step_equals_keras_cell(kind, extra):
    kc, oc = _built_cell_pair(kind, **extra)
    x = tf.constant(inputs()[:, 0, :])
    states = [tf.constant(s) for s in states_for(kind)]
    results = []
    for cell in (kc, oc):
        with tf.GradientTape() as tape:
            tape.watch(x)
            for s in states:
                tape.watch(s)
            out, new_states = cell(x, states, training=False)
            flat = tf.nest.flatten([out, new_states])
            loss = tf.add_n([tf.reduce_sum(t * (i + 1.0) * t) for i, t in enumerate(flat)])
        grads = tape.gradient(loss, [x] + states + list(cell.trainable_weights))
        results.append((_flat(out), _flat(new_states), [np.asarray(g) for g in grads]))
    (ko, ks, kg), (oo, os_, og) = results
    assert_all_close(oo, ko, "step output")
    assert_all_close(os_, ks, "step new states")
    assert_all_close(og, kg, "step gradients")


@pytest.mark.parametrize("kind", KIND_IDS)
def test_cell_protocol_sizes_and_initial_state(kind):
    kc, oc = keras_cell(kind), our_cell(kind)
    assert _flat_sizes(oc.state_size) == _flat_sizes(kc.state_size)
    assert int(oc.output_size) == int(kc.output_size) == H
    init = oc.get_initial_state(batch_size=B)
    flat = _flat(init)
    assert len(flat) == n_states(kind)
    for s in flat:
        assert s.shape == (B, H)
        np.testing.assert_array_equal(s, np.zeros((B, H), "float32"))


@pytest.mark.parametrize("kind", KIND_IDS)
def test_cell_weight_names_and_shapes_equal_keras(kind):
    kc, oc = _built_cell_pair(kind)
    assert [w.name for w in oc.weights] == [w.name for w in kc.weights]
    assert [tuple(w.shape) for w in oc.weights] == [tuple(w.shape) for w in kc.weights]


@pytest.mark.parametrize("kind", KIND_IDS)
def test_layer_weight_names_and_shapes_equal_keras(kind):
    x = inputs()
    k, o = keras_layer(kind), our_layer(kind)
    build_call(k, x)
    build_call(o, x)
    assert [w.name for w in o.weights] == [w.name for w in k.weights]
    assert [tuple(w.shape) for w in o.weights] == [tuple(w.shape) for w in k.weights]
    assert [tuple(w.shape) for w in o.trainable_weights] == [
        tuple(w.shape) for w in k.trainable_weights
    ]
    assert len(o.non_trainable_weights) == len(k.non_trainable_weights) == 0


@pytest.mark.parametrize(
    "kind,gates,bias_shape",
    [("simple_rnn", 1, (H,)), ("gru", 3, (2, 3 * H)), ("gru_v1", 3, (3 * H,)),
     ("lstm", 4, (4 * H,))],
)
def test_gate_layout_shapes(kind, gates, bias_shape):
    oc = our_cell(kind)
    oc.build((B, F))
    ws = {w.name: tuple(w.shape) for w in oc.weights}
    assert ws == {"kernel": (F, gates * H), "recurrent_kernel": (H, gates * H),
                  "bias": bias_shape}


def test_lstm_gate_order_i_f_c_o():
    """Saturate one gate at a time through the bias: the forget gate (slice 1)
    fully open and input gate (slice 0) shut means c_t == c_{t-1}."""
    oc = our_cell("lstm")
    oc.build((B, F))
    kernel = np.zeros((F, 4 * H), "float32")
    rec = np.zeros((H, 4 * H), "float32")
    bias = np.zeros((4 * H,), "float32")
    bias[0:H] = -100.0       # i shut
    bias[H:2 * H] = 100.0    # f open
    bias[2 * H:3 * H] = 5.0  # candidate
    bias[3 * H:] = 100.0     # o open
    oc.set_weights([kernel, rec, bias])
    h0, c0 = states_for("lstm")
    out, (h1, c1) = oc(tf.constant(inputs()[:, 0]), [tf.constant(h0), tf.constant(c0)])
    np.testing.assert_allclose(np.asarray(c1), c0, atol=1e-5)
    np.testing.assert_allclose(np.asarray(h1), np.tanh(c0), atol=1e-5)


def test_gru_gate_order_z_r_h():
    """z (slice 0) saturated at 1 means h_t == h_{t-1}."""
    for reset_after in (True, False):
        oc = our_cell("gru" if reset_after else "gru_v1")
        oc.build((B, F))
        w = [np.zeros(v.shape, "float32") for v in oc.weights]
        bias = w[2]
        if reset_after:
            bias[0, 0:H] = 100.0
        else:
            bias[0:H] = 100.0
        w[0] = np.random.default_rng(0).normal(size=w[0].shape).astype("float32")
        oc.set_weights(w)
        (h0,) = states_for("gru")
        out, new = oc(tf.constant(inputs()[:, 0]), [tf.constant(h0)])
        np.testing.assert_allclose(_flat(new)[0], h0, atol=1e-5)


# ---------------------------------------------------------------------------
# Initializers, unit_forget_bias, IRNN, regularizers.
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("kind", KIND_IDS)
def test_initializers_are_applied(kind):
    kw = dict(kernel_initializer="ones",
              recurrent_initializer=keras.initializers.Constant(0.5),
              bias_initializer=keras.initializers.Constant(0.25))
    if kind == "lstm":
        kw["unit_forget_bias"] = False
    o = our_layer(kind, **kw)
    build_call(o, inputs())
    kernel, rec, bias = o.get_weights()
    np.testing.assert_array_equal(kernel, np.ones_like(kernel))
    np.testing.assert_array_equal(rec, np.full_like(rec, 0.5))
    np.testing.assert_array_equal(bias, np.full_like(bias, 0.25))


@pytest.mark.parametrize("kind", KIND_IDS)
def test_default_initializers_match_keras_statistics(kind):
    """glorot_uniform kernel (within its limit), orthogonal recurrent kernel
    per gate block, zero bias (plus LSTM forget ones)."""
    o = our_layer(kind)
    build_call(o, inputs())
    kernel, rec, bias = o.get_weights()
    limit = np.sqrt(6.0 / (kernel.shape[0] + kernel.shape[1]))
    assert np.abs(kernel).max() <= limit + 1e-6
    assert np.abs(kernel).max() > 0
    assert np.abs(rec).max() > 0
    expected_bias = np.zeros_like(bias)
    if kind == "lstm":
        expected_bias[H:2 * H] = 1.0
    np.testing.assert_array_equal(bias, expected_bias)


@pytest.mark.parametrize("unit_forget_bias", [True, False])
def test_unit_forget_bias(unit_forget_bias):
    init = keras.initializers.Constant(0.3)
    for make in (lambda **kw: L.LSTMCell(H, **kw), lambda **kw: L.LSTM(H, **kw)):
        lay = make(unit_forget_bias=unit_forget_bias, bias_initializer=init)
        if isinstance(lay, L.LSTMCell):
            lay.build((B, F))
        else:
            build_call(lay, inputs())
        bias = lay.get_weights()[2]
        expected = np.full((4 * H,), 0.3, "float32")
        if unit_forget_bias:
            expected[H:2 * H] = 1.0
        np.testing.assert_allclose(bias, expected, atol=1e-7)


def test_irnn_identity_recurrent_kernel():
    o = L.SimpleRNN(H, activation="relu", recurrent_initializer="identity")
    build_call(o, inputs())
    rec = o.get_weights()[1]
    np.testing.assert_array_equal(rec, np.eye(H, dtype="float32"))
    # And it really is a ReLU RNN: outputs never negative.
    out = np.asarray(o(inputs(), ))
    assert (out >= 0).all()
    # Same numbers as the Keras IRNN holding the same weights.
    k = keras.layers.SimpleRNN(H, activation="relu", recurrent_initializer="identity")
    build_call(k, inputs())
    k.set_weights(o.get_weights())
    np.testing.assert_allclose(out, np.asarray(k(inputs())), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("kind", KIND_IDS)
def test_regularizer_losses_appear_in_layer_losses(kind):
    o = our_layer(kind, kernel_regularizer=keras.regularizers.L2(0.1),
                  recurrent_regularizer=keras.regularizers.L1(0.01),
                  bias_regularizer=keras.regularizers.L2(0.2))
    k = keras_layer(kind, kernel_regularizer=keras.regularizers.L2(0.1),
                    recurrent_regularizer=keras.regularizers.L1(0.01),
                    bias_regularizer=keras.regularizers.L2(0.2))
    x = inputs()
    build_call(o, x)
    build_call(k, x)
    random_weights(k, seed=31)
    o.set_weights(k.get_weights())
    kernel, rec, bias = o.get_weights()
    expected = 0.1 * np.sum(kernel ** 2) + 0.01 * np.sum(np.abs(rec)) + 0.2 * np.sum(bias ** 2)
    assert len(o.losses) == 3
    np.testing.assert_allclose(float(tf.add_n(o.losses)), expected, rtol=1e-5)
    np.testing.assert_allclose(float(tf.add_n(o.losses)), float(tf.add_n(k.losses)), rtol=1e-5)


@pytest.mark.parametrize("kind", KIND_IDS)
def test_constraints_are_attached_to_the_weights(kind):
    o = our_layer(kind, kernel_constraint=keras.constraints.NonNeg(),
                  recurrent_constraint=keras.constraints.MaxNorm(2.0),
                  bias_constraint=keras.constraints.NonNeg())
    build_call(o, inputs())
    by_name = {w.name: w for w in o.weights}
    assert isinstance(by_name["kernel"].constraint, keras.constraints.NonNeg)
    assert isinstance(by_name["recurrent_kernel"].constraint, keras.constraints.MaxNorm)
    assert isinstance(by_name["bias"].constraint, keras.constraints.NonNeg)


# ---------------------------------------------------------------------------
# Dropout.
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("kind", KIND_IDS)
def test_dropout_has_no_effect_at_inference(kind):
    x = inputs()
    drop = our_layer(kind, dropout=0.4, recurrent_dropout=0.3, return_sequences=True,
                     seed=7)
    plain = our_layer(kind, return_sequences=True)
    build_call(drop, x)
    build_call(plain, x)
    random_weights(drop, seed=32)
    plain.set_weights(drop.get_weights())
    ref = np.asarray(plain(x))
    np.testing.assert_allclose(np.asarray(drop(x, training=False)), ref, atol=1e-6)
    np.testing.assert_allclose(np.asarray(drop(x)), ref, atol=1e-6)
    trained = np.asarray(drop(x, training=True))
    assert not np.allclose(trained, ref, atol=1e-3), "dropout had no effect in training"


@pytest.mark.parametrize("kind", KIND_IDS)
def test_cell_dropout_has_no_effect_at_inference(kind):
    kc, oc = _built_cell_pair(kind)
    dc = our_cell(kind, dropout=0.5, recurrent_dropout=0.5, seed=3)
    dc.build((B, F))
    dc.set_weights(oc.get_weights())
    x = tf.constant(inputs()[:, 0])
    states = [tf.constant(s) for s in states_for(kind)]
    a = _flat(dc(x, states, training=False))
    b = _flat(oc(x, states, training=False))
    assert_all_close(a, b, "cell with dropout at inference")


def test_input_dropout_mask_is_one_per_sequence():
    """Constant input over time, zero recurrent kernel: each step computes
    act(x*m_t @ W + b); all steps are equal iff the same mask m is used at
    every step. And they differ from the no-dropout outputs."""
    units, feats = 16, 32
    x = np.repeat(np.random.default_rng(4).normal(size=(B, 1, feats)), T, axis=1)
    x = x.astype("float32")
    lay = L.SimpleRNN(units, dropout=0.5, return_sequences=True, seed=11)
    build_call(lay, x)
    rng = np.random.default_rng(5)
    lay.set_weights([rng.normal(size=(feats, units)).astype("float32"),
                     np.zeros((units, units), "float32"),
                     rng.normal(size=(units,)).astype("float32")])
    out = np.asarray(lay(x, training=True))
    for t in range(1, T):
        np.testing.assert_allclose(out[:, t], out[:, 0], atol=1e-6,
                                   err_msg=f"step {t} used a different input dropout mask")
    ref = np.asarray(lay(x, training=False))
    assert not np.allclose(out, ref, atol=1e-3), "dropout had no effect in training"
    # A second training call draws a fresh mask.
    out2 = np.asarray(lay(x, training=True))
    assert not np.allclose(out, out2, atol=1e-3), "the same dropout mask was reused across calls"


def test_recurrent_dropout_mask_is_one_per_sequence():
    """Linear SimpleRNN, zero kernel, identity recurrent kernel:
    h_t = (h_{t-1} * m_t) / (1-p). With one mask m for the whole sequence the
    units that survive step 1 survive every step (and double each step, p=0.5);
    with a fresh mask per step they would die at different steps."""
    units = 64
    x = np.zeros((B, T, F), "float32")
    h0 = np.random.default_rng(6).uniform(0.5, 1.5, (B, units)).astype("float32")
    lay = L.SimpleRNN(units, activation="linear", recurrent_dropout=0.5,
                      use_bias=False, return_sequences=True, seed=12)
    build_call(lay, x, initial_state=[tf.constant(h0)])
    lay.set_weights([np.zeros((F, units), "float32"), np.eye(units, dtype="float32")])
    out = np.asarray(lay(x, initial_state=[tf.constant(h0)], training=True))
    alive = out[:, 0] != 0
    assert alive.any() and not alive.all(), "recurrent dropout had no effect"
    for t in range(1, T):
        np.testing.assert_array_equal(out[:, t] != 0, alive,
                                      err_msg=f"step {t} used a different recurrent mask")
        np.testing.assert_allclose(out[:, t], 2.0 * out[:, t - 1], rtol=1e-6)
    ref = np.asarray(lay(x, initial_state=[tf.constant(h0)], training=False))
    np.testing.assert_allclose(ref, np.repeat(h0[:, None], T, axis=1), rtol=1e-6)


def _step_ratios(seq):
    """(s_{t+1} - s_t) / (s_t - s_{t-1}) for t = 1..T-2, where defined."""
    d = np.diff(seq, axis=1)
    ok = (np.abs(d[:, :-1]) > 1e-3) & (np.abs(d[:, 1:]) > 1e-3)
    return d[:, 1:] / np.where(ok, d[:, :-1], 1.0), ok


@pytest.mark.parametrize("kind", ["gru", "gru_v1", "lstm"])
def test_gated_input_dropout_mask_constant_over_time(kind):
    """Zero recurrent kernel and constant input: every gate pre-activation is
    the same at every step iff the input dropout mask is the same at every
    step. Then GRU gives h_t = z*h_{t-1} + (1-z)*hh and LSTM (output gate
    saturated open) c_t = f*c_{t-1} + i*g with constant z / f, so the ratio of
    successive differences is constant over time (equal to z, resp. f)."""
    units, feats = 16, 32
    x = np.repeat(np.random.default_rng(7).normal(size=(B, 1, feats)), T, axis=1)
    x = x.astype("float32")
    lay = our_layer(kind, units=units, dropout=0.5, return_sequences=True, seed=13)
    build_call(lay, x)
    rng = np.random.default_rng(8)
    w = [rng.normal(0.0, 0.15, v.shape).astype("float32") for v in lay.get_weights()]
    w[1] = np.zeros_like(w[1])
    if kind == "lstm":
        w[2][3 * units:] = 50.0  # o == 1, so h_t = tanh(c_t)
    lay.set_weights(w)
    out = np.asarray(lay(x, training=True))
    seq = np.arctanh(np.clip(out, -0.999999, 0.999999)) if kind == "lstm" else out
    ratios, ok = _step_ratios(seq)
    assert ok[:, 0].sum() > 5, "test setup: too few usable units"
    for t in range(1, ratios.shape[1]):
        both = ok[:, 0] & ok[:, t]
        np.testing.assert_allclose(ratios[:, t][both], ratios[:, 0][both], rtol=2e-3,
                                   atol=1e-4, err_msg=f"gates changed at step {t + 2}: "
                                   "input dropout mask not constant over the sequence")
    ref = np.asarray(lay(x, training=False))
    assert not np.allclose(out, ref, atol=1e-3), "dropout had no effect in training"


# ---------------------------------------------------------------------------
# Stateful layers.
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("kind", KIND_IDS)
def test_stateful_two_halves_equal_one_call_and_reset_states(kind):
    x = inputs()
    st = our_layer(kind, stateful=True, return_sequences=True)
    full = our_layer(kind, return_sequences=True)
    build_call(st, x)
    build_call(full, x)
    random_weights(full, seed=41)
    for w, v in zip(st.trainable_weights, full.get_weights()):
        w.assign(v)
    st.reset_states()
    ref = np.asarray(full(x))
    a = np.asarray(st(x[:, :2]))
    b = np.asarray(st(x[:, 2:]))
    np.testing.assert_allclose(np.concatenate([a, b], axis=1), ref, atol=1e-5, rtol=1e-4)
    st.reset_states()
    a2 = np.asarray(st(x[:, :2]))
    np.testing.assert_allclose(a2, a, atol=1e-6, err_msg="reset_states did not zero the state")
    st.reset_states()
    b2 = np.asarray(st(x[:, 2:]))
    np.testing.assert_allclose(b2, np.asarray(full(x[:, 2:])), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("kind", KIND_IDS)
def test_stateful_matches_keras_stateful(kind):
    x = inputs()
    k = keras_layer(kind, stateful=True, return_state=True)
    o = our_layer(kind, stateful=True, return_state=True)
    build_call(k, x)
    build_call(o, x)
    random_weights(k, seed=42)
    for w, v in zip(o.trainable_weights, k.get_weights()):
        w.assign(v)
    k.reset_states()
    o.reset_states()
    for chunk in (x[:, :3], x[:, 3:], x[:, 1:4]):
        assert_all_close(_flat(o(chunk)), _flat(k(chunk)), "stateful chunk outputs")


@pytest.mark.parametrize("kind", KIND_IDS)
def test_stateful_layer_weights_equal_keras(kind):
    """A stateful layer's get_weights()/set_weights() is still
    [kernel, recurrent_kernel, bias] as in Keras (the carried states are not
    weights there), so weights copy between the two."""
    x = inputs()
    k = keras_layer(kind, stateful=True)
    o = our_layer(kind, stateful=True)
    build_call(k, x)
    build_call(o, x)
    assert [tuple(w.shape) for w in o.get_weights()] == [
        tuple(w.shape) for w in k.get_weights()]
    random_weights(k, seed=43)
    o.set_weights(k.get_weights())
    k.reset_states()
    o.reset_states()
    np.testing.assert_allclose(np.asarray(o(x)), np.asarray(k(x)), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("kind", KIND_IDS)
def test_dropout_follows_the_training_flag_inside_a_model(kind):
    """In a functional model, training=True (what fit() passes) turns dropout
    on; training=False / predict() leave it off."""
    x = inputs()
    inp = keras.Input((T, F))
    model = keras.Model(inp, our_layer(kind, dropout=0.5, recurrent_dropout=0.5, seed=5)(inp))
    plain_in = keras.Input((T, F))
    plain = keras.Model(plain_in, our_layer(kind)(plain_in))
    plain.set_weights(model.get_weights())
    ref = np.asarray(plain(x))
    np.testing.assert_allclose(np.asarray(model(x, training=False)), ref, atol=1e-6)
    np.testing.assert_allclose(model.predict(x, verbose=0), ref, atol=1e-5)
    assert not np.allclose(np.asarray(model(x, training=True)), ref, atol=1e-3)
