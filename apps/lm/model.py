"""The language model: token ids in, next-token logits out. The one builder everything reuses.

    ids [B, T] -> TokenVocabulary (passes ids through; holds the vocabulary)
      -> ReversibleEmbedding -> token dropout (whole occurrences)
      -> stacked LSTM/GRU/IRNN from layers/ (dropout on inputs, optional
         variational recurrent dropout)
      -> variational output dropout -> (projection to the embedding size)
      -> the embedding matrix again, transposed, + bias -> logits [B, T, V]

Tying the input and output embeddings (Press & Wolf 2017; Inan et al. 2017)
halves the parameters of a word LM and lowers its perplexity; the AWD-LSTM's
dropouts (Merity et al. 2018) are those our layers support: on the embedding,
on each layer's input, on the recurrent state, on the output. The softmax is
full: at 10,000 words it costs about as much as the LSTM on this CPU
(README), so sampled or adaptive softmax was not needed at that size.
Importing this module registers the custom layers for loading.
"""

import keras
from keras import ops

from apps.common import recurrent_stack
from apps.lm import tokens

PACKAGE = tokens.PACKAGE


@keras.saving.register_keras_serializable(package=PACKAGE)
class ReversibleEmbedding(keras.layers.Layer):
    """An embedding that also maps vectors back to logits over its tokens (weight tying).

    `layer(ids)` looks up embeddings [..., output_dim]; `layer(vectors,
    reverse=True)` gives `vectors @ embeddings^T + output_bias` [..., input_dim], the
    tied output layer. (Not a subclass of `keras.layers.Embedding`, whose
    quantisation-aware saving knows only its own weight.)

    Args:
        input_dim: Size of the vocabulary.
        output_dim: Size of the embeddings.
    """

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform", **kwargs):
        super().__init__(**kwargs)
        self.input_dim, self.output_dim = int(input_dim), int(output_dim)
        if self.input_dim < 1 or self.output_dim < 1:
            raise ValueError(f"input_dim and output_dim must be positive, received: "
                             f"input_dim={input_dim}, output_dim={output_dim}")
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)

    def build(self, input_shape=None):
        self.embeddings = self.add_weight(name="embeddings",
                                          shape=(self.input_dim, self.output_dim),
                                          initializer=self.embeddings_initializer)
        self.output_bias = self.add_weight(name="output_bias", shape=(self.input_dim,),
                                           initializer="zeros")

    def call(self, inputs, reverse=False):
        if reverse:
            return ops.matmul(inputs, ops.transpose(self.embeddings)) + self.output_bias
        return ops.take(self.embeddings, ops.cast(inputs, "int32"), axis=0)

    def compute_output_spec(self, inputs, reverse=False):
        if reverse:
            return keras.KerasTensor((*inputs.shape[:-1], self.input_dim),
                                     dtype=self.compute_dtype)
        return keras.KerasTensor((*inputs.shape, self.output_dim), dtype=self.compute_dtype)

    def get_config(self):
        return {**super().get_config(), "input_dim": self.input_dim,
                "output_dim": self.output_dim, "embeddings_initializer":
                keras.initializers.serialize(self.embeddings_initializer)}


def build_model(config, vocabulary):
    """Build the language model a config describes (used by train, tuning and tests).

    Args:
        config: An `LMConfig` (embedding_dim, cell, units, layers, dropout,
            recurrent_dropout, embedding_dropout, output_dropout, tie_weights).
        vocabulary: The `TokenVocabulary` (from `tokens.build_vocabulary`).

    Returns:
        An uncompiled `keras.Model` taking ids [B, T] (int32) and giving
        next-token logits [B, T, V].
    """
    ids = keras.Input(shape=(None,), dtype="int32", name="ids")
    x = vocabulary(ids)
    embedding = ReversibleEmbedding(vocabulary.size, config.embedding_dim, name="embedding")
    x = embedding(x)
    if config.embedding_dropout:
        x = keras.layers.Dropout(config.embedding_dropout, noise_shape=(None, None, 1),
                                 name="embedding_dropout")(x)
    stack = recurrent_stack.recurrent_stack(
        config.cell, config.units, config.layers, return_sequences=True,
        dropout=config.dropout, recurrent_dropout=config.recurrent_dropout)
    x = recurrent_stack.apply_stack(stack, x)
    if config.output_dropout:
        x = keras.layers.Dropout(config.output_dropout, noise_shape=(None, 1, None),
                                 name="output_dropout")(x)
    if config.tie_weights:
        if config.units != config.embedding_dim:
            x = keras.layers.Dense(config.embedding_dim, name="projection")(x)
        logits = embedding(x, reverse=True)
    else:
        logits = keras.layers.Dense(vocabulary.size, name="logits")(x)
    return keras.Model(ids, logits, name=f"lm_{config.cell}_{config.layers}x{config.units}")


def vocabulary_of(model):
    """The model's `TokenVocabulary` layer."""
    for layer in model.layers:
        if isinstance(layer, tokens.TokenVocabulary):
            return layer
    raise ValueError(f"{model.name} has no TokenVocabulary layer; not an rnn-suite language "
                     "model")


def compile_model(model, config, train_data=None):
    """Compile for next-token cross-entropy (the common Adam with clipping and schedule)."""
    from apps.common import training

    return training.compile_model(
        model, config, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        train_data=train_data)
