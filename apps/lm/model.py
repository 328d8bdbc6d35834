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
on each layer's input, on the recurrent state, on the output. The model's
logits are the full softmax's, used for evaluation and generation; training
may instead use the sampled softmax of `sampled_softmax.py` (`--softmax
sampled`), which took an epoch on IMDB from 35 to 17 minutes (docs/lm.md).
Importing this module registers the custom layers for loading.
"""

import keras

from apps.common import recurrent_stack
from apps.common.reversible_embedding import ReversibleEmbedding
from apps.common import tokens

PACKAGE = tokens.PACKAGE


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


def compile_model(model, config, train_data=None, accuracy=True):
    """Compile for next-token cross-entropy (the common Adam with clipping and schedule), with
    next-token accuracy unless `accuracy` is false (sampled softmax computes no full logits)."""
    from apps.common import training

    metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")] if accuracy else []
    return training.compile_model(
        model, config, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=metrics, train_data=train_data)
