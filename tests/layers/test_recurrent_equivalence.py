"""Our SimpleRNN / GRU / LSTM give the same numbers as Keras.

Outputs, final states and gradients (w.r.t. the inputs, the initial states and
every weight) are compared with the Keras built-in holding the same weights.
"""
import numpy as np
import pytest
import keras
import tensorflow as tf

import layers as L
from rnn_testutils import (
    B, T, F, KINDS, keras_layer, our_layer, random_weights, inputs,
    states_for, lengths_mask, run_with_grads, assert_all_close, build_call,
)

KIND_IDS = list(KINDS)

# name -> (layer kwargs, call options)
CASES = {
    "last_output": ({}, {}),
    "return_sequences": ({"return_sequences": True}, {}),
    "return_state": ({"return_state": True}, {}),
    "sequences_and_state": ({"return_sequences": True, "return_state": True}, {}),
    "go_backwards": ({"go_backwards": True}, {}),
    "go_backwards_sequences_state": (
        {"go_backwards": True, "return_sequences": True, "return_state": True}, {}),
    "initial_state": ({"return_state": True}, {"initial_state": True}),
    "initial_state_backwards_sequences": (
        {"go_backwards": True, "return_sequences": True}, {"initial_state": True}),
    "no_bias": ({"use_bias": False, "return_sequences": True}, {}),
    "relu": ({"activation": "relu", "return_sequences": True}, {}),
    "hard_sigmoid_gates": (
        {"recurrent_activation": "hard_sigmoid", "return_sequences": True}, {}),
    "relu_hard_sigmoid_no_bias": (
        {"activation": "relu", "recurrent_activation": "hard_sigmoid",
         "use_bias": False, "return_state": True}, {}),
    "mask_right": ({"return_sequences": True, "return_state": True},
                   {"mask": "right"}),
    "mask_left": ({"return_sequences": True, "return_state": True},
                  {"mask": "left"}),
    "mask_right_last": ({}, {"mask": "right"}),
    "mask_left_last": ({}, {"mask": "left"}),
    "mask_right_backwards": (
        {"go_backwards": True, "return_sequences": True, "return_state": True},
        {"mask": "right"}),
    "mask_left_backwards": ({"go_backwards": True, "return_state": True},
                            {"mask": "left"}),
    "mask_right_zero_output": (
        {"return_sequences": True, "zero_output_for_mask": True, "return_state": True},
        {"mask": "right"}),
    "mask_left_zero_output": (
        {"return_sequences": True, "zero_output_for_mask": True},
        {"mask": "left"}),
    "mask_with_initial_state": (
        {"return_sequences": True, "return_state": True},
        {"mask": "right", "initial_state": True}),
    "mask_fully_masked_row": (
        {"return_sequences": True, "return_state": True},
        {"mask": "right", "lengths": [5, 0, 2]}),
    "batch_1": ({"return_sequences": True, "return_state": True}, {"batch": 1}),
    "length_1": ({"return_sequences": True, "return_state": True}, {"time": 1}),
    "batch_1_length_1_backwards": (
        {"return_state": True, "go_backwards": True}, {"batch": 1, "time": 1}),
    "unroll_accepted": ({"return_sequences": True, "unroll": True}, {}),
}


def _applicable(kind, layer_kw):
    return not (kind == "simple_rnn" and "recurrent_activation" in layer_kw)


PARAMS = [
    pytest.param(kind, case, id=f"{kind}-{case}")
    for kind in KIND_IDS
    for case, (kw, _) in CASES.items()
    if _applicable(kind, kw)
]


def _pair(kind, layer_kw, x, seed=0):
    k = keras_layer(kind, **layer_kw)
    o = our_layer(kind, **layer_kw)
    build_call(k, x)
    build_call(o, x)
    random_weights(k, seed=seed)
    o.set_weights(k.get_weights())
    return k, o


@pytest.mark.parametrize("kind,case", PARAMS)
def test_same_outputs_states_and_gradients_as_keras(kind, case):
    layer_kw, opts = CASES[case]
    b = opts.get("batch", B)
    t = opts.get("time", T)
    x = inputs(b, t)
    mask = None
    if "mask" in opts:
        lengths = opts.get("lengths", [5, 3, 1][:b])
        mask = lengths_mask(lengths, t, left=opts["mask"] == "left")
        # Junk in the padded positions: it must not leak into the results.
        x = np.where(mask[..., None], x, 7.0 * np.sign(x)).astype("float32")
    init = states_for(kind, b) if opts.get("initial_state") else None

    k, o = _pair(kind, layer_kw, x)
    k_out, k_grads = run_with_grads(k, x, initial_state=init, mask=mask)
    o_out, o_grads = run_with_grads(o, x, initial_state=init, mask=mask)
    assert_all_close(o_out, k_out, "outputs/states")
    assert_all_close(o_grads, k_grads, "gradients (inputs, states, weights)")


