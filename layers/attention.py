"""Bahdanau (additive) attention, a cell that attends over a memory at every step, and its layer."""

import contextlib

import keras
import tensorflow as tf
from keras import initializers, ops

# Keras's mixin through which `keras.layers.RNN` draws a cell's dropout masks
# once per sequence, and its decorator for attributes that are not state; no
# public aliases exist.
from keras.src.layers.rnn.dropout_rnn_cell import DropoutRNNCell
from keras.src.utils import tracking

from layers.recurrent import PACKAGE, Recurrent
from layers.validation import check_positive_int

# Added to the scores of padded positions: exp() of it underflows to exactly 0
# in float32, so masked weights are 0, not merely small.
MASKED_SCORE = -1e9


def additive_attention(energies, score_kernel, values, mask=None):
    """Additive attention from its energies: `v^T tanh(energies)`, masked softmax, weighted sum.

    What `BahdanauAttention` computes once it has added the projected query to
    its keys (`energies = W1 values + b + W2 query`), and what an attention
    pooling without a query computes (`energies = W values + b`): one
    definition of the scores, the mask and the weighted sum for both.

    Args:
        energies: [batch, time, units] (one query, or none, per sequence) or
            [batch, query_time, time, units] (several queries).
        score_kernel: `v`, [units, 1].
        values: [batch, time, value_dim], the rows the weights average.
        mask: Optional boolean [batch, time]; `False` marks padding.

    Returns:
        `(context, weights)`: [batch, value_dim] and [batch, time], or
        [batch, query_time, value_dim] and [batch, query_time, time]. Masked
        positions get weight exactly 0; each row of weights sums to 1, except
        where every position is masked: there the weights and the context are
        all 0 (attention over nothing reads nothing).

    Example:

    >>> import numpy as np
    >>> from layers.attention import additive_attention
    >>> values = np.ones((2, 3, 4), "float32")
    >>> mask = np.array([[True, True, False], [False, False, False]])
    >>> context, weights = additive_attention(
    ...     np.zeros((2, 3, 5), "float32"), np.ones((5, 1), "float32"), values, mask)
    >>> np.asarray(weights)
    array([[0.5, 0.5, 0. ],
           [0. , 0. , 0. ]], dtype=float32)
    >>> np.asarray(context)[:, 0]
    array([1., 0.], dtype=float32)
    """
    energies = ops.convert_to_tensor(energies)
    values = ops.convert_to_tensor(values, dtype=energies.dtype)
    # v^T tanh(.) as a multiply-and-sum: a rank-3/4 matmul here becomes a
    # tensordot whose dynamic transpose XLA cannot compile inside a loop.
    scores = ops.sum(ops.tanh(energies) * ops.cast(score_kernel, energies.dtype)[:, 0], axis=-1)
    several_queries = len(scores.shape) == 3
    if mask is not None:
        mask = ops.cast(mask, "bool")
        if several_queries:
            mask = mask[:, None, :]
        scores = ops.where(mask, scores, ops.cast(MASKED_SCORE, scores.dtype))
        weights = ops.softmax(scores, axis=-1)
        # A fully masked row has equal scores everywhere; its softmax would be
        # uniform over padding.
        weights = ops.where(ops.any(mask, axis=-1, keepdims=True), weights,
                            ops.zeros_like(weights))
    else:
        weights = ops.softmax(scores, axis=-1)
    if several_queries:
        context = ops.matmul(weights, values)
    else:
        context = ops.squeeze(ops.matmul(weights[:, None, :], values), 1)
    return context, weights


