"""Sampled softmax for training a word LM: score each position against a few thousand tokens.

A word LM's full softmax multiplies every position's state with the whole
output matrix: with 12,000 words and 128-wide tied embeddings that is about
five times the GRU's own work per step on this CPU. Sampled softmax (Jean et
al. 2015) trains on the true token and `num_sampled` tokens drawn from a
log-uniform (Zipf) distribution, which suits a vocabulary sorted by
frequency, as ours is; each sampled logit is corrected by the log of its
expected count, so the loss estimates the full softmax's. Validation,
evaluation and generation use the full softmax: the saved model is the plain
language model.
"""

import keras
import tensorflow as tf

from apps.common import distribute
from apps.common.reversible_embedding import ReversibleEmbedding

PACKAGE = "rnn_suite.lm"


def sampled_softmax_loss(hidden, weights, bias, labels, num_sampled, seed=None):
    """The mean sampled-softmax loss of states `hidden` [N, D] with true `labels` [N].

    Args:
        hidden: Float [N, D], the inputs of the output layer.
        weights: Float [V, D], the output layer's matrix (a tied embedding's).
        bias: Float [V].
        labels: Int [N], the true next tokens.
        num_sampled: Tokens drawn per batch (unique, log-uniform), at most V.
        seed: For the sampler (None: a fresh draw each call).
    """
    labels = tf.reshape(tf.cast(labels, tf.int64), [-1, 1])
    vocabulary_size = tf.compat.dimension_value(weights.shape[0])
    sampled = tf.random.log_uniform_candidate_sampler(
        labels, num_true=1, num_sampled=num_sampled, unique=True, range_max=vocabulary_size,
        seed=seed)
    losses = tf.nn.sampled_softmax_loss(
        weights=weights, biases=bias, labels=labels, inputs=hidden, num_sampled=num_sampled,
        num_classes=vocabulary_size, sampled_values=sampled, remove_accidental_hits=True)
    return tf.reduce_mean(losses)


def output_weights(model):
    """(matrix [V, D], bias [V]) of a language model's output layer (tied or not)."""
    try:
        logits = model.get_layer("logits")
    except ValueError:
        embedding = next(layer for layer in model.layers
                         if isinstance(layer, ReversibleEmbedding))
        return embedding.embeddings, embedding.output_bias
    return tf.transpose(logits.kernel), logits.bias


def hidden_states(model):
    """The tensor the output layer reads, in `model`'s graph (see `model.build_model`)."""
    for name in ("projection", "output_dropout"):
        try:
            return model.get_layer(name).output
        except ValueError:
            continue
    recurrent = [layer for layer in model.layers if layer.name.startswith("recurrent_")]
    return recurrent[-1].output


@keras.saving.register_keras_serializable(package=PACKAGE)
class SampledSoftmaxTrainer(keras.Model):
    """Trains a language model with sampled softmax; validates it with the full softmax.

    Args:
        language_model: ids [B, T] -> logits [B, T, V] (from `model.build_model`).
        num_sampled: Tokens drawn per training batch (< the vocabulary size).

    Example:

    >>> from apps.common import tokens
    >>> from apps.lm import model as model_module
    >>> from apps.lm.config import LMConfig
    >>> vocabulary = tokens.build_vocabulary(["a b c d e f g h"], "word", 20)
    >>> lm = model_module.build_model(LMConfig(units=8, embedding_dim=8), vocabulary)
    >>> trainer = SampledSoftmaxTrainer(lm, num_sampled=4)
    >>> trainer.compile(optimizer="adam",
    ...                 loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    """

    def __init__(self, language_model, num_sampled, **kwargs):
        super().__init__(**kwargs)
        vocabulary_size = int(language_model.output.shape[-1])
        if not 1 <= int(num_sampled) < vocabulary_size:
            raise ValueError(f"num_sampled must be between 1 and the vocabulary size - 1 "
                             f"({vocabulary_size - 1}), got {num_sampled!r}")
        self.language_model = language_model
        self.num_sampled = int(num_sampled)
        # Not tracked: it shares every layer with the language model.
        object.__setattr__(self, "_hidden", keras.Model(language_model.inputs,
                                                        hidden_states(language_model)))
        self.built = language_model.built

    def call(self, ids, training=False):
        return self.language_model(ids, training=training)

    def train_step(self, data):
        ids, targets, _ = keras.utils.unpack_x_y_sample_weight(data)
        weights = self.language_model.trainable_weights
        with tf.GradientTape() as tape:
            hidden = self._hidden(ids, training=True)
            matrix, bias = output_weights(self.language_model)
            loss = sampled_softmax_loss(tf.reshape(hidden, [-1, tf.shape(hidden)[-1]]),
                                        matrix, bias, tf.reshape(targets, [-1]),
                                        self.num_sampled)
            # Under --distribute the replicas' gradients are summed: each gives its share.
            scaled = self.optimizer.scale_loss(distribute.replica_share(loss))
        gradients = tape.gradient(scaled, weights)
        if distribute.replicas_in_sync() > 1:
            # The sampled rows differ between replicas, so the embedding's sparse gradients
            # differ in size, which the replicas' all-reduce refuses: it gets them dense.
            gradients = [tf.convert_to_tensor(g) if isinstance(g, tf.IndexedSlices) else g
                         for g in gradients]
        self.optimizer.apply_gradients(zip(gradients, weights))
        self._loss_tracker.update_state(loss)
        return {"loss": self._loss_tracker.result()}

    def get_config(self):
        return {**super().get_config(), "num_sampled": self.num_sampled,
                "language_model": keras.saving.serialize_keras_object(self.language_model)}

    @classmethod
    def from_config(cls, config):
        language_model = keras.saving.deserialize_keras_object(config.pop("language_model"))
        return cls(language_model, **config)
