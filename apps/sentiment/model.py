"""The sentiment model: raw review strings in, P(positive) out. The one builder everything reuses.

    review (string) -> TextVectorization (lower-case, strip <br /> and punctuation)
      -> Truncate(max_length) -> Embedding(mask_zero=True)
      -> (Bidirectional) recurrent stack from layers/
      -> pooling: the last state, AttentionPooling over all steps (masked),
         the maximum of each feature over the steps (masked), or ConcatPooling
         (the last step, maximum and mean side by side, masked)
      -> Dropout -> Dense(1) logit -> Verdict (sigmoid of logit / temperature)

Preprocessing lives inside the model, so the saved `model.keras` takes raw
strings. Padding is masked from the embedding on, so a review padded to any
length gives the same probability. `Verdict` holds the temperature fitted on
the validation split after training (calibration) and the two class names.
Importing this module registers the custom layers for loading.
"""

import weakref

import keras
import numpy as np
from keras import ops

from apps.common import recurrent_stack
from apps.sentiment import adversarial
from apps.sentiment import fine_tuning  # noqa: F401 - registers LayerwiseAdam for loading
from apps.common import text as text_module
from layers.attention import MASKED_SCORE, additive_attention
from layers.validation import check_positive_int

PACKAGE = "rnn_suite.apps"
DEFAULT_CLASS_NAMES = ("negative", "positive")


@keras.saving.register_keras_serializable(package=PACKAGE)
class AttentionPooling(keras.layers.Layer):
    """Masked additive attention pooling: a learned score per step, softmax, weighted sum.

    `score_t = v^T tanh(W h_t + b)`, weights = softmax over the unmasked steps,
    context = sum_t weights_t h_t: `layers.attention.additive_attention` (the
    computation of `BahdanauAttention`) with no query. Masked steps get weight
    0; a fully masked sequence gets all-zero weights and a zero context.

    Args:
        units: Positive integer, size of the hidden layer of the score.

    Call arguments:
        inputs: [batch, time, features].
        mask: Optional boolean [batch, time]; `False` marks padding.

    Returns:
        `(context, weights)`: [batch, features] and [batch, time].
    """

    def __init__(self, units=64, **kwargs):
        check_positive_int("units", units)
        super().__init__(**kwargs)
        self.units = int(units)
        self.supports_masking = True

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(
                f"Layer {self.name} expects inputs [batch, time, features] with known "
                f"features. Received input shape {tuple(input_shape)}")
        features = input_shape[-1]
        self.kernel = self.add_weight(name="kernel", shape=(features, self.units),
                                      initializer="glorot_uniform")
        self.bias = self.add_weight(name="bias", shape=(self.units,), initializer="zeros")
        self.score = self.add_weight(name="score", shape=(self.units, 1),
                                     initializer="glorot_uniform")

    def call(self, inputs, mask=None):
        energies = ops.matmul(inputs, self.kernel) + self.bias
        return additive_attention(energies, self.score, inputs, mask)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1]), (input_shape[0], input_shape[1])

    def compute_mask(self, inputs, mask=None):
        return [None, None]

    def get_config(self):
        return {**super().get_config(), "units": self.units}


