"""Text from a language model: the next-token choice (greedy, temperature, top-k, top-p) and
the generation loop.

Each step runs the model over the whole sequence so far (prompt and the
tokens chosen), so the logits a step sees are exactly the teacher-forced
logits of that sequence; samples are short (tens of tokens), and one traced
function serves every length. `continuations` is what `rnn-suite lm generate`
prints, and what the demo page shows.
"""

import numpy as np

from apps.common.errors import UsageError
from apps.common import tokens


def check_choice(temperature, top_k, top_p):
    """Raise a `UsageError` naming a bad sampling setting."""
    if not np.isfinite(temperature) or temperature < 0:
        raise UsageError(f"--temperature must be a number >= 0 (0 is greedy), got {temperature}")
    if top_k is not None and top_k < 1:
        raise UsageError(f"--top-k must be at least 1 (or left out for no limit), got {top_k}")
    if top_p is not None and not (0 < top_p <= 1):
        raise UsageError(f"--top-p must be in (0, 1] (1: no limit), got {top_p}")


def choose(logits, rng, temperature=1.0, top_k=None, top_p=None):
    """The next token of each row of `logits` [N, V]: greedy at temperature 0, else sampled.

    Sampling keeps the `top_k` most likely tokens, then the smallest set of
    them whose probabilities reach `top_p` (nucleus sampling, Holtzman et al.
    2020), and draws from them at `temperature`.

    Returns:
        int array [N].
    """
    logits = np.asarray(logits, np.float64)
    if temperature == 0:
        return np.argmax(logits, axis=-1)
    chosen = np.empty(len(logits), np.int64)
    for row, scores in enumerate(logits):
        scores = scores / temperature
        order = np.argsort(-scores, kind="stable")
        if top_k is not None:
            order = order[:top_k]
        probabilities = np.exp(scores[order] - scores[order[0]])
        probabilities /= probabilities.sum()
        if top_p is not None and top_p < 1:
            keep = int(np.searchsorted(np.cumsum(probabilities), top_p) + 1)
            order, probabilities = order[:keep], probabilities[:keep]
            probabilities /= probabilities.sum()
        chosen[row] = order[rng.choice(len(order), p=probabilities)]
    return chosen


def logits_function(model):
    """A function ids [N, T] -> last-step logits [N, V], traced once for every shape."""
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32)], reduce_retracing=True)
    def last_logits(ids):
        return model(ids, training=False)[:, -1, :]

    return last_logits


def prompt_ids(vocabulary, prompt):
    """The ids the model reads for a raw prompt: [EOD] then the prompt's tokens.

    Raises:
        UsageError: If the prompt has tokens but none the vocabulary knows.
    """
    ids = vocabulary.encode([prompt])[0] if prompt else np.zeros(0, np.int32)
    if len(ids) and np.all(ids == tokens.UNK_ID):
        unit = "character" if vocabulary.kind == "char" else "word"
        raise UsageError(f"the prompt {prompt!r} has no {unit} the model knows (every one would "
                         f"be [UNK]); use {unit}s of the training text, or an empty prompt to "
                         "start a new document")
    return np.concatenate([[tokens.EOD_ID], ids]).astype(np.int32)


def generate(model, vocabulary, prompt="", max_tokens=60, temperature=1.0, top_k=None,
             top_p=None, seed=0, num_samples=1, step=None):
    """Continue `prompt` `num_samples` times; each stops at the end-of-document token.

    A backward language model (its vocabulary reads `backwards`) continues towards the
    start of the document: each sample is the text before the prompt.

    Args:
        model: The language model (ids -> logits).
        vocabulary: Its `TokenVocabulary`.
        prompt: Raw text ("" starts a new document).
        max_tokens: At most this many new tokens per sample.
        temperature, top_k, top_p: As for `choose`.
        seed: The same seed gives the same samples.
        num_samples: How many continuations (run together, as one batch).
        step: A `logits_function(model)` to reuse (tracing costs a second).

    Returns:
        A list of `num_samples` (text, ids) pairs: the generated text alone
        (without the prompt) and its new token ids.
    """
    check_choice(temperature, top_k, top_p)
    step = step or logits_function(model)
    rng = np.random.default_rng(seed)
    start = prompt_ids(vocabulary, prompt)
    sequences = np.tile(start, (num_samples, 1))
    finished = np.zeros(num_samples, bool)
    for _ in range(max_tokens):
        logits = np.asarray(step(sequences))
        chosen = choose(logits, rng, temperature, top_k, top_p)
        chosen = np.where(finished, tokens.EOD_ID, chosen)
        finished |= chosen == tokens.EOD_ID
        sequences = np.concatenate([sequences, chosen[:, None].astype(np.int32)], axis=1)
        if finished.all():
            break
    results = []
    for row in sequences[:, len(start):]:
        ends = np.flatnonzero(row == tokens.EOD_ID)
        new = row[:ends[0]] if len(ends) else row
        results.append((vocabulary.decode(new), new))
    return results


def continuations(model, prompt="", max_tokens=60, temperature=1.0, top_k=None, top_p=None,
                  seed=0, num_samples=1, step=None):
    """The lines `rnn-suite lm generate` prints: each sample after its prompt (before it, from a
    backward language model, which writes what came before).

    The prompt and the new text are joined as the vocabulary joins tokens (a
    space between words, none between characters); no prompt: the text alone.

    Returns:
        A list of `num_samples` (line, text, ids): the printed line, the generated
        text alone and its new token ids (as `generate` returns them).
    """
    from apps.lm import model as model_module

    vocabulary = model_module.vocabulary_of(model)
    samples = generate(model, vocabulary, prompt, max_tokens, temperature=temperature,
                       top_k=top_k, top_p=top_p, seed=seed, num_samples=num_samples, step=step)
    return [(vocabulary.join(prompt, text, ids), text, ids) for text, ids in samples]
