"""The MNIST model: raw images in, class probabilities out. The one builder everything reuses.

The image-to-sequence step lives inside the model (`ImageToSequence`), so a
saved `model.keras` takes raw [B, S, S] images with values 0-255 and `predict`
needs no preprocessing code of its own.
"""

import keras
import numpy as np
from keras import ops

from apps.common import recurrent_stack
from apps.common.errors import UsageError

PACKAGE = "rnn_suite.apps"
NUM_CLASSES = 10


@keras.saving.register_keras_serializable(package=PACKAGE)
class ImageToSequence(keras.layers.Layer):
    """[B, S, S] images (0-255) -> a sequence for a recurrent layer, scaled to [0, 1].

    Modes: "pixel" gives [B, S*S, 1] in reading order, "permuted" the same in
    a fixed pixel order drawn from `permutation_seed`, "row" gives [B, S, S]
    (one row per step). The permutation is a non-trainable weight, so the
    saved model keeps it exactly (a seed alone would depend on NumPy's
    generator staying the same).
    """

    def __init__(self, mode="pixel", permutation_seed=0, **kwargs):
        super().__init__(**kwargs)
        if mode not in ("pixel", "permuted", "row"):
            raise ValueError(f"mode must be pixel, permuted or row, got {mode!r}")
        self.mode = mode
        self.permutation_seed = permutation_seed
        self.permutation = None

    def build(self, input_shape):
        size = input_shape[1]
        if self.mode == "permuted":
            self.permutation = self.add_weight(
                name="permutation", shape=(size * size,), dtype="int32",
                initializer="zeros", trainable=False)
            order = np.random.default_rng(self.permutation_seed).permutation(size * size)
            self.permutation.assign(order.astype("int32"))

    def call(self, images):
        x = ops.cast(images, self.compute_dtype) / 255.0
        size = images.shape[1]
        if self.mode == "row":
            return x
        x = ops.reshape(x, (-1, size * size, 1))
        if self.mode == "permuted":
            x = ops.take(x, self.permutation, axis=1)
        return x

    def compute_output_shape(self, input_shape):
        size = input_shape[1]
        if self.mode == "row":
            return (input_shape[0], size, size)
        return (input_shape[0], size * size, 1)

    def pixel_order(self, size):
        """For each step, the flat indices (row * S + col) of the pixels it reveals: [T, k]."""
        if self.mode == "row":
            return np.arange(size * size).reshape(size, size)
        if self.mode == "permuted":
            return np.asarray(ops.convert_to_numpy(self.permutation)).reshape(-1, 1)
        return np.arange(size * size).reshape(-1, 1)

    def get_config(self):
        return {**super().get_config(), "mode": self.mode,
                "permutation_seed": self.permutation_seed}


def build_model(config, image_size=28, per_step=False):
    """Build the classifier a config describes (used by train, tuning and tests).

    Args:
        config: An `MnistConfig` (mode, permutation_seed, cell, units, layers,
            bidirectional, dropout, chrono_init, builtin_layers).
        image_size: 28 for MNIST, 8 for scikit-learn's digits.
        per_step: Give class probabilities after every step ([B, T, 10])
            instead of only after the last ([B, 10]); same weights.

    Returns:
        An uncompiled `keras.Model` taking float images [B, S, S] in 0-255.
    """
    chrono_steps = None
    if getattr(config, "chrono_init", False):
        if config.cell == "rnn":
            raise UsageError("--chrono-init sets the gates' biases of a gru or lstm; --cell rnn "
                             "has no gates (its IRNN start is the identity recurrent kernel)")
        chrono_steps = image_size if config.mode == "row" else image_size * image_size
    images = keras.Input((image_size, image_size), name="image")
    x = ImageToSequence(config.mode, config.permutation_seed, name="to_sequence")(images)
    stack = recurrent_stack.recurrent_stack(
        config.cell, config.units, config.layers, bidirectional=config.bidirectional,
        return_sequences=per_step, dropout=config.dropout, chrono_steps=chrono_steps,
        builtin=getattr(config, "builtin_layers", False))
    x = recurrent_stack.apply_stack(stack, x)
    probabilities = keras.layers.Dense(NUM_CLASSES, activation="softmax", name="classes")(x)
    name = f"mnist_{config.mode}_{'bi' if config.bidirectional else ''}{config.cell}"
    return keras.Model(images, probabilities, name=name)


def per_step_model(model):
    """The same trained model, but giving class probabilities after every step ([B, T, 10]).

    Rebuilt around the trained layers (shared weights), with the last
    recurrent layer replaced by a copy that returns sequences. Only exact for
    unidirectional stacks; returns None for a bidirectional one, whose
    backward half has seen the future at every step.
    """
    import layers as rnn_layers

    recurrent = [layer for layer in model.layers
                 if isinstance(layer, (rnn_layers.Recurrent, rnn_layers.Bidirectional))]
    if not recurrent or isinstance(recurrent[-1], rnn_layers.Bidirectional):
        return None
    last = recurrent[-1]
    inputs = keras.Input(model.input_shape[1:], name="image")
    x = inputs
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if layer is last:
            settings = dict(last.get_config(), return_sequences=True,
                            name=last.name + "_per_step")
            copy = type(last).from_config(settings)
            x = copy(x)
            copy.set_weights(last.get_weights())
        else:
            x = layer(x)
    return keras.Model(inputs, x, name=model.name + "_per_step")


def image_to_sequence_layer(model):
    """The model's `ImageToSequence` layer (to know the order in which pixels arrive)."""
    for layer in model.layers:
        if isinstance(layer, ImageToSequence):
            return layer
    raise ValueError(f"{model.name} has no ImageToSequence layer; not an rnn-suite MNIST model")