class _StepPooling(keras.layers.Layer):
    """A pooling over the steps [B, T, F] that reads the mask and gives none."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def compute_mask(self, inputs, mask=None):
        return None


@keras.saving.register_keras_serializable(package=PACKAGE)
class MaskedMaxPooling(_StepPooling):
    """Max over time of each feature, over the unmasked steps only: [B, T, F] -> [B, F].

    The pooling of the one-hot bidirectional LSTM of Johnson and Zhang (2016),
    which reads a whole long review without leaning on its last words. A fully
    masked sequence (an empty review) gives zeros.
    """

    def call(self, inputs, mask=None):
        if mask is None:
            return ops.max(inputs, axis=1)
        steps = ops.expand_dims(mask, -1)
        pooled = ops.max(ops.where(steps, inputs, ops.full_like(inputs, MASKED_SCORE)), axis=1)
        return ops.where(ops.any(mask, axis=1, keepdims=True), pooled, ops.zeros_like(pooled))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])


@keras.saving.register_keras_serializable(package=PACKAGE)
class ConcatPooling(_StepPooling):
    """ULMFiT's concat pooling over the unmasked steps: [last, max, mean], [B, T, F] -> [B, 3F].

    The last step's output carries what the recurrent state summed up; the
    maximum and the mean keep what the state forgot of a long review. A fully
    masked sequence (an empty review) gives zeros.
    """

    def call(self, inputs, mask=None):
        if mask is None:
            mask = ops.ones(ops.shape(inputs)[:2], dtype="bool")
        valid = ops.cast(mask, inputs.dtype)
        count = ops.sum(valid, axis=1, keepdims=True)  # [B, 1]
        last_index = ops.cast(ops.maximum(count - 1.0, 0.0), "int32")
        last = ops.squeeze(ops.take_along_axis(inputs, ops.expand_dims(last_index, -1), axis=1),
                           axis=1)
        steps = ops.expand_dims(mask, -1)
        largest = ops.max(ops.where(steps, inputs, ops.full_like(inputs, MASKED_SCORE)), axis=1)
        mean = ops.sum(inputs * ops.expand_dims(valid, -1), axis=1) / ops.maximum(count, 1.0)
        pooled = ops.concatenate([last, largest, mean], axis=-1)
        return ops.where(count > 0, pooled, ops.zeros_like(pooled))

    def compute_output_shape(self, input_shape):
        features = input_shape[-1]
        return (input_shape[0], None if features is None else 3 * features)


@keras.saving.register_keras_serializable(package=PACKAGE)
class Verdict(keras.layers.Layer):
    """logit -> P(positive) = sigmoid(logit / temperature), and the names of the two classes.

    The temperature is a non-trainable weight, 1 during training, then fitted
    on the validation split (`fit_temperature`) so that the probabilities are
    calibrated; it changes no decision (the sign of the logit is kept).
    """

    def __init__(self, class_names=DEFAULT_CLASS_NAMES, **kwargs):
        super().__init__(**kwargs)
        self.class_names = tuple(str(c) for c in class_names)
        if len(self.class_names) != 2:
            raise ValueError(f"class_names must name two classes, got {class_names!r}")

    def build(self, input_shape):
        self.temperature = self.add_weight(name="temperature", shape=(), initializer="ones",
                                           trainable=False)

    def call(self, logits):
        return ops.sigmoid(logits / self.temperature)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "class_names": list(self.class_names)}


def build_model(config, vocabulary=None, class_names=DEFAULT_CLASS_NAMES):
    """Build the classifier a config describes (used by train, tuning and tests).

    Args:
        config: A `SentimentConfig` (vocab_size, max_length, embedding_dim,
            word_dropout, embedding_dropout, pooling, attention_units, cell, units, layers,
            bidirectional, dropout, final_dropout; adversarial or virtual_adversarial: an
            EmbeddingPerturbation after the embedding).
        vocabulary: The vectoriser's vocabulary (a list of words, as from
            `data.build_vocabulary`; the first two are "" and "[UNK]"), or
            None to adapt later.
        class_names: Names of label 0 and label 1.

    Returns:
        An uncompiled `keras.Model` taking a batch of strings [B] and giving
        P(label 1) [B, 1].
    """
    reviews = keras.Input(shape=(), dtype="string", name="review")
    vectorizer = text_module.make_vectorizer(config.vocab_size)
    if vocabulary is not None:
        vectorizer.set_vocabulary(_without_reserved(vocabulary))
    ids = vectorizer(reviews)
    ids = text_module.Truncate(config.max_length, name="truncate")(ids)
    x = keras.layers.Embedding(config.vocab_size, config.embedding_dim, mask_zero=True,
                               name="embedding")(ids)
    if config.adversarial or config.virtual_adversarial:
        x = adversarial.EmbeddingPerturbation(name=adversarial.LAYER_NAME)(x)
    if config.word_dropout:
        x = keras.layers.Dropout(config.word_dropout, noise_shape=(None, None, 1),
                                 name="word_dropout")(x)
    if config.embedding_dropout:
        x = keras.layers.SpatialDropout1D(config.embedding_dropout, name="embedding_dropout")(x)
    stack = recurrent_stack.recurrent_stack(
        config.cell, config.units, config.layers, bidirectional=config.bidirectional,
        return_sequences=config.pooling != "last", dropout=config.dropout)
    x = recurrent_stack.apply_stack(stack, x)
    if config.pooling == "attention":
        x, _ = AttentionPooling(config.attention_units, name="attention_pooling")(x)
    elif config.pooling == "max":
        x = MaskedMaxPooling(name="max_pooling")(x)
    elif config.pooling == "concat":
        x = ConcatPooling(name="concat_pooling")(x)
    x = keras.layers.Dropout(config.final_dropout, name="final_dropout")(x)
    logit = keras.layers.Dense(1, name="logit")(x)
    probability = Verdict(class_names, name="verdict")(logit)
    name = (f"sentiment_{'bi' if config.bidirectional else ''}{config.cell}_"
            f"{config.pooling}")
    return keras.Model(reviews, probability, name=name)


def _without_reserved(vocabulary):
    vocabulary = list(vocabulary)
    while vocabulary and vocabulary[0] in ("", "[UNK]"):
        vocabulary = vocabulary[1:]
    return vocabulary


def vectorizer_layer(model):
    """The model's `TextVectorization` layer."""
    for layer in model.layers:
        if isinstance(layer, keras.layers.TextVectorization):
            return layer
    raise ValueError(f"{model.name} has no TextVectorization layer; not an rnn-suite "
                     "sentiment model")