@pytest.mark.parametrize("kind", KIND_IDS)
def test_weights_copied_from_ours_to_keras(kind):
    """set_weights works the other way too: ours -> Keras gives the same numbers."""
    x = inputs()
    k = keras_layer(kind, return_sequences=True, return_state=True)
    o = our_layer(kind, return_sequences=True, return_state=True)
    build_call(k, x)
    build_call(o, x)
    random_weights(o, seed=5)
    k.set_weights(o.get_weights())
    assert_all_close(o(x), k(x), "outputs after ours->keras copy")


@pytest.mark.parametrize("kind", KIND_IDS)
def test_training_flag_without_dropout_changes_nothing(kind):
    x = inputs()
    k, o = _pair(kind, {"return_sequences": True}, x)
    assert_all_close([o(x, training=True)], [k(x, training=True)], "training=True")


# ---------------------------------------------------------------------------
# Masks coming from the Keras mask machinery in a functional model.
# ---------------------------------------------------------------------------

VOCAB = 11


def _token_batch(left, t=T):
    rng = np.random.default_rng(3)
    tokens = rng.integers(1, VOCAB, size=(B, t)).astype("int32")
    m = lengths_mask([5, 3, 1], t, left=left)
    return np.where(m, tokens, 0).astype("int32")


def _model_grads(model, x):
    with tf.GradientTape() as tape:
        outs = tf.nest.flatten(model(x))
        ws = [np.random.default_rng(200 + i).normal(size=o.shape).astype("float32")
              for i, o in enumerate(outs)]
        loss = tf.add_n([tf.reduce_sum(o * w) for o, w in zip(outs, ws)])
    grads = tape.gradient(loss, model.trainable_weights)
    for w, g in zip(model.trainable_weights, grads):
        assert g is not None, f"no gradient to {w.path}"
    # Embedding gradients come as IndexedSlices: densify.
    return [np.asarray(o) for o in outs], [np.asarray(tf.convert_to_tensor(g)) for g in grads]


@pytest.mark.parametrize("left", [False, True], ids=["right_pad", "left_pad"])
@pytest.mark.parametrize("return_sequences", [False, True], ids=["last", "seq"])
@pytest.mark.parametrize("kind", KIND_IDS)
def test_embedding_mask_zero_in_functional_model(kind, return_sequences, left):
    tokens = _token_batch(left)
    emb = keras.layers.Embedding(VOCAB, F, mask_zero=True)

    def model(rnn):
        inp = keras.Input((T,), dtype="int32")
        out = rnn(emb(inp))
        return keras.Model(inp, out)

    k_rnn = keras_layer(kind, return_sequences=return_sequences, return_state=True)
    o_rnn = our_layer(kind, return_sequences=return_sequences, return_state=True)
    km, om = model(k_rnn), model(o_rnn)
    random_weights(k_rnn, seed=4)
    o_rnn.set_weights(k_rnn.get_weights())
    k_out, k_grads = _model_grads(km, tokens)
    o_out, o_grads = _model_grads(om, tokens)
    assert_all_close(o_out, k_out, "outputs/states")
    assert_all_close(o_grads, k_grads, "gradients")


@pytest.mark.parametrize("left", [False, True], ids=["right_pad", "left_pad"])
@pytest.mark.parametrize("kind", KIND_IDS)
def test_masking_layer_and_mask_propagation_through_stack(kind, left):
    """Masking -> ours(return_sequences) -> Keras LSTM: our layer must pass the
    mask on (compute_mask), exactly as the Keras layer does."""
    x = inputs()
    m = lengths_mask([5, 3, 1], T, left=left)
    x = np.where(m[..., None], x, 0.0).astype("float32")

    def model(first):
        inp = keras.Input((T, F))
        h = keras.layers.Masking(0.0)(inp)
        h = first(h)
        out = keras.layers.LSTM(5, return_sequences=True)(h)
        return keras.Model(inp, out)

    k_first = keras_layer(kind, return_sequences=True)
    o_first = our_layer(kind, return_sequences=True)
    km, om = model(k_first), model(o_first)
    random_weights(km, seed=8)
    om.set_weights(km.get_weights())
    k_out, k_grads = _model_grads(km, x)
    o_out, o_grads = _model_grads(om, x)
    assert_all_close(o_out, k_out, "outputs")
    assert_all_close(o_grads, k_grads, "gradients")


@pytest.mark.parametrize("kind", KIND_IDS)
def test_output_mask_matches_keras(kind):
    x = inputs()
    m = lengths_mask([5, 3, 1], T)
    for kw in ({"return_sequences": True}, {"return_sequences": False}):
        k = keras_layer(kind, **kw)
        o = our_layer(kind, **kw)
        build_call(k, x)
        build_call(o, x)
        km = k.compute_mask(tf.constant(x), tf.constant(m))
        om = o.compute_mask(tf.constant(x), tf.constant(m))
        if km is None:
            assert om is None, f"{kw}: Keras gives no output mask, ours gives {om}"
        else:
            np.testing.assert_array_equal(np.asarray(om), np.asarray(km))


