"""`--cell/--units/--layers/--bidirectional` turned into a stack of our recurrent layers.

Every app builds its recurrent part here, so that a cell means the same thing
in all of them (in particular `rnn` is always the IRNN recipe).
"""

import keras

import layers as rnn_layers

CELLS = ("rnn", "gru", "lstm")


def recurrent_layer(cell, units, *, return_sequences=False, dropout=0.0, recurrent_dropout=0.0,
                    chrono_steps=None, builtin=False, name=None):
    """One recurrent layer of the given cell kind.

    `rnn` is the IRNN of Le, Jaitly & Hinton (2015): ReLU, identity recurrent
    kernel, small input weights. A tanh RNN cannot carry a gradient across
    hundreds of steps; with ReLU and an identity start the state is copied
    forward unchanged until training says otherwise. Its activations are
    unbounded, so callers should clip gradients (the apps always do).
    `chrono_steps`: a GRU's or LSTM's gate biases by chrono initialization up
    to that many steps (`layers.ChronoBias`). `builtin`: the same layer from
    Keras's built-ins (`keras.layers.LSTM`, ...), the peer our layers are
    measured against.
    """
    source = keras.layers if builtin else rnn_layers
    common = dict(return_sequences=return_sequences, dropout=dropout, name=name)
    if recurrent_dropout:  # only when asked: the layers' configs stay as they were otherwise
        common["recurrent_dropout"] = recurrent_dropout
    if cell == "rnn":
        return source.SimpleRNN(
            units, activation="relu", recurrent_initializer="identity",
            kernel_initializer=keras.initializers.RandomNormal(stddev=0.001), **common)
    if chrono_steps and cell in ("gru", "lstm"):
        common["bias_initializer"] = rnn_layers.ChronoBias(chrono_steps, gates=cell)
        if builtin and cell == "lstm":
            # Keras's LSTM would overwrite the forget gate's part with ones.
            common["unit_forget_bias"] = False
    if cell == "gru":
        return source.GRU(units, **common)
    if cell == "lstm":
        return source.LSTM(units, **common)
    raise ValueError(f"unknown cell {cell!r}; expected one of {', '.join(CELLS)}")


def recurrent_stack(cell, units, num_layers, *, bidirectional=False, return_sequences=False,
                    dropout=0.0, recurrent_dropout=0.0, chrono_steps=None, builtin=False,
                    name="recurrent"):
    """The layers of a stack, first to last.

    Every layer but the last returns sequences (the next one needs them); the
    last returns sequences only if asked. With `bidirectional`, each layer is
    wrapped in `Bidirectional` (outputs concatenated). With `builtin`, every
    layer is Keras's own (`recurrent_layer`).

    Returns:
        A list of Keras layers to apply in order.
    """
    stack = []
    for index in range(num_layers):
        last = index == num_layers - 1
        layer = recurrent_layer(
            cell, units, return_sequences=return_sequences or not last, dropout=dropout,
            recurrent_dropout=recurrent_dropout, chrono_steps=chrono_steps, builtin=builtin,
            name=f"{name}_{index + 1}" if not bidirectional else None)
        if bidirectional:
            wrapper = keras.layers.Bidirectional if builtin else rnn_layers.Bidirectional
            layer = wrapper(layer, name=f"{name}_{index + 1}")
        stack.append(layer)
    return stack


def apply_stack(stack, inputs, mask=None):
    """Run `inputs` through the layers of `stack` (functional API); returns the last output."""
    x = inputs
    for layer in stack:
        x = layer(x, mask=mask) if mask is not None else layer(x)
        mask = None  # after the first layer, Keras propagates the mask itself
    return x
