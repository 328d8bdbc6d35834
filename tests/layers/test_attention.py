"""BahdanauAttention against a NumPy reference, and one
AttentiveCell check (Recurrent with teacher forcing == a Python step loop)."""
import numpy as np
import pytest
import keras
import tensorflow as tf

import layers as L
from rnn_testutils import B, assert_all_close, lengths_mask

TV, HV, HQ, TQ, UNITS = 5, 7, 6, 4, 8


def _data(seed=0):
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(B, TV, HV)).astype("float32")
    q2 = rng.normal(size=(B, HQ)).astype("float32")
    q3 = rng.normal(size=(B, TQ, HQ)).astype("float32")
    return values, q2, q3


def _randomize(att, seed=1):
    rng = np.random.default_rng(seed)
    for w in att.weights:
        w.assign(rng.normal(0.0, 0.5, w.shape).astype("float32"))
    return {w.name: np.asarray(w) for w in att.weights}


def _reference(w, query, values, mask=None):
    """score = v^T tanh(W1 values + b + W2 query), masked softmax, weighted sum."""
    keys = values @ w["values_kernel"] + w.get("bias", 0.0)  # [B, Tv, U]
    two_d = query.ndim == 2
    q = query[:, None, :] if two_d else query  # [B, Tq, Hq]
    proj = q @ w["query_kernel"]  # [B, Tq, U]
    hidden = np.tanh(keys[:, None, :, :].astype("float64") + proj[:, :, None, :])
    scores = (hidden @ w["score_kernel"].astype("float64"))[..., 0]  # [B, Tq, Tv]
    if mask is not None:
        scores = np.where(mask[:, None, :], scores, -np.inf)
    scores = scores - scores.max(-1, keepdims=True)
    e = np.exp(scores)
    weights = e / e.sum(-1, keepdims=True)
    context = weights @ values.astype("float64")  # [B, Tq, Hv]
    if two_d:
        return context[:, 0], weights[:, 0]
    return context, weights


@pytest.mark.parametrize("masked", [False, True], ids=["no_mask", "mask"])
@pytest.mark.parametrize("query_rank", [2, 3])
@pytest.mark.parametrize("use_bias", [True, False], ids=["bias", "no_bias"])
def test_attention_matches_numpy_reference(query_rank, masked, use_bias):
    values, q2, q3 = _data()
    query = q2 if query_rank == 2 else q3
    mask = lengths_mask([5, 3, 1], TV) if masked else None
    att = L.BahdanauAttention(UNITS, use_bias=use_bias)
    att(query, values)  # build
    w = _randomize(att)
    expected_names = {"values_kernel", "query_kernel", "score_kernel"} | (
        {"bias"} if use_bias else set())
    assert set(w) == expected_names
    assert w["values_kernel"].shape == (HV, UNITS)
    assert w["query_kernel"].shape == (HQ, UNITS)
    assert w["score_kernel"].shape == (UNITS, 1)
    if use_bias:
        assert w["bias"].shape == (UNITS,)

    kwargs = {} if mask is None else {"values_mask": tf.constant(mask)}
    context, weights = att(tf.constant(query), tf.constant(values), **kwargs)
    ref_ctx, ref_w = _reference(w, query, values, mask)
    lead = (B,) if query_rank == 2 else (B, TQ)
    assert tuple(context.shape) == lead + (HV,)
    assert tuple(weights.shape) == lead + (TV,)
    np.testing.assert_allclose(np.asarray(weights), ref_w, atol=1e-5, rtol=1e-4)
    np.testing.assert_allclose(np.asarray(context), ref_ctx, atol=1e-5, rtol=1e-4)
    np.testing.assert_allclose(np.asarray(weights).sum(-1), np.ones(lead), atol=1e-6)
    if mask is not None:
        wm = np.asarray(weights)
        full_mask = np.broadcast_to(mask if query_rank == 2 else mask[:, None, :], wm.shape)
        assert (wm[~full_mask] == 0.0).all(), "masked positions must get weight exactly 0"


