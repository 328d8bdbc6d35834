"""What every word-by-word decoder shares: start/end tokens, vocabularies, teacher forcing, its loss.

Translation and captioning both write a sentence one word at a time, trained
by teacher forcing: the decoder reads `[START] w1 .. wn` and is taught to
write `w1 .. wn [END]`. The special tokens sit at fixed ids after
TextVectorization's own padding (0) and `[UNK]` (1), so the compiled greedy
and beam searches (`apps.common.decoding`) know where to start and stop.
"""

import collections

import keras
from keras import ops

PACKAGE = "rnn_suite.decoding"
# Saved translation models from before this module name these layers under
# their first package; registering them there too keeps those files loadable.
_FIRST_PACKAGE = "rnn_suite.translation"
PAD, UNK, START, END = "", "[UNK]", "[START]", "[END]"
START_ID, END_ID = 2, 3  # after TextVectorization's own "" (0) and "[UNK]" (1)
SPECIAL_TOKENS = 4


def build_vocabulary(tokenised, min_count=1, max_size=0):
    """Words of the training texts, most frequent first (ties alphabetical).

    Args:
        tokenised: A list of lists of words.
        min_count: Words seen fewer times are left out (they become `[UNK]`).
        max_size: At most this many entries counting the 4 special tokens (0: no limit).

    Returns the words only; `[START]` and `[END]` are put first by
    `make_vectorizer` (padding and `[UNK]` by `TextVectorization` itself).
    """
    counts = collections.Counter(token for tokens in tokenised for token in tokens)
    for special in (PAD, UNK, START, END):
        counts.pop(special, None)
    ranked = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
    if max_size:
        ranked = ranked[:max(0, max_size - SPECIAL_TOKENS)]
    return ranked


def make_vectorizer(vocabulary, standardize, name):
    """A `TextVectorization` layer: raw strings [B] -> ids [B, T] (padded with 0).

    Args:
        vocabulary: Words from `build_vocabulary` (without special tokens).
        standardize: A registered standardisation function (saved with the layer).
        name: The layer's name.
    """
    return keras.layers.TextVectorization(
        standardize=standardize, split="whitespace", output_mode="int",
        vocabulary=[START, END, *vocabulary], name=name)


def teacher_forcing_ids(ids, start_id=START_ID, end_id=END_ID):
    """Word ids [B, T] (0-padded) -> (decoder inputs, labels), both [B, T+1].

    inputs = [START, w1 .. wn, 0 ..], labels = [w1 .. wn, END, 0 ..].
    """
    ids = ops.cast(ids, "int32")
    batch = ops.shape(ids)[0]
    lengths = ops.sum(ops.cast(ops.not_equal(ids, 0), "int32"), axis=1)
    start = ops.full((batch, 1), start_id, dtype="int32")
    zero = ops.zeros((batch, 1), dtype="int32")
    inputs = ops.concatenate([start, ids], axis=1)
    padded = ops.concatenate([ids, zero], axis=1)
    labels = padded + end_id * ops.one_hot(lengths, ops.shape(padded)[1], dtype="int32")
    return inputs, labels


@keras.saving.register_keras_serializable(package=PACKAGE)
@keras.saving.register_keras_serializable(package=_FIRST_PACKAGE)
class DecoderInputs(keras.layers.Layer):
    """Target word ids -> the decoder's inputs under teacher forcing: [START] w1 .. wn."""

    def call(self, ids):
        return teacher_forcing_ids(ids)[0]

    def compute_output_spec(self, ids):
        length = None if ids.shape[1] is None else ids.shape[1] + 1
        return keras.KerasTensor((ids.shape[0], length), dtype="int32")