def class_names(model):
    """Names of label 0 and label 1, as stored in the model."""
    try:
        return model.get_layer("verdict").class_names
    except ValueError:
        return DEFAULT_CLASS_NAMES


def has_attention(model):
    return any(isinstance(layer, AttentionPooling) for layer in model.layers)


# One explainer per model: each new keras.Model traces its predict function again, which
# costs more than the prediction itself (a demo page explains every request).
_EXPLAINERS = weakref.WeakKeyDictionary()


def explainer(model):
    """A model giving (P(positive) [B, 1], word ids [B, T], attention weights [B, T]).

    Shares the trained layers (made once per model). Raises ValueError for a model
    without attention pooling.
    """
    if not has_attention(model):
        raise ValueError("the model pools the last state or the maximum; only attention "
                         "pooling has weights to show")
    if model not in _EXPLAINERS:
        pooling = model.get_layer("attention_pooling")
        ids = model.get_layer("truncate").output
        _EXPLAINERS[model] = keras.Model(model.inputs, [model.output, ids, pooling.output[1]],
                                         name=model.name + "_explainer")
    return _EXPLAINERS[model]


def logits_model(model):
    """A model giving the logit before the temperature (for fitting the temperature)."""
    return keras.Model(model.inputs, model.get_layer("logit").output, name=model.name + "_logit")


def fit_temperature(logits, labels):
    """The temperature T > 0 minimising the log loss of sigmoid(logit / T) on (logits, labels).

    A 1-D search (log-spaced grid, then a finer one around the best); robust
    and dependency-free.
    """
    grid = np.exp(np.linspace(np.log(0.05), np.log(20.0), 81))
    best = grid[int(np.argmin([log_loss(logits, labels, t) for t in grid]))]
    fine = np.exp(np.linspace(np.log(best) - 0.1, np.log(best) + 0.1, 41))
    return float(fine[int(np.argmin([log_loss(logits, labels, t) for t in fine]))])


def log_loss(logits, labels, temperature=1.0):
    """The mean log loss of sigmoid(logit / temperature) against 0/1 labels (float64)."""
    z = np.asarray(logits, np.float64).ravel() / temperature
    return float(np.mean(np.logaddexp(0.0, z) - np.asarray(labels, np.float64).ravel() * z))


def set_temperature(model, temperature):
    model.get_layer("verdict").temperature.assign(float(temperature))


def temperature(model):
    return float(ops.convert_to_numpy(model.get_layer("verdict").temperature))