@pytest.mark.parametrize("query_rank", [2, 3])
def test_precomputed_keys_give_identical_results(query_rank):
    values, q2, q3 = _data(2)
    query = q2 if query_rank == 2 else q3
    mask = tf.constant(lengths_mask([5, 2, 4], TV, left=True))
    att = L.BahdanauAttention(UNITS)
    att(query, values)
    w = _randomize(att, seed=3)
    keys = att.compute_keys(tf.constant(values))
    np.testing.assert_allclose(np.asarray(keys), values @ w["values_kernel"] + w["bias"],
                               atol=1e-5, rtol=1e-5)
    c1, w1 = att(tf.constant(query), tf.constant(values), values_mask=mask)
    c2, w2 = att(tf.constant(query), tf.constant(values), values_mask=mask, keys=keys)
    np.testing.assert_array_equal(np.asarray(c2), np.asarray(c1))
    np.testing.assert_array_equal(np.asarray(w2), np.asarray(w1))


def test_attention_gradients_reach_weights_query_and_unmasked_values_only():
    """Gradients flow to every weight, the query and the unmasked values."""
    values, q2, _ = _data(4)
    att = L.BahdanauAttention(UNITS)
    att(q2, values)
    _randomize(att, seed=5)
    q = tf.constant(q2)
    v = tf.constant(values)
    with tf.GradientTape() as tape:
        tape.watch([q, v])
        c, w = att(q, v, values_mask=tf.constant(lengths_mask([5, 3, 1], TV)))
        loss = tf.reduce_sum(c * c) + tf.reduce_sum(w * tf.range(TV, dtype="float32"))
    grads = tape.gradient(loss, [q, v] + list(att.trainable_weights))
    assert all(g is not None for g in grads)
    gv = np.asarray(grads[1])
    # Padded values have weight 0, so no gradient reaches them.
    m = lengths_mask([5, 3, 1], TV)
    np.testing.assert_array_equal(gv[~m], 0.0)
    assert np.abs(gv[m]).sum() > 0


def test_attention_weights_initializer_and_config():
    att = L.BahdanauAttention(UNITS, use_bias=True, kernel_initializer="ones",
                              bias_initializer=keras.initializers.Constant(0.5))
    values, q2, _ = _data()
    att(q2, values)
    w = {v.name: np.asarray(v) for v in att.weights}
    np.testing.assert_array_equal(w["query_kernel"], np.ones((HQ, UNITS), "float32"))
    np.testing.assert_array_equal(w["bias"], np.full((UNITS,), 0.5, "float32"))
    cfg = att.get_config()
    assert cfg["units"] == UNITS and cfg["use_bias"] is True


# ---------------------------------------------------------------------------
# AttentiveCell: the one check asked of this suite.
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("cell_name", ["GRUCell", "LSTMCell", "SimpleRNNCell"])
def test_attentive_cell_teacher_forcing_equals_python_step_loop(cell_name):
    rng = np.random.default_rng(6)
    t_dec, f_dec, units, att_units = 4, 3, 8, 6
    x = rng.normal(size=(B, t_dec, f_dec)).astype("float32")
    memory = rng.normal(size=(B, TV, HV)).astype("float32")
    mmask = lengths_mask([5, 3, 2], TV)
    cell = L.AttentiveCell(getattr(L, cell_name)(units), L.BahdanauAttention(att_units))
    rnn = L.AttentiveRecurrent(cell, return_sequences=True, return_state=True)
    rnn(x, memory=memory, memory_mask=mmask)  # build
    for i, w in enumerate(rnn.weights):
        w.assign(np.random.default_rng(100 + i).normal(0, 0.5, w.shape).astype("float32"))
    out = rnn(tf.constant(x), memory=tf.constant(memory), memory_mask=tf.constant(mmask))
    seq, states = out[0], list(out[1:])
    assert tuple(seq.shape) == (B, t_dec, units + HV)

    xs = tf.constant(x)
    st = cell.get_initial_state(batch_size=B)
    st = list(st) if isinstance(st, (list, tuple)) else [st]
    constants = cell.prepare(xs[:, 0], st, memory=tf.constant(memory),
                             memory_mask=tf.constant(mmask))
    loop_outs = []
    for t in range(t_dec):
        o, st = cell.step(xs[:, t], st, constants)
        st = list(st) if isinstance(st, (list, tuple)) else [st]
        loop_outs.append(np.asarray(o))
    np.testing.assert_allclose(np.asarray(seq), np.stack(loop_outs, 1), atol=1e-5, rtol=1e-4)
    assert_all_close([np.asarray(s) for s in states], [np.asarray(s) for s in st], "final states")
    # The context part of each output is a convex combination of unmasked memory rows only.
    ctx = np.asarray(seq)[..., units:]
    assert np.isfinite(ctx).all()


