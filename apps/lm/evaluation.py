"""Perplexity of the language model and of its n-gram peer, on the same tokens.

Both score every token of a split's stream after the first (the opening
end-of-document token), end-of-document tokens and `[UNK]` included, with
the same vocabulary, so their perplexities compare directly. The recurrent
model reads the stream in windows of `window` tokens that overlap by half:
every token is scored with at least `window // 2` tokens of context (all of
them at the start), as the windows it was trained on gave it.
"""

import math
import time

import numpy as np

NGRAM_ORDER = 3


def token_log_probs(model, ids, window, batch_size=64):
    """Natural-log probability of ids[t] given the tokens before it, for t = 1..N-1 (float64).

    Args:
        model: The language model (ids [B, T] -> logits [B, T, V]).
        ids: The token stream (int array [N], N >= 2).
        window: Tokens per window; consecutive windows start `window // 2` apart.
        batch_size: Windows per forward pass.
    """
    import tensorflow as tf

    ids = np.asarray(ids, np.int32)
    targets_count = len(ids) - 1
    stride = max(1, window // 2)
    starts = list(range(0, max(targets_count - window, 0) + 1, stride))
    if starts[-1] + window < targets_count:
        starts.append(targets_count - window)
    result = np.full(targets_count, np.nan)
    scored_up_to = 0  # targets [0, scored_up_to) have their log-probability
    for first in range(0, len(starts), batch_size):
        chunk = starts[first:first + batch_size]
        inputs = np.zeros((len(chunk), window), np.int32)
        for row, start in enumerate(chunk):
            piece = ids[start:start + window]
            inputs[row, :len(piece)] = piece
        logits = tf.convert_to_tensor(model.predict_on_batch(inputs))
        log_probs = tf.nn.log_softmax(logits, axis=-1).numpy()
        for row, start in enumerate(chunk):
            end = min(start + window, targets_count)  # targets start+0 .. end-1
            begin = max(scored_up_to, start)
            if begin >= end:
                continue
            wanted = ids[begin + 1:end + 1]
            result[begin:end] = log_probs[row, np.arange(begin - start, end - start), wanted]
            scored_up_to = end
    return result


def perplexity(log_probs):
    """exp(mean negative log-probability)."""
    return float(math.exp(-float(np.mean(log_probs))))


def bits_per_token(log_probs):
    return float(-np.mean(log_probs) / math.log(2))


def score(model, train_ids, test_ids, vocabulary, window, batch_size, peer=True):
    """The model's and the Kneser-Ney peer's perplexity on `test_ids`, the peer fit on `train_ids`.

    Returns:
        {"test_perplexity", "test_bits_per_token", "test_tokens",
         "peer": {"name", "test_perplexity", "test_bits_per_token", "seconds"}} (no "peer"
        without `peer`).
    """
    started = time.perf_counter()
    ours = token_log_probs(model, test_ids, window, batch_size)
    report = {"test_perplexity": perplexity(ours), "test_bits_per_token": bits_per_token(ours),
              "test_tokens": int(len(ours)),
              "test_seconds": round(time.perf_counter() - started, 2),
              "tokenizer": vocabulary.kind, "vocabulary_size": vocabulary.size}
    if peer:
        report["peer"] = ngram_peer(train_ids, test_ids, vocabulary.size)
    return report


def ngram_peer(train_ids, test_ids, vocab_size, order=NGRAM_ORDER):
    """Interpolated modified Kneser-Ney `order`-grams fit on the training stream, scored on test."""
    from apps.lm.ngram import KneserNey

    started = time.perf_counter()
    peer = KneserNey(order=order, vocab_size=vocab_size).fit(np.asarray(train_ids))
    log_probs = peer.log_probs(np.asarray(test_ids))[1:]
    return {"name": f"interpolated modified Kneser-Ney {order}-gram",
            "test_perplexity": perplexity(log_probs), "test_bits_per_token":
            bits_per_token(log_probs), "seconds": round(time.perf_counter() - started, 2)}


def evaluate_model(model, train_documents, test_documents, window, batch_size, peer=True):
    """The model's test perplexity beside the n-gram peer's, both on the same test tokens."""
    from apps.lm import data, model as model_module

    vocabulary = model_module.vocabulary_of(model)
    test_ids = data.stream(test_documents, vocabulary)
    train_ids = data.stream(train_documents, vocabulary) if peer else None
    report = score(model, train_ids, test_ids, vocabulary, window, batch_size,
                              peer=peer)
    line = (f"test perplexity {report['test_perplexity']:.2f} "
            f"({report['test_bits_per_token']:.3f} bits per {vocabulary.kind}) on "
            f"{report['test_tokens']:,} tokens")
    if peer:
        line += (f"; {report['peer']['name']}: {report['peer']['test_perplexity']:.2f} "
                 f"({report['peer']['test_bits_per_token']:.3f} bits)")
    print(line, flush=True)
    return report
