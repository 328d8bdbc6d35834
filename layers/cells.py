"""One time step of each recurrent cell: SimpleRNNCell, GRUCell, LSTMCell.

Each cell keeps Keras's fused weight layout (`kernel` [F, G*H], `recurrent_kernel`
[H, G*H], `bias`) so weights move to and from `keras.layers.SimpleRNN/GRU/LSTM`
unchanged, but computes a step as G small per-gate matmuls (x @ W_g and h @ U_g).
On a CPU, TensorFlow runs those independent matmuls on all cores at once, which is
where the speed over the built-ins comes from (see benchmarks/layer_speed.py).

A cell offers two ways in:

* the Keras cell protocol, `call(inputs, states, training)`, so it works inside
  `keras.layers.RNN`;
* `prepare(inputs, states, training)` once per sequence (splits the weights per gate,
  draws the dropout masks) and then `step(inputs, states, constants)` at every time
  step. `layers.Recurrent` drives cells this way, so nothing is split or drawn twice.
"""

import keras
import tensorflow as tf
from keras import activations, constraints, initializers, ops, regularizers

# Keras's mixin that caches one dropout mask per sequence and lets
# `keras.layers.RNN` reset it between batches; there is no public alias.
from keras.src.layers.rnn.dropout_rnn_cell import DropoutRNNCell

from layers.validation import check_positive_int, check_rate

PACKAGE = "rnn_suite"


