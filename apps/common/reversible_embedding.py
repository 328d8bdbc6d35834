"""An embedding that also maps vectors back to logits over its tokens: weight tying.

In apps/common because every text app may load a language model's layers (the
sentiment classifier starts from them); registered under the language model's
package name, so saved models load as before.
"""

import keras
from keras import ops

PACKAGE = "rnn_suite.lm"


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