@keras.saving.register_keras_serializable(package=PACKAGE)
class BahdanauAttention(keras.layers.Layer):
    """Additive attention (Bahdanau, Cho & Bengio, 2014).

    `score_j = v^T tanh(W1 values_j + b + W2 query)`, `weights = softmax(score)`
    over the (unmasked) values, `context = sum_j weights_j values_j`.

    The keys `W1 values + b` depend only on the memory: compute them once with
    `compute_keys(values)` and pass them as `keys=` at every decoding step.

    Args:
        units: Positive integer, size of the hidden layer of the score.
        use_bias: Whether the keys get a bias `b`. Default: `True`.
        kernel_initializer: Initializer for the three kernels.
        bias_initializer: Initializer for the bias.

    Call arguments:
        query: [batch, query_dim] (one decoding step) or
            [batch, query_time, query_dim] (all steps at once).
        values: [batch, time, value_dim], the memory attended over.
        values_mask: Optional boolean [batch, time]; `False` marks padding,
            which gets weight exactly 0.
        keys: Optional precomputed `compute_keys(values)`.

    Returns:
        `(context, weights)`: [batch, value_dim] and [batch, time] for a 2-D
        query; [batch, query_time, value_dim] and [batch, query_time, time]
        for a 3-D query. Each row of weights sums to 1, or is all 0 (with a
        zero context) where `values_mask` masks every position.

    Example:

    >>> import numpy as np
    >>> from layers import BahdanauAttention
    >>> attention = BahdanauAttention(16)
    >>> memory = np.random.rand(2, 7, 8).astype("float32")
    >>> context, weights = attention(np.zeros((2, 5), "float32"), memory)
    >>> context.shape, weights.shape
    (TensorShape([2, 8]), TensorShape([2, 7]))
    """

    def __init__(
        self,
        units,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        check_positive_int("units", units)
        super().__init__(**kwargs)
        self.units = int(units)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.supports_masking = True

    def build(self, query_shape, values_shape, keys_shape=None):
        query_dim, value_dim = query_shape[-1], values_shape[-1]
        if query_dim is None or value_dim is None:
            raise ValueError(
                f"Layer {self.name} needs the last dimension of `query` and `values` "
                f"to be known. Received query shape {query_shape}, values shape {values_shape}"
            )
        self.values_kernel = self.add_weight(
            shape=(value_dim, self.units), name="values_kernel", initializer=self.kernel_initializer
        )
        self.query_kernel = self.add_weight(
            shape=(query_dim, self.units), name="query_kernel", initializer=self.kernel_initializer
        )
        self.bias = (
            self.add_weight(shape=(self.units,), name="bias", initializer=self.bias_initializer)
            if self.use_bias
            else None
        )
        self.score_kernel = self.add_weight(
            shape=(self.units, 1), name="score_kernel", initializer=self.kernel_initializer
        )
        self.built = True

    def compute_keys(self, values):
        """`W1 values + b`: [batch, time, units], reusable at every step."""
        keys = ops.matmul(values, self.values_kernel)
        if self.bias is not None:
            keys = keys + self.bias
        return keys

    def attend(self, query, values, keys, values_mask=None):
        """The computation of `call`, without Keras's call bookkeeping."""
        projected = ops.matmul(query, self.query_kernel)
        if len(query.shape) == 2:
            energies = keys + projected[:, None, :]  # [B, Tv, U]
        else:
            energies = keys[:, None, :, :] + projected[:, :, None, :]  # [B, Tq, Tv, U]
        return additive_attention(energies, self.score_kernel, values, values_mask)

    @tf.autograph.experimental.do_not_convert
    def call(self, query, values, values_mask=None, keys=None):
        query = ops.convert_to_tensor(query)
        values = ops.convert_to_tensor(values)
        if len(query.shape) not in (2, 3) or len(values.shape) != 3:
            raise ValueError(
                f"Layer {self.name} expects `query` of rank 2 or 3 and `values` of "
                f"rank 3. Received query shape {tuple(query.shape)}, values shape "
                f"{tuple(values.shape)}"
            )
        if values_mask is not None:
            values_mask = ops.convert_to_tensor(values_mask)
            if tuple(values_mask.shape) != tuple(values.shape[:2]) and not (
                len(values_mask.shape) == 2
                and all(a is None or b is None or a == b for a, b in zip(values_mask.shape, values.shape[:2]))
            ):
                raise ValueError(
                    f"Layer {self.name}: `values_mask` must have shape (batch, time) = "
                    f"{tuple(values.shape[:2])}. Received {tuple(values_mask.shape)}"
                )
        if keys is None:
            keys = self.compute_keys(values)
        return self.attend(query, values, keys, values_mask)

    def compute_output_shape(self, query_shape, values_shape, keys_shape=None):
        context = tuple(query_shape[:-1]) + (values_shape[-1],)
        weights = tuple(query_shape[:-1]) + (values_shape[1],)
        return context, weights

    def compute_mask(self, query, values, values_mask=None, keys=None):
        return None

    def get_config(self):
        config = {
            "units": self.units,
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
        }
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package=PACKAGE)
class AttentiveCell(keras.layers.Layer, DropoutRNNCell):
    """A cell that attends over a memory before each step: the Bahdanau decoder.

    At step t, the previous output state `h_{t-1}` (the first state of `cell`)
    queries `attention` over the memory; the context is concatenated to the
    input x_t and fed to `cell`. The step's output is `[cell_output, context]`
    (what a Bahdanau output layer reads), and with `return_attention=True` also
    the attention weights.

    With `context_gate=True` the context is scaled by a gating scalar
    `beta_t = sigmoid(w . h_{t-1} + b)` before it reaches the cell and the
    output (Xu et al., 2015, "Show, Attend and Tell", section 4.2.1): the
    decoder learns how much to look at the memory for each word. The bias
    starts at 0 (beta = 0.5 for every step).

    The memory is not a state but an input of the whole sequence, bound to
    the cell for a call by `attending_over(memory, memory_mask)` (the
    attention keys are computed there, once per memory). Three ways to drive
    the cell:

    * teacher forcing, in any model:
      `AttentiveRecurrent(cell)(x, memory=m, memory_mask=mask)`, which binds
      the memory for its call;
    * one step at a time, for decoding: `constants = cell.prepare(x_0,
      states, memory=m, memory_mask=mask)` once, then `output, states =
      cell.step(x_t, states, constants)` per step;
    * the Keras cell protocol, `call(inputs, states, training)`:
      `with cell.attending_over(m, mask): y = keras.layers.RNN(cell)(x)`.
      Keras 3's `RNN` passes its cell no constants, so the memory is bound
      around its call instead. That needs `m` to be a tensor (eager code, or
      inside a layer's or model's `call`): with the symbolic inputs of a
      functional model the memory would not be an input of the RNN's node, so
      use `AttentiveRecurrent` there. `RNN` also needs one output tensor per
      step: `return_attention=False`.

    Args:
        cell: The wrapped cell (`GRUCell`, `LSTMCell` or `SimpleRNNCell`).
        attention: A `BahdanauAttention` layer.
        return_attention: Also output the attention weights at each step.
        context_gate: Scale the context by a learned gating scalar computed
            from the previous state. Default: `False`.

    Example:

    >>> import numpy as np
    >>> import keras
    >>> from layers import AttentiveCell, AttentiveRecurrent, BahdanauAttention, GRUCell
    >>> decoder = AttentiveRecurrent(AttentiveCell(GRUCell(8), BahdanauAttention(6)),
    ...                              return_sequences=True)
    >>> memory = np.random.rand(2, 7, 10).astype("float32")
    >>> decoder(np.zeros((2, 4, 3), "float32"), memory=memory).shape
    TensorShape([2, 4, 18])
    >>> cell = AttentiveCell(GRUCell(8), BahdanauAttention(6))
    >>> with cell.attending_over(memory):
    ...     outputs = keras.layers.RNN(cell)(np.zeros((2, 4, 3), "float32"))
    >>> outputs.shape
    TensorShape([2, 18])
    """

    def __init__(self, cell, attention, return_attention=False, context_gate=False, **kwargs):
        if not hasattr(cell, "prepare") or not hasattr(cell, "step"):
            raise ValueError(
                "Argument `cell` must be a cell of this package (GRUCell, LSTMCell, "
                f"SimpleRNNCell). Received: cell={cell!r}"
            )
        if not isinstance(attention, BahdanauAttention):
            raise ValueError(
                "Argument `attention` must be a BahdanauAttention layer. "
                f"Received: attention={attention!r}"
            )
        super().__init__(**kwargs)
        self.cell = cell
        self.attention = attention
        self.return_attention = bool(return_attention)
        self.context_gate = bool(context_gate)
        self.state_size = cell.state_size
        self.memory_dim = None
        self._bind(None)

    @property
    def output_size(self):
        size = self.cell.output_size + (self.memory_dim or 0)
        return [size, None] if self.return_attention else size

    # The bound memory is a per-call input, not state: Keras must not track
    # its tensors as the layer's.
    @tracking.no_automatic_dependency_tracking
    def _bind(self, bound):
        self._bound = bound

    @contextlib.contextmanager
    def attending_over(self, memory, memory_mask=None):
        """Binds the memory attended over to the cell for the calls in a `with` block.

        `build`, `prepare` and `call` inside the block read it; the attention
        keys `W1 memory + b` are computed here, once.

        Args:
            memory: [batch, time_m, features_m], attended over at every step.
            memory_mask: Optional boolean [batch, time_m]; `False` marks
                padding of `memory`, which gets attention weight 0.

        Yields:
            The cell.
        """
        previous = self._bound
        self._bind(self._memory_constants(memory, memory_mask))
        try:
            yield self
        finally:
            self._bind(previous)

    def _memory_constants(self, memory, memory_mask):
        """The memory, its mask and its attention keys, checked and computed once."""
        if keras.utils.is_keras_tensor(memory):
            raise ValueError(
                f"{type(self).__name__} {self.name} cannot be bound to the symbolic "
                "memory of a functional model, which would not become an input of the "
                "layer running the cell: use `AttentiveRecurrent(cell)(x, memory=...)`"
            )
        memory = ops.convert_to_tensor(memory, dtype=self.compute_dtype)
        if len(memory.shape) != 3 or memory.shape[-1] is None:
            raise ValueError(
                f"{type(self).__name__} {self.name} attends over a memory "
                "[batch, time_m, features_m] with known features. Received memory "
                f"of shape {tuple(memory.shape)}"
            )
        if memory_mask is not None:
            memory_mask = ops.cast(memory_mask, "bool")
        if not self.attention.built:
            self.attention.build((memory.shape[0], self.cell.units), tuple(memory.shape))
        return {
            "memory": memory,
            "memory_mask": memory_mask,
            "keys": self.attention.compute_keys(memory),
        }

    def _bound_memory(self, method):
        if self._bound is None:
            raise ValueError(
                f"{type(self).__name__}.{method} needs the memory it attends over: call "
                "`AttentiveRecurrent(cell)(x, memory=...)`, pass `memory=` to "
                "`prepare`, or run it inside `with cell.attending_over(memory):`"
            )
        return self._bound

    def build(self, input_shape, memory_shape=None):
        if memory_shape is None:
            memory_shape = tuple(self._bound_memory("build")["memory"].shape)
        self.memory_dim = memory_shape[-1]
        batch = input_shape[0]
        query_dim = self.cell.units
        if not self.attention.built:
            self.attention.build((batch, query_dim), tuple(memory_shape))
        if not self.cell.built:
            self.cell.build((batch, input_shape[-1] + self.memory_dim))
        if self.context_gate:
            self.gate_kernel = self.add_weight(
                shape=(query_dim, 1), name="gate_kernel", initializer="glorot_uniform")
            self.gate_bias = self.add_weight(shape=(1,), name="gate_bias", initializer="zeros")
        self.built = True

    def prepare(self, inputs, states, training=False, memory=None, memory_mask=None):
        """Per-sequence constants: the memory, its attention keys and the cell's.

        The memory is `memory=` (and `memory_mask=`) when given, else the one
        bound by `attending_over`.
        """
        if memory is not None:
            bound = self._memory_constants(memory, memory_mask)
        else:
            bound = self._bound_memory("prepare")
        # Only the shape of the cell's input matters here (its dropout mask).
        cell_input = ops.concatenate([inputs, bound["memory"][:, 0, :]], axis=-1)
        return {**bound, "cell": self.cell.prepare(cell_input, states, training=training)}

    def _context(self, query, constants):
        context, weights = self.attention.attend(
            query, constants["memory"], constants["keys"], constants["memory_mask"]
        )
        if self.context_gate:
            context = context * ops.sigmoid(ops.matmul(query, self.gate_kernel) + self.gate_bias)
        return context, weights

    def _output(self, output, context, weights):
        output = ops.concatenate([output, context], axis=-1)
        return (output, weights) if self.return_attention else output

    @tf.autograph.experimental.do_not_convert
    def step(self, inputs, states, constants):
        """One step: attend with the previous state, then run the cell."""
        context, weights = self._context(states[0], constants)
        output, new_states = self.cell.step(
            ops.concatenate([inputs, context], axis=-1), states, constants["cell"]
        )
        return self._output(output, context, weights), new_states

    @tf.autograph.experimental.do_not_convert
    def call(self, inputs, states, training=False):
        """The Keras cell protocol: one step over the memory bound by `attending_over`."""
        bound = self._bound_memory("call")
        nested = isinstance(states, (list, tuple))
        state_list = list(states) if nested else [states]
        context, weights = self._context(state_list[0], bound)
        output, new_states = self.cell.call(
            ops.concatenate([inputs, context], axis=-1), state_list, training=training
        )
        if not nested:
            new_states = new_states[0]
        return self._output(output, context, weights), new_states

    # `keras.layers.RNN` draws a DropoutRNNCell's masks once per sequence,
    # before its loop; these hand that to the wrapped cell, whose input is
    # [x_t, context].
    def get_dropout_mask(self, step_input):
        memory = self._bound_memory("get_dropout_mask")["memory"]
        return self.cell.get_dropout_mask(
            ops.concatenate([step_input, memory[:, 0, :]], axis=-1))

    def get_recurrent_dropout_mask(self, step_input):
        return self.cell.get_recurrent_dropout_mask(step_input)

    def reset_dropout_mask(self):
        self.cell.reset_dropout_mask()

    def reset_recurrent_dropout_mask(self):
        self.cell.reset_recurrent_dropout_mask()

    def get_initial_state(self, batch_size=None):
        return self.cell.get_initial_state(batch_size=batch_size)

    def get_config(self):
        config = {
            "cell": keras.saving.serialize_keras_object(self.cell),
            "attention": keras.saving.serialize_keras_object(self.attention),
            "return_attention": self.return_attention,
            "context_gate": self.context_gate,
        }
        return {**super().get_config(), **config}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["cell"] = keras.saving.deserialize_keras_object(config["cell"],
                                                               custom_objects=custom_objects)
        config["attention"] = keras.saving.deserialize_keras_object(
            config["attention"], custom_objects=custom_objects)
        return cls(**config)