def _replica_in_sync():
    """This replica's id under a `tf.distribute` strategy of several replicas, else None."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return None
    return context.replica_id_in_sync_group


class _RNNCellBase(keras.layers.Layer, DropoutRNNCell):
    """What the three cells share: arguments, weights, dropout masks, config.

    Subclasses set `gate_count`, the number of blocks of units in the fused
    weights (1 for the ungated SimpleRNNCell, 3 for GRUCell, 4 for LSTMCell),
    and implement `step`.
    """

    gate_count = 1
    chrono_gates = None  # the `ChronoBias(gates=...)` this cell's bias takes, if any

    def __init__(
        self,
        units,
        activation="tanh",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        **kwargs,
    ):
        check_positive_int("units", units)
        check_rate("dropout", dropout)
        check_rate("recurrent_dropout", recurrent_dropout)
        super().__init__(**kwargs)
        self.units = int(units)
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self._check_chrono_bias()
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.recurrent_constraint = constraints.get(recurrent_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.dropout = float(dropout)
        self.recurrent_dropout = float(recurrent_dropout)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed=seed)
        self.state_size = self.units
        self.output_size = self.units

    def _check_chrono_bias(self):
        # A bias of the wrong cell can have a shape ChronoBias accepts (4 * units
        # is also 3 * (4 * units / 3)), which would set the wrong gates silently.
        from layers.initializers import ChronoBias

        chrono = self.bias_initializer
        if not isinstance(chrono, ChronoBias) or chrono.gates == self.chrono_gates:
            return
        name = type(self).__name__
        if self.chrono_gates is None:
            raise ValueError(f"{name} has no gates for ChronoBias to set (it initializes a GRU's "
                             f"or an LSTM's memory gates); received bias_initializer="
                             f"ChronoBias(gates={chrono.gates!r})")
        raise ValueError(f"{name} needs ChronoBias(..., gates={self.chrono_gates!r}); received "
                         f"bias_initializer=ChronoBias(gates={chrono.gates!r})")

    # --- weights -------------------------------------------------------------

    def build(self, input_shape):
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(
                f"{type(self).__name__} needs the last dimension of its input "
                f"(the features) to be known. Received input_shape={input_shape}"
            )
        gates = self.gate_count * self.units
        self.kernel = self.add_weight(
            shape=(input_dim, gates),
            name="kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, gates),
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        if self.use_bias:
            self.bias = self.add_weight(
                shape=self._bias_shape(),
                name="bias",
                initializer=self._bias_initializer(),
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        else:
            self.bias = None

    def _bias_shape(self):
        return (self.gate_count * self.units,)

    def _bias_initializer(self):
        return self.bias_initializer

    # --- the two protocols -----------------------------------------------------

    def prepare(self, inputs, states, training=False):
        """Per-sequence constants: weights split per gate and dropout masks.

        Args:
            inputs: one time step of input, [batch, features] (for mask shapes).
            states: the initial states (for the recurrent dropout mask shape).
            training: whether dropout is active.

        Returns:
            A dict of tensors that `step` reads at every time step.
        """
        constants = {
            "kernels": ops.split(self.kernel, self.gate_count, axis=1),
            "recurrent_kernels": ops.split(
                self.recurrent_kernel, self.gate_count, axis=1
            ),
            "input_biases": None,
            "recurrent_biases": None,
            "input_mask": None,
            "recurrent_mask": None,
        }
        if self.use_bias:
            constants["input_biases"] = ops.split(
                self._input_bias(), self.gate_count
            )
        if training and self.dropout > 0:
            constants["input_mask"] = self._draw_dropout_mask(inputs, self.dropout)
        if training and self.recurrent_dropout > 0:
            constants["recurrent_mask"] = self._draw_dropout_mask(
                states[0], self.recurrent_dropout
            )
        return constants

    def _draw_dropout_mask(self, like, rate):
        """A dropout mask shaped like `like` (0, or 1 / (1 - rate)): one per sequence.

        Under a `tf.distribute` strategy with several replicas the seed
        generator's state is mirrored, so every replica would draw the same
        seed, and the i-th example of each replica's slice of the batch the
        same mask. The replica's id is folded into the seed instead: each
        replica draws its own masks, as one device does for the whole batch.
        Without a strategy (one replica) the masks are Keras's own draw.
        """
        replica = _replica_in_sync()
        if replica is None:
            return keras.random.dropout(
                ops.ones_like(like), rate=rate, seed=self.seed_generator
            )
        seed = ops.cast(
            ops.mod(self.seed_generator.next(), 2**31 - 2), "int32"
        )  # as keras.random casts its seeds
        seed = tf.random.experimental.stateless_fold_in(seed, replica)
        return tf.nn.experimental.stateless_dropout(
            ops.ones_like(like), rate=rate, seed=seed
        )

    def _input_bias(self):
        return self.bias

    def project_gates(self, inputs, h_prev, constants):
        """Pre-activations of each gate, x @ W_g + b_g and h @ U_g, as lists."""
        if constants["input_mask"] is not None:
            inputs = inputs * constants["input_mask"]
        if constants["recurrent_mask"] is not None:
            h_prev = h_prev * constants["recurrent_mask"]
        x_parts = [ops.matmul(inputs, w) for w in constants["kernels"]]
        if constants["input_biases"] is not None:
            x_parts = [x + b for x, b in zip(x_parts, constants["input_biases"])]
        h_parts = [ops.matmul(h_prev, u) for u in constants["recurrent_kernels"]]
        return x_parts, h_parts

    @tf.autograph.experimental.do_not_convert
    def call(self, inputs, states, training=False):
        """The Keras cell protocol: one step, dropout masks cached per sequence."""
        nested = isinstance(states, (list, tuple))
        state_list = list(states) if nested else [states]
        constants = self.prepare(inputs, state_list, training=False)
        if training and self.dropout > 0:
            constants["input_mask"] = self.get_dropout_mask(inputs)
        if training and self.recurrent_dropout > 0:
            constants["recurrent_mask"] = self.get_recurrent_dropout_mask(
                state_list[0]
            )
        output, new_states = self.step(inputs, state_list, constants)
        if isinstance(self.state_size, int) and not nested:
            return output, new_states[0]
        return output, new_states

    def get_initial_state(self, batch_size=None):
        sizes = (
            [self.state_size]
            if isinstance(self.state_size, int)
            else list(self.state_size)
        )
        return [ops.zeros((batch_size, size), dtype=self.compute_dtype) for size in sizes]

    def get_config(self):
        config = {
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(
                self.recurrent_initializer
            ),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "recurrent_regularizer": regularizers.serialize(
                self.recurrent_regularizer
            ),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "recurrent_constraint": constraints.serialize(
                self.recurrent_constraint
            ),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        }
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package=PACKAGE)
class SimpleRNNCell(_RNNCellBase):
    """Cell of a fully connected RNN: `h_t = activation(x_t W + b + h_{t-1} U)`.

    With `activation="relu"` and `recurrent_initializer="identity"` it is the IRNN
    of Le, Jaitly & Hinton (2015), the recipe that makes a plain RNN trainable on
    784-step pixel-by-pixel MNIST (pair it with gradient clipping).

    Args:
        units: Positive integer, dimensionality of the output space.
        activation: Activation function. Default: hyperbolic tangent (`tanh`).
        use_bias: Whether the layer uses a bias vector. Default: `True`.
        kernel_initializer: Initializer for the `kernel` weights matrix, used
            for the linear transformation of the inputs.
        recurrent_initializer: Initializer for the `recurrent_kernel` weights
            matrix, used for the linear transformation of the recurrent state.
            Default: `"orthogonal"`; `"identity"` for IRNN.
        bias_initializer: Initializer for the bias vector. Default: `"zeros"`.
        kernel_regularizer: Regularizer function applied to `kernel`.
        recurrent_regularizer: Regularizer function applied to `recurrent_kernel`.
        bias_regularizer: Regularizer function applied to the bias vector.
        kernel_constraint: Constraint function applied to `kernel`.
        recurrent_constraint: Constraint function applied to `recurrent_kernel`.
        bias_constraint: Constraint function applied to the bias vector.
        dropout: Float in [0, 1). Fraction of the input units to drop; one mask
            per sequence, off at inference.
        recurrent_dropout: Float in [0, 1). Fraction of the recurrent units to
            drop; one mask per sequence, off at inference.
        seed: Random seed for dropout.

    Example:

    >>> import numpy as np, keras
    >>> from layers import SimpleRNNCell
    >>> rnn = keras.layers.RNN(SimpleRNNCell(4))
    >>> rnn(np.zeros((2, 10, 8), "float32")).shape
    TensorShape([2, 4])
    """

    gate_count = 1

    def step(self, inputs, states, constants):
        """One time step: returns `(output, [h])`."""
        (x_part,), (h_part,) = self.project_gates(inputs, states[0], constants)
        h = self.activation(x_part + h_part)  # activations.get(None) is linear, never None
        return h, [h]


@keras.saving.register_keras_serializable(package=PACKAGE)
class GRUCell(_RNNCellBase):
    """Cell of the Gated Recurrent Unit (Cho et al., 2014), gates z, r, h.

    `reset_after=True` (the default, as in Keras and cuDNN) applies the reset gate
    after the recurrent matmul and keeps separate input and recurrent biases
    (`bias` of shape [2, 3 * units]); `reset_after=False` is the original
    formulation with a single bias [3 * units].

    Args:
        units: Positive integer, dimensionality of the output space.
        activation: Activation function of the candidate state. Default: `tanh`.
        recurrent_activation: Activation of the update and reset gates.
            Default: `sigmoid`.
        use_bias: Whether the layer uses a bias vector. Default: `True`.
        kernel_initializer: Initializer for `kernel`. Default: `"glorot_uniform"`.
        recurrent_initializer: Initializer for `recurrent_kernel`.
            Default: `"orthogonal"`.
        bias_initializer: Initializer for the bias. Default: `"zeros"`.
        kernel_regularizer: Regularizer function applied to `kernel`.
        recurrent_regularizer: Regularizer function applied to `recurrent_kernel`.
        bias_regularizer: Regularizer function applied to the bias.
        kernel_constraint: Constraint function applied to `kernel`.
        recurrent_constraint: Constraint function applied to `recurrent_kernel`.
        bias_constraint: Constraint function applied to the bias.
        dropout: Float in [0, 1), dropout on the inputs (one mask per sequence).
        recurrent_dropout: Float in [0, 1), dropout on the recurrent state.
        reset_after: Apply the reset gate after (`True`) or before (`False`) the
            recurrent matmul.
        seed: Random seed for dropout.

    Example:

    >>> import numpy as np, keras
    >>> from layers import GRUCell
    >>> gru = keras.layers.RNN(GRUCell(4), return_sequences=True)
    >>> gru(np.zeros((2, 10, 8), "float32")).shape
    TensorShape([2, 10, 4])
    """

    gate_count = 3
    chrono_gates = "gru"

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        reset_after=True,
        seed=None,
        **kwargs,
    ):
        kwargs.pop("implementation", None)  # Keras's switch; one path here
        super().__init__(
            units,
            activation=activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            seed=seed,
            **kwargs,
        )
        self.recurrent_activation = activations.get(recurrent_activation)
        self.reset_after = bool(reset_after)

    def _bias_shape(self):
        if self.reset_after:
            return (2, 3 * self.units)
        return (3 * self.units,)

    def _input_bias(self):
        return self.bias[0] if self.reset_after else self.bias

    def prepare(self, inputs, states, training=False):
        constants = super().prepare(inputs, states, training)
        if self.use_bias and self.reset_after:
            constants["recurrent_biases"] = ops.split(self.bias[1], 3)
        return constants

    def step(self, inputs, states, constants):
        """One time step: returns `(output, [h])`."""
        h_prev = states[0]
        if self.reset_after:
            (x_z, x_r, x_h), (h_z, h_r, h_h) = self.project_gates(
                inputs, h_prev, constants
            )
            if constants["recurrent_biases"] is not None:
                b_z, b_r, b_h = constants["recurrent_biases"]
                h_z, h_r, h_h = h_z + b_z, h_r + b_r, h_h + b_h
            z = self.recurrent_activation(x_z + h_z)
            r = self.recurrent_activation(x_r + h_r)
            candidate = self.activation(x_h + r * h_h)
        else:
            # The candidate's recurrent matmul needs r first, so only z and r
            # are projected together.
            x = inputs
            if constants["input_mask"] is not None:
                x = x * constants["input_mask"]
            h_dropped = h_prev
            if constants["recurrent_mask"] is not None:
                h_dropped = h_prev * constants["recurrent_mask"]
            w_z, w_r, w_h = constants["kernels"]
            u_z, u_r, u_h = constants["recurrent_kernels"]
            x_z, x_r, x_h = (ops.matmul(x, w) for w in (w_z, w_r, w_h))
            if constants["input_biases"] is not None:
                b_z, b_r, b_h = constants["input_biases"]
                x_z, x_r, x_h = x_z + b_z, x_r + b_r, x_h + b_h
            z = self.recurrent_activation(x_z + ops.matmul(h_dropped, u_z))
            r = self.recurrent_activation(x_r + ops.matmul(h_dropped, u_r))
            candidate = self.activation(x_h + ops.matmul(r * h_dropped, u_h))
        h = z * h_prev + (1.0 - z) * candidate
        return h, [h]

    def get_config(self):
        config = {
            "recurrent_activation": activations.serialize(self.recurrent_activation),
            "reset_after": self.reset_after,
        }
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package=PACKAGE)
class LSTMCell(_RNNCellBase):
    """Cell of the Long Short-Term Memory layer (Hochreiter & Schmidhuber, 1997).

    Gates in Keras's order: input i, forget f, candidate c, output o.

    Args:
        units: Positive integer, dimensionality of the output space.
        activation: Activation of the candidate and of the cell state on output.
            Default: `tanh`.
        recurrent_activation: Activation of the i, f, o gates. Default: `sigmoid`.
        use_bias: Whether the layer uses a bias vector. Default: `True`.
        kernel_initializer: Initializer for `kernel`. Default: `"glorot_uniform"`.
        recurrent_initializer: Initializer for `recurrent_kernel`.
            Default: `"orthogonal"`.
        bias_initializer: Initializer for the bias. Default: `"zeros"`.
        unit_forget_bias: If `True`, add 1 to the forget-gate bias at
            initialisation (Jozefowicz et al., 2015) and use zeros for the rest.
        kernel_regularizer: Regularizer function applied to `kernel`.
        recurrent_regularizer: Regularizer function applied to `recurrent_kernel`.
        bias_regularizer: Regularizer function applied to the bias.
        kernel_constraint: Constraint function applied to `kernel`.
        recurrent_constraint: Constraint function applied to `recurrent_kernel`.
        bias_constraint: Constraint function applied to the bias.
        dropout: Float in [0, 1), dropout on the inputs (one mask per sequence).
        recurrent_dropout: Float in [0, 1), dropout on the recurrent state.
        seed: Random seed for dropout.

    Example:

    >>> import numpy as np, keras
    >>> from layers import LSTMCell
    >>> lstm = keras.layers.RNN(LSTMCell(4), return_state=True)
    >>> output, h, c = lstm(np.zeros((2, 10, 8), "float32"))
    >>> output.shape, c.shape
    (TensorShape([2, 4]), TensorShape([2, 4]))
    """

    gate_count = 4
    chrono_gates = "lstm"

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        unit_forget_bias=True,
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        **kwargs,
    ):
        kwargs.pop("implementation", None)  # Keras's switch; one path here
        super().__init__(
            units,
            activation=activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            seed=seed,
            **kwargs,
        )
        self.recurrent_activation = activations.get(recurrent_activation)
        self.unit_forget_bias = bool(unit_forget_bias)
        self.state_size = [self.units, self.units]

    def _bias_initializer(self):
        from layers.initializers import ChronoBias

        # Chrono sets the forget gate's bias itself (and the others with it).
        if not self.unit_forget_bias or isinstance(self.bias_initializer, ChronoBias):
            return self.bias_initializer
        units, base = self.units, self.bias_initializer

        def forget_bias_one(shape, dtype=None):
            return ops.concatenate(
                [
                    base((units,), dtype=dtype),
                    initializers.get("ones")((units,), dtype=dtype),
                    base((units * 2,), dtype=dtype),
                ]
            )

        return forget_bias_one

    def step(self, inputs, states, constants):
        """One time step: returns `(output, [h, c])`."""
        h_prev, c_prev = states[0], states[1]
        (x_i, x_f, x_c, x_o), (h_i, h_f, h_c, h_o) = self.project_gates(
            inputs, h_prev, constants
        )
        i = self.recurrent_activation(x_i + h_i)
        f = self.recurrent_activation(x_f + h_f)
        c = f * c_prev + i * self.activation(x_c + h_c)
        o = self.recurrent_activation(x_o + h_o)
        h = o * self.activation(c)
        return h, [h, c]

    def get_config(self):
        config = {
            "recurrent_activation": activations.serialize(self.recurrent_activation),
            "unit_forget_bias": self.unit_forget_bias,
        }
        return {**super().get_config(), **config}