def test_attentive_cell_context_gate_matches_numpy_step():
    """beta = sigmoid(w . h + b) scales the context fed to the cell and output (Xu et al. 4.2.1)."""
    rng = np.random.default_rng(7)
    units, att_units, f_dec = 5, 4, 3
    x = rng.normal(size=(B, 2, f_dec)).astype("float32")
    memory = rng.normal(size=(B, TV, HV)).astype("float32")
    cell = L.AttentiveCell(L.SimpleRNNCell(units, activation="tanh"),
                           L.BahdanauAttention(att_units), context_gate=True)
    rnn = L.AttentiveRecurrent(cell, return_sequences=True)
    rnn(x, memory=memory)  # build
    for i, w in enumerate(rnn.weights):
        w.assign(np.random.default_rng(200 + i).normal(0, 0.5, w.shape).astype("float32"))
    out = np.asarray(rnn(tf.constant(x), memory=tf.constant(memory)))

    att = {w.name: np.asarray(w) for w in cell.attention.weights}
    kernel, recurrent, bias = (np.asarray(w) for w in cell.cell.weights)
    gate_w, gate_b = np.asarray(cell.gate_kernel), np.asarray(cell.gate_bias)
    h = np.zeros((B, units), "float64")
    for t in range(2):
        context, _ = _reference(att, h.astype("float32"), memory)
        beta = 1 / (1 + np.exp(-(h @ gate_w + gate_b)))  # [B, 1]
        gated = beta * context
        h = np.tanh(np.concatenate([x[:, t], gated], -1) @ kernel + h @ recurrent + bias)
        np.testing.assert_allclose(out[:, t], np.concatenate([h, gated], -1), atol=1e-5)

    config = cell.get_config()
    assert config["context_gate"] is True
    assert L.AttentiveCell.from_config(config).context_gate is True
    assert "context_gate" in L.AttentiveCell(L.GRUCell(2), L.BahdanauAttention(2)).get_config()


@pytest.mark.parametrize("query_rank", [2, 3])
def test_fully_masked_values_give_zero_weights_and_context(query_rank):
    """Attention over nothing reads nothing (the convention AttentionPooling shares)."""
    values, q2, q3 = _data(8)
    query = q2 if query_rank == 2 else q3
    mask = lengths_mask([5, 0, 2], TV)
    att = L.BahdanauAttention(UNITS)
    att(query, values)
    w = _randomize(att, seed=9)
    context, weights = (np.asarray(t) for t in att(query, values, values_mask=mask))
    np.testing.assert_array_equal(weights[1], np.zeros_like(weights[1]))
    np.testing.assert_array_equal(context[1], np.zeros_like(context[1]))
    ref_ctx, ref_w = _reference(w, query[[0, 2]], values[[0, 2]], mask[[0, 2]])
    np.testing.assert_allclose(weights[[0, 2]], ref_w, atol=1e-5, rtol=1e-4)
    np.testing.assert_allclose(context[[0, 2]], ref_ctx, atol=1e-5, rtol=1e-4)


def test_additive_attention_is_bahdanau_without_a_query():
    """`additive_attention(W1 values + b, v, values)` is the pooling form of the same scores."""
    values, _, _ = _data(10)
    mask = lengths_mask([5, 3, 1], TV)
    att = L.BahdanauAttention(UNITS)
    att(np.zeros((B, HQ), "float32"), values)
    w = _randomize(att, seed=11)
    w["query_kernel"] = np.zeros_like(w["query_kernel"])
    context, weights = L.attention.additive_attention(att.compute_keys(values), att.score_kernel,
                                                      values, mask)
    ref_ctx, ref_w = _reference(w, np.zeros((B, HQ), "float32"), values, mask)
    np.testing.assert_allclose(np.asarray(weights), ref_w, atol=1e-5, rtol=1e-4)
    np.testing.assert_allclose(np.asarray(context), ref_ctx, atol=1e-5, rtol=1e-4)
