"""`Bidirectional`: one recurrent layer reads forwards, a copy reads backwards."""

import keras
import tensorflow as tf
from keras import ops

from layers.recurrent import PACKAGE
from layers.validation import check_choice

MERGE_MODES = ("concat", "sum", "mul", "ave", None)


def copy_layer(layer, **changes):
    """A fresh, unbuilt copy of `layer` from its config, with `changes` to it.

    The classes of the layer and of its cells are passed to the deserialiser, so
    a user's own cell copies without being registered as serialisable
    (`keras.layers.Bidirectional` cannot copy such a cell).
    """
    config = keras.saving.serialize_keras_object(layer)
    config["config"].update(changes)
    return keras.saving.deserialize_keras_object(
        config, custom_objects={type(part).__name__: type(part) for part in _layer_and_cells(layer)})


def _layer_and_cells(layer):
    yield layer
    for part in (getattr(layer, "cell", None), *getattr(layer, "cells", ())):
        if part is not None:
            yield from _layer_and_cells(part)


@keras.saving.register_keras_serializable(package=PACKAGE)
class Bidirectional(keras.layers.Layer):
    """Bidirectional wrapper for recurrent layers, as `keras.layers.Bidirectional`.

    The forward layer is a fresh copy of `layer` (from its config); the backward
    layer is another copy with `go_backwards` flipped, unless `backward_layer` is
    given. With `return_sequences`, the backward outputs are flipped back into
    time order and both layers output zeros at masked steps, exactly as Keras
    does, so padding (left or right) never leaks into the merged outputs. The two
    directions are independent, so TensorFlow runs them concurrently.

    Args:
        layer: A recurrent layer instance (`layers.LSTM`, `layers.GRU`,
            `layers.SimpleRNN`, `layers.Recurrent`, or a Keras RNN layer).
        merge_mode: How to combine the two directions: `"concat"` (default),
            `"sum"`, `"mul"`, `"ave"`, or `None` (return both as a list).
        weights: Optional list of initial weights (forward then backward).
        backward_layer: Optional layer for the backward direction; it must have
            the opposite `go_backwards` and the same `return_sequences`,
            `return_state` and `stateful` as `layer`.

    Call arguments:
        sequences: [batch, time, features] tensor.
        initial_state: List of states: the forward layer's, then the backward's.
        mask: Boolean [batch, time] mask.
        training: Whether dropout is active.

    Example:

    >>> import numpy as np
    >>> from layers import Bidirectional, LSTM
    >>> bilstm = Bidirectional(LSTM(8, return_sequences=True))
    >>> bilstm(np.zeros((2, 10, 4), "float32")).shape
    TensorShape([2, 10, 16])
    """

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None, **kwargs):
        if not isinstance(layer, keras.layers.Layer):
            raise ValueError(
                "Argument `layer` must be a recurrent layer instance such as "
                f"layers.LSTM(32). Received: layer={layer!r}"
            )
        if backward_layer is not None and not isinstance(backward_layer, keras.layers.Layer):
            raise ValueError(
                "Argument `backward_layer` must be a recurrent layer instance. "
                f"Received: backward_layer={backward_layer!r}"
            )
        check_choice("merge_mode", merge_mode, MERGE_MODES)
        super().__init__(**kwargs)
        self.forward_layer = copy_layer(
            layer, name="forward_" + layer.name.removeprefix("forward_"))
        if backward_layer is None:
            self.backward_layer = copy_layer(
                layer, name="backward_" + layer.name.removeprefix("backward_"),
                go_backwards=not layer.go_backwards)
        else:
            self.backward_layer = backward_layer
        self._check_directions()
        for direction in (self.forward_layer, self.backward_layer):
            # Zeros at masked steps, so that merged padding is zero (as Keras).
            if hasattr(direction, "zero_output_for_mask"):
                direction.zero_output_for_mask = direction.return_sequences
        self.merge_mode = merge_mode
        if weights:
            half = len(weights) // 2
            self.forward_layer.initial_weights = weights[:half]
            self.backward_layer.initial_weights = weights[half:]
        self.stateful = layer.stateful
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        self.supports_masking = True

    def _check_directions(self):
        forward, backward = self.forward_layer, self.backward_layer
        if forward.go_backwards == backward.go_backwards:
            raise ValueError(
                "The forward and backward layers must have opposite `go_backwards`. "
                f"Received: forward go_backwards={forward.go_backwards}, "
                f"backward go_backwards={backward.go_backwards}"
            )
        for name in ("stateful", "return_sequences", "return_state"):
            if getattr(forward, name) != getattr(backward, name):
                raise ValueError(
                    f"The forward and backward layers must agree on `{name}`. "
                    f"Received: forward {name}={getattr(forward, name)}, "
                    f"backward {name}={getattr(backward, name)}"
                )

    def build(self, sequences_shape, initial_state_shape=None):
        for direction in (self.forward_layer, self.backward_layer):
            if not direction.built:
                direction.build(sequences_shape)
            weights = getattr(direction, "initial_weights", None)
            if weights:
                direction.set_weights(weights)
                direction.initial_weights = None
        self.built = True

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        shape = self.forward_layer.compute_output_shape(sequences_shape)
        states = ()
        if self.return_state:
            shape, states = shape[0], tuple(shape[1:])
        if self.merge_mode == "concat":
            shape = tuple(shape[:-1]) + (shape[-1] * 2,)
        if self.merge_mode is None:
            output = (tuple(shape), tuple(shape))
        else:
            output = (tuple(shape),)
        if self.return_state:
            return output + states + states
        return output if self.merge_mode is None else output[0]

    def compute_mask(self, _, mask=None):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        output_mask = mask if self.return_sequences else None
        outputs = [output_mask, output_mask] if self.merge_mode is None else [output_mask]
        if self.return_state:
            state_count = len(getattr(self.forward_layer, "state_size", [None]))
            return outputs + [None] * (2 * state_count)
        return outputs if self.merge_mode is None else output_mask

    @tf.autograph.experimental.do_not_convert
    def call(self, sequences, initial_state=None, mask=None, training=None):
        forward_state = backward_state = None
        if initial_state is not None:
            if not isinstance(initial_state, (list, tuple)) or len(initial_state) % 2:
                count = len(initial_state) if isinstance(initial_state, (list, tuple)) else 1
                raise ValueError(
                    f"Layer {self.name} expects `initial_state` as a list of the "
                    "forward states followed by the backward states (an even "
                    f"count). Received {count} tensor(s)"
                )
            half = len(initial_state) // 2
            forward_state, backward_state = list(initial_state[:half]), list(initial_state[half:])
        y = self.forward_layer(sequences, initial_state=forward_state, mask=mask, training=training)
        y_rev = self.backward_layer(sequences, initial_state=backward_state, mask=mask, training=training)
        states = ()
        if self.return_state:
            states = tuple(y[1:]) + tuple(y_rev[1:])
            y, y_rev = y[0], y_rev[0]
        if self.return_sequences:
            y_rev = ops.flip(y_rev, axis=1)
        if self.merge_mode == "concat":
            output = ops.concatenate([y, y_rev], axis=-1)
        elif self.merge_mode == "sum":
            output = y + y_rev
        elif self.merge_mode == "ave":
            output = (y + y_rev) / 2
        elif self.merge_mode == "mul":
            output = y * y_rev
        else:
            output = (y, y_rev)
        if self.return_state:
            head = output if self.merge_mode is None else (output,)
            return tuple(head) + states
        return output

    def reset_state(self):
        """Reset the states of both directions (stateful layers)."""
        for direction in (self.forward_layer, self.backward_layer):
            direction.reset_state()

    def reset_states(self):
        """Alias of `reset_state`, as in Keras."""
        self.reset_state()

    def get_config(self):
        config = {
            "layer": keras.saving.serialize_keras_object(self.forward_layer),
            "merge_mode": self.merge_mode,
            # Always there (made from `layer` when not given), so a reload rebuilds it as is.
            "backward_layer": keras.saving.serialize_keras_object(self.backward_layer),
        }
        return {**super().get_config(), **config}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        # In a scope, not only as an argument: __init__ copies the layer by its config too.
        with keras.saving.custom_object_scope(custom_objects or {}):
            config["layer"] = keras.saving.deserialize_keras_object(config["layer"])
            if config.get("backward_layer") is not None:
                config["backward_layer"] = keras.saving.deserialize_keras_object(
                    config["backward_layer"])
            return cls(**config)