@keras.saving.register_keras_serializable(package=PACKAGE)
class AttentiveRecurrent(Recurrent):
    """`Recurrent` over an `AttentiveCell`, whose call also takes the memory attended over.

    The memory is bound to the cell for the call (`AttentiveCell.attending_over`),
    so its attention keys are computed once per call, not once per step.

    Args:
        cell: An `AttentiveCell`.
        **kwargs: The arguments of `Recurrent` (`return_sequences`,
            `return_state`, `go_backwards`, `stateful`, `unroll`,
            `zero_output_for_mask`) and base layer arguments.

    Call arguments:
        sequences: A 3D tensor [batch, time, features], the decoder's inputs.
        initial_state: List of initial state tensors, [batch, units] each.
        mask: Boolean tensor [batch, time]; `False` marks padding to skip.
        training: Whether dropout is active.
        memory: [batch, time_m, features_m], attended over at every step
            (e.g. the encoder's outputs).
        memory_mask: Optional boolean [batch, time_m]; `False` marks padding
            of `memory`, which gets attention weight 0.

    Example:

    >>> import numpy as np
    >>> from layers import AttentiveCell, AttentiveRecurrent, BahdanauAttention, LSTMCell
    >>> decoder = AttentiveRecurrent(
    ...     AttentiveCell(LSTMCell(8), BahdanauAttention(6), return_attention=True),
    ...     return_sequences=True)
    >>> memory = np.random.rand(2, 7, 10).astype("float32")
    >>> memory_mask = np.arange(7) < np.array([[7], [3]])
    >>> outputs, weights = decoder(np.zeros((2, 4, 3), "float32"), memory=memory,
    ...                            memory_mask=memory_mask)
    >>> outputs.shape, weights.shape
    (TensorShape([2, 4, 18]), TensorShape([2, 4, 7]))
    """

    def __init__(self, cell, **kwargs):
        if not isinstance(cell, AttentiveCell):
            raise ValueError(
                "Argument `cell` must be an AttentiveCell (a cell without attention "
                f"goes in Recurrent). Received: cell={cell!r}"
            )
        super().__init__(cell, **kwargs)

    def build(self, sequences_shape, initial_state_shape=None, memory_shape=None):
        self._check_sequences_shape(sequences_shape)
        if memory_shape is None:
            raise ValueError(self._needs_memory())
        if not self.cell.built:
            self.cell.build((sequences_shape[0],) + tuple(sequences_shape[2:]), memory_shape)
        super().build(sequences_shape, initial_state_shape)

    @tf.autograph.experimental.do_not_convert
    def call(self, sequences, initial_state=None, mask=None, training=None, memory=None,
             memory_mask=None):
        if memory is None:
            raise ValueError(self._needs_memory())
        with self.cell.attending_over(memory, memory_mask):
            return super().call(sequences, initial_state=initial_state, mask=mask,
                                training=training)

    def _needs_memory(self):
        return (f"Layer {self.name} attends over a memory: pass `memory=` (e.g. the "
                "encoder outputs)")


# Models saved before AttentiveRecurrent existed hold the cell inside a plain
# Recurrent called with `memory=`: Recurrent.from_config builds this instead,
# and Keras files a layer's weights under its class's name, so this class
# answers to Recurrent's (its registered name stays its own) and its weights
# stay where those models hold them.
AttentiveCell.recurrent_class = AttentiveRecurrent
AttentiveRecurrent.__name__ = Recurrent.__name__