@keras.saving.register_keras_serializable(package=PACKAGE)
@keras.saving.register_keras_serializable(package=_FIRST_PACKAGE)
class MaskedAccuracy(keras.metrics.Metric):
    """Word accuracy over real target positions (labels != 0), padding left out."""

    def __init__(self, name="masked_accuracy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.correct = self.add_variable(shape=(), initializer="zeros", name="correct")
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.cast(y_true, "int32")
        real = ops.cast(ops.not_equal(y_true, 0), "float32")
        hits = ops.cast(ops.equal(ops.cast(ops.argmax(y_pred, axis=-1), "int32"), y_true),
                        "float32")
        self.correct.assign_add(ops.sum(hits * real))
        self.total.assign_add(ops.sum(real))

    def result(self):
        return self.correct / ops.maximum(self.total, 1.0)

    def reset_state(self):
        self.correct.assign(0.0)
        self.total.assign(0.0)


def loss(label_smoothing=0.0):
    """Cross-entropy over the real target positions (padding, id 0, ignored), from logits.

    Args:
        label_smoothing: 0 for plain cross-entropy; else the share of each
            target's probability mass spread evenly over the vocabulary
            (`SmoothedCrossEntropy`).
    """
    if label_smoothing:
        return SmoothedCrossEntropy(label_smoothing)
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0)


@keras.saving.register_keras_serializable(package=PACKAGE)
class SmoothedCrossEntropy(keras.losses.Loss):
    """Label-smoothed cross-entropy from logits over integer labels, padding (0) ignored.

    Each target is the one-hot label mixed with the uniform distribution:
    `(1 - s) * onehot + s / V`, as `keras.losses.CategoricalCrossentropy(
    label_smoothing=s)` does, but reading integer labels (no [B, T, V] one-hot
    is built) and averaging over the real positions only, as
    `SparseCategoricalCrossentropy(ignore_class=0)` does. Smoothing keeps the
    decoder from becoming over-confident on a small corpus (Szegedy et al., 2016).

    Args:
        label_smoothing: The share s, in [0, 1).
    """

    def __init__(self, label_smoothing=0.1, name="smoothed_cross_entropy", **kwargs):
        super().__init__(name=name, **kwargs)
        if not 0.0 <= float(label_smoothing) < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing!r}")
        self.label_smoothing = float(label_smoothing)

    def call(self, y_true, y_pred):
        from keras.src import backend  # set_keras_mask: how Keras's own losses mask padding

        labels = ops.cast(y_true, "int32")
        log_probs = ops.log_softmax(y_pred, axis=-1)
        picked = ops.take_along_axis(log_probs, ops.expand_dims(labels, -1), axis=-1)[..., 0]
        smoothing = self.label_smoothing
        losses = -(1.0 - smoothing) * picked - smoothing * ops.mean(log_probs, axis=-1)
        real = ops.not_equal(labels, 0)
        losses = ops.where(real, losses, ops.zeros_like(losses))
        backend.set_keras_mask(losses, mask=real)
        return losses

    def get_config(self):
        return {**super().get_config(), "label_smoothing": self.label_smoothing}


def tokens_to_words(ids, vocabulary):
    """Output ids (up to and without the end token or padding) -> the words.

    Args:
        ids: A sequence of int ids.
        vocabulary: The vectoriser's vocabulary (indexable by id).
    """
    words = []
    for i in ids:
        i = int(i)
        if i == END_ID or i == 0:
            break
        words.append(str(vocabulary[i]))
    return words


def forced_ids(output_ids):
    """Output id sequences -> (decoder inputs, labels), int32 [B, T], to score them by teacher forcing.

    Args:
        output_ids: B sequences of ids (each ending with the end token if the
            hypothesis finished); shorter ones are padded with 0.

    Returns:
        `(inputs, labels)`: inputs = [START, y1 .. y_{T-1}], labels = [y1 .. yT].
    """
    import numpy as np

    output_ids = [list(map(int, seq)) for seq in output_ids]
    width = max(1, max(len(s) for s in output_ids))
    labels = np.zeros((len(output_ids), width), np.int32)
    for row, seq in enumerate(output_ids):
        labels[row, :len(seq)] = seq
    inputs = np.concatenate([np.full((len(labels), 1), START_ID, np.int32), labels[:, :-1]],
                            axis=1)
    return inputs, labels


def sequence_log_prob(logits, labels):
    """Sum over the real positions (labels != 0) of log softmax(logits)[label]: [B] numpy."""
    import numpy as np
    import tensorflow as tf

    logp = tf.nn.log_softmax(logits, axis=-1).numpy()
    picked = np.take_along_axis(logp, labels[..., None], axis=-1)[..., 0]
    return (picked * (labels != 0)).sum(axis=1)