# ---------------------------------------------------------------------------
# Recurrent(cell) directly, and the cells inside keras.layers.RNN.
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("mask", [None, "left"])
@pytest.mark.parametrize("kind", KIND_IDS)
def test_recurrent_over_our_cell_equals_keras_layer(kind, mask):
    from rnn_testutils import our_cell
    x = inputs()
    m = None if mask is None else lengths_mask([5, 3, 1], T, left=True)
    kw = {"return_sequences": True, "return_state": True, "go_backwards": True}
    k = keras_layer(kind, **kw)
    o = L.Recurrent(our_cell(kind), **kw)
    build_call(k, x)
    build_call(o, x)
    random_weights(k, seed=9)
    o.set_weights(k.get_weights())
    k_out, k_grads = run_with_grads(k, x, mask=m)
    o_out, o_grads = run_with_grads(o, x, mask=m)
    assert_all_close(o_out, k_out, "outputs/states")
    assert_all_close(o_grads, k_grads, "gradients")


@pytest.mark.parametrize("kind", KIND_IDS)
def test_our_cell_inside_keras_rnn_equals_our_recurrent(kind):
    from rnn_testutils import our_cell
    x = inputs()
    m = lengths_mask([5, 3, 1], T)
    kw = {"return_sequences": True, "return_state": True}
    krnn = keras.layers.RNN(our_cell(kind), **kw)
    ours = L.Recurrent(our_cell(kind), **kw)
    ref = keras_layer(kind, **kw)
    for lay in (krnn, ours, ref):
        build_call(lay, x)
    random_weights(ref, seed=10)
    krnn.set_weights(ref.get_weights())
    ours.set_weights(ref.get_weights())
    r_out, r_grads = run_with_grads(ref, x, mask=m)
    k_out, k_grads = run_with_grads(krnn, x, mask=m)
    o_out, o_grads = run_with_grads(ours, x, mask=m)
    assert_all_close(k_out, r_out, "keras.layers.RNN(our cell) vs keras layer")
    assert_all_close(k_grads, r_grads, "keras.layers.RNN(our cell) gradients")
    assert_all_close(o_out, k_out, "Recurrent(our cell) vs keras.layers.RNN(our cell)")
    assert_all_close(o_grads, k_grads, "Recurrent(our cell) gradients")


# ---------------------------------------------------------------------------
# Training with regularizers and constraints gives the same step as Keras.
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("kind", KIND_IDS)
def test_one_training_step_with_regularizers_and_constraints_matches_keras(kind):
    x = inputs()
    y = np.random.default_rng(11).normal(size=(B, 1)).astype("float32")
    kw = dict(
        kernel_regularizer=keras.regularizers.L2(0.05),
        recurrent_regularizer=keras.regularizers.L1(0.02),
        bias_regularizer=keras.regularizers.L2(0.1),
        kernel_constraint=keras.constraints.NonNeg(),
        recurrent_constraint=keras.constraints.MaxNorm(0.5),
        bias_constraint=keras.constraints.NonNeg(),
    )

    def model(rnn):
        inp = keras.Input((T, F))
        out = keras.layers.Dense(1, kernel_initializer="ones")(rnn(inp))
        mdl = keras.Model(inp, out)
        mdl.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
        return mdl

    k_rnn, o_rnn = keras_layer(kind, **kw), our_layer(kind, **kw)
    km, om = model(k_rnn), model(o_rnn)
    random_weights(k_rnn, seed=12)
    o_rnn.set_weights(k_rnn.get_weights())

    k_losses = [float(km.train_on_batch(x, y)) for _ in range(2)]
    o_losses = [float(om.train_on_batch(x, y)) for _ in range(2)]
    np.testing.assert_allclose(o_losses, k_losses, atol=1e-5, rtol=1e-4,
                               err_msg="loss incl. regularization")
    assert_all_close(o_rnn.get_weights(), k_rnn.get_weights(),
                     "weights after constrained SGD steps")
    kernel = o_rnn.get_weights()[0]
    assert (kernel >= 0).all(), "kernel_constraint=NonNeg was not applied"


@pytest.mark.parametrize("kind", KIND_IDS)
def test_activity_regularizer_adds_its_loss(kind):
    """activity_regularizer(output) / batch_size lands in layer.losses, as for
    every Keras layer. (keras.layers.SimpleRNN itself drops this argument, a
    Keras bug, so the oracle here is the formula rather than the built-in.)"""
    x = inputs()
    o = our_layer(kind, activity_regularizer=keras.regularizers.L2(0.03),
                  return_sequences=True)
    build_call(o, x)
    random_weights(o, seed=13)
    out = np.asarray(o(x))
    assert len(o.losses) == 1, o.losses
    np.testing.assert_allclose(float(o.losses[0]), 0.03 * np.sum(out.astype("float64") ** 2) / B,
                               rtol=1e-5)
