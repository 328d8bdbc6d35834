"""Greedy and batched beam search for any step-wise decoder, as TensorFlow graphs.

Both run the whole output loop inside one `tf.while_loop` (wrap the caller in
`tf.function`; no Python loop per token). The decoder is described by two
functions, so that translation and captioning share the search:

- `prepare(context) -> constants`: everything computed once per input (e.g.
  the attention keys of the encoder outputs). Beam search calls it once on
  the context tiled to batch*beam rows, before the loop.
- `step(tokens, states, constants) -> (logits, new_states, attention)`:
  one step for the previous tokens [N]; logits [N, V]; `attention` is a
  [N, S] tensor of weights or None.

Scores are sums of `log_softmax(logits)` over the emitted tokens, the end
token included (so a hypothesis's score is the model's own log-probability of
it, recomputable by teacher forcing). Tokens in `banned` (padding, start)
are never emitted: their log-probabilities are set to -inf after the softmax,
without renormalising. Beam search ranks by `log_prob / length ** alpha`
(length normalisation; alpha 0 turns it off) both while searching and at the
end.
"""

import tensorflow as tf

NEG_INF = -1e9


def _tile(tensor, beam):
    """[B, ...] -> [B*beam, ...], each row repeated `beam` times (row-major: b*beam + k)."""
    return tf.repeat(tensor, beam, axis=0)


def _log_probs(logits, banned):
    logp = tf.nn.log_softmax(tf.cast(logits, tf.float32), axis=-1)
    if banned:
        vocab = tf.shape(logp)[-1]
        ban = tf.reduce_sum(tf.one_hot(list(banned), vocab, dtype=logp.dtype), axis=0)
        logp = tf.where(ban[None, :] > 0, tf.cast(NEG_INF, logp.dtype), logp)
    return logp


def greedy_search(prepare, step, context, initial_states, start_id, end_id, max_length,
                  banned=(0,), attention_length=None):
    """The most probable next token at every step, for a batch, until the end token.

    Args:
        prepare, step: The decoder (see the module docstring).
        context: A nest of [B, ...] tensors given to `prepare`.
        initial_states: A list of [B, ...] decoder states.
        start_id, end_id: Token ids of the start and end tokens.
        max_length: Scalar int tensor (or int): at most this many output tokens.
        banned: Token ids never emitted (padding by default).
        attention_length: Length S of the attention rows (e.g. the source
            length), to collect attention weights; None if `step` gives none.

    Returns:
        A dict: `tokens` int32 [B, T] (0 after the end token), `lengths` [B]
        (tokens emitted, the end token included), `log_prob` [B],
        `finished` bool [B], and `attention` [B, T, S] when asked for.
    """
    constants = prepare(context)
    batch = tf.shape(initial_states[0])[0]
    max_length = tf.cast(max_length, tf.int32)
    tokens_ta = tf.TensorArray(tf.int32, size=0, dynamic_size=True)
    attention_ta = tf.TensorArray(tf.float32, size=0, dynamic_size=True)

    def cond(t, previous, states, finished, log_prob, lengths, tokens_ta, attention_ta):
        return tf.logical_and(t < max_length, tf.logical_not(tf.reduce_all(finished)))

    def body(t, previous, states, finished, log_prob, lengths, tokens_ta, attention_ta):
        logits, new_states, attention = step(previous, states, constants)
        logp = _log_probs(logits, banned)
        token = tf.cast(tf.argmax(logp, axis=-1), tf.int32)
        token = tf.where(finished, 0, token)
        picked = tf.gather(logp, token, batch_dims=1)
        log_prob = log_prob + tf.where(finished, 0.0, picked)
        lengths = lengths + tf.cast(tf.logical_not(finished), tf.int32)
        finished = tf.logical_or(finished, tf.equal(token, end_id))
        tokens_ta = tokens_ta.write(t, token)
        if attention_length is not None:
            attention_ta = attention_ta.write(t, tf.cast(attention, tf.float32))
        return (t + 1, token, new_states, finished, log_prob, lengths, tokens_ta,
                attention_ta)

    start = tf.fill([batch], tf.cast(start_id, tf.int32))
    loop = tf.while_loop(
        cond, body,
        (tf.constant(0), start, list(initial_states), tf.zeros([batch], tf.bool),
         tf.zeros([batch], tf.float32), tf.zeros([batch], tf.int32), tokens_ta, attention_ta))
    _, _, _, finished, log_prob, lengths, tokens_ta, attention_ta = loop
    tokens = tf.transpose(_stack_or_empty(tokens_ta, [batch], tf.int32), [1, 0])
    result = {"tokens": tokens, "lengths": lengths, "log_prob": log_prob, "finished": finished}
    if attention_length is not None:
        stacked = _stack_or_empty(attention_ta, [batch, attention_length], tf.float32)
        result["attention"] = tf.transpose(stacked, [1, 0, 2])
    return result


def _stack_or_empty(array, element_shape, dtype):
    """`TensorArray.stack()`, or a [0, ...] tensor when nothing was written."""
    return tf.cond(array.size() > 0, array.stack,
                   lambda: tf.zeros(tf.concat([[0], element_shape], 0), dtype))


def beam_search(prepare, step, context, initial_states, start_id, end_id, max_length,
                beam_size, length_alpha=1.0, banned=(0,), attention_length=None):
    """Batched beam search: `beam_size` hypotheses per input, ranked by normalised score.

    Every input keeps `beam_size` hypotheses in rows b*beam..b*beam+beam-1 of
    the [B*beam, ...] states. At each step the candidates are every unfinished
    hypothesis extended by every token, and every finished hypothesis as it
    is; the `beam_size` best by `log_prob / length ** length_alpha` survive.
    The loop stops when every hypothesis has emitted the end token, or after
    `max_length` tokens.

    Args:
        prepare, step: The decoder (see the module docstring).
        context: A nest of [B, ...] tensors; tiled to [B*beam, ...] and given to
            `prepare` once.
        initial_states: A list of [B, ...] decoder states.
        start_id, end_id: Token ids.
        max_length: Scalar: at most this many output tokens.
        beam_size: Python int >= 1.
        length_alpha: Length normalisation exponent (0: raw log-probability).
        banned: Token ids never emitted.
        attention_length: S, to collect the attention weights of each
            hypothesis; None for none.

    Returns:
        A dict, hypotheses of each input sorted best first: `tokens` int32
        [B, beam, T] (0 after the end token), `lengths` [B, beam],
        `log_prob` [B, beam] (before normalisation), `scores` [B, beam]
        (normalised), `finished` [B, beam], and `attention` [B, beam, T, S]
        when asked for.
    """
    beam = int(beam_size)
    batch = tf.shape(initial_states[0])[0]
    rows = batch * beam
    max_length = tf.cast(max_length, tf.int32)
    constants = prepare(tf.nest.map_structure(lambda c: _tile(c, beam), context))
    states = [_tile(s, beam) for s in initial_states]
    alpha = tf.constant(float(length_alpha), tf.float32)

    # Only the first hypothesis of each input is live at the start (the others
    # would duplicate it).
    log_prob = tf.tile(tf.concat([[0.0], tf.fill([beam - 1], NEG_INF)], 0), [batch])
    history = tf.zeros([rows, max_length], tf.int32)
    att_len = 1 if attention_length is None else attention_length
    att_history = tf.zeros([rows, max_length if attention_length is not None else 0, att_len],
                           tf.float32)
    offsets = tf.range(batch)[:, None] * beam  # [B, 1]

    def normalised(raw, length):
        length = tf.maximum(tf.cast(length, tf.float32), 1.0)
        return raw / tf.pow(length, alpha)

    def cond(t, previous, states, finished, log_prob, lengths, history, att_history):
        return tf.logical_and(t < max_length, tf.logical_not(tf.reduce_all(finished)))

    def body(t, previous, states, finished, log_prob, lengths, history, att_history):
        logits, new_states, attention = step(previous, states, constants)
        logp = _log_probs(logits, banned)  # [rows, V]
        vocab = tf.shape(logp)[-1]
        # Extending a finished hypothesis: only "itself" (token 0, cost 0).
        stay = tf.one_hot(0, vocab, on_value=0.0, off_value=NEG_INF)
        logp = tf.where(finished[:, None], stay[None, :], logp)
        raw = log_prob[:, None] + logp  # [rows, V]
        new_length = lengths + tf.cast(tf.logical_not(finished), tf.int32)
        score = normalised(raw, new_length[:, None])
        flat = tf.reshape(score, [batch, beam * vocab])
        top_scores, top_index = tf.math.top_k(flat, k=beam)  # [B, beam]
        parent = top_index // vocab
        token = tf.cast(top_index % vocab, tf.int32)
        source_rows = tf.reshape(parent + offsets, [-1])  # [rows]
        token = tf.reshape(token, [-1])
        raw_flat = tf.reshape(raw, [batch, beam * vocab])
        log_prob = tf.reshape(tf.gather(raw_flat, top_index, batch_dims=1), [-1])
        was_finished = tf.gather(finished, source_rows)
        lengths = tf.gather(new_length, source_rows)
        finished = tf.logical_or(was_finished, tf.equal(token, end_id))
        states = [tf.gather(s, source_rows) for s in new_states]
        column = tf.one_hot(t, max_length, dtype=tf.int32)[None, :]
        history = tf.gather(history, source_rows) * (1 - column) + token[:, None] * column
        if attention_length is not None:
            weights = tf.gather(tf.cast(attention, tf.float32), source_rows)
            weights = tf.where(was_finished[:, None], 0.0, weights)
            mask = tf.one_hot(t, max_length, dtype=tf.float32)[None, :, None]
            att_history = tf.gather(att_history, source_rows) * (1 - mask) + weights[:, None] * mask
        return (t + 1, token, states, finished, log_prob, lengths, history, att_history)

    start = tf.fill([rows], tf.cast(start_id, tf.int32))
    loop = tf.while_loop(
        cond, body,
        (tf.constant(0), start, states, tf.zeros([rows], tf.bool), log_prob,
         tf.zeros([rows], tf.int32), history, att_history))
    steps, _, _, finished, log_prob, lengths, history, att_history = loop
    scores = normalised(log_prob, lengths)
    # Final ranking of each input's hypotheses, best first.
    order = tf.argsort(tf.reshape(scores, [batch, beam]), axis=1, direction="DESCENDING",
                       stable=True)
    picked = tf.reshape(order + offsets, [-1])

    def regroup(tensor):
        tensor = tf.gather(tensor, picked)
        return tf.reshape(tensor, tf.concat([[batch, beam], tf.shape(tensor)[1:]], 0))

    result = {
        "tokens": regroup(history[:, :steps]),
        "lengths": regroup(lengths),
        "log_prob": regroup(log_prob),
        "scores": regroup(scores),
        "finished": regroup(finished),
    }
    if attention_length is not None:
        result["attention"] = regroup(att_history[:, :steps])
    return result
