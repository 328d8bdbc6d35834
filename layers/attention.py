"""Bahdanau (additive) attention, and a cell that attends over a memory at every step."""

import keras
from keras import initializers, ops

from layers.recurrent import PACKAGE
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
class AttentiveCell(keras.layers.Layer):
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

    Drive it with `Recurrent(AttentiveCell(...))(x, memory=..., memory_mask=...)`
    for teacher forcing, or one step at a time for decoding:
    `constants = cell.prepare(x_0, states, memory=m, memory_mask=mask)` once
    (the attention keys are computed there, once per memory), then
    `output, states = cell.step(x_t, states, constants)` per step.

    Args:
        cell: The wrapped cell (`GRUCell`, `LSTMCell` or `SimpleRNNCell`).
        attention: A `BahdanauAttention` layer.
        return_attention: Also output the attention weights at each step.
        context_gate: Scale the context by a learned gating scalar computed
            from the previous state. Default: `False`.

    Example:

    >>> import numpy as np
    >>> from layers import AttentiveCell, BahdanauAttention, GRUCell, Recurrent
    >>> decoder = Recurrent(AttentiveCell(GRUCell(8), BahdanauAttention(6)),
    ...                     return_sequences=True)
    >>> memory = np.random.rand(2, 7, 10).astype("float32")
    >>> decoder(np.zeros((2, 4, 3), "float32"), memory=memory).shape
    TensorShape([2, 4, 18])
    """

    needs_memory = True

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

    @property
    def output_size(self):
        size = self.cell.output_size + (self.memory_dim or 0)
        return [size, None] if self.return_attention else size

    def build(self, input_shape, memory_shape=None):
        if memory_shape is None:
            raise ValueError(
                f"{type(self).__name__} is built from the memory it attends over: "
                "call the Recurrent layer with `memory=`"
            )
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
        """Per-sequence constants: attention keys (once per memory) and the cell's."""
        if memory is None:
            raise ValueError(f"{type(self).__name__}.prepare needs `memory=`")
        memory = ops.convert_to_tensor(memory, dtype=inputs.dtype)
        if memory_mask is not None:
            memory_mask = ops.cast(memory_mask, "bool")
        cell_input = ops.concatenate([inputs, memory[:, 0, :]], axis=-1)
        return {
            "memory": memory,
            "memory_mask": memory_mask,
            "keys": self.attention.compute_keys(memory),
            "cell": self.cell.prepare(cell_input, states, training=training),
        }

    def step(self, inputs, states, constants):
        """One step: attend with the previous state, then run the cell."""
        context, weights = self.attention.attend(
            states[0], constants["memory"], constants["keys"], constants["memory_mask"]
        )
        if self.context_gate:
            context = context * ops.sigmoid(ops.matmul(states[0], self.gate_kernel) + self.gate_bias)
        output, new_states = self.cell.step(
            ops.concatenate([inputs, context], axis=-1), states, constants["cell"]
        )
        output = ops.concatenate([output, context], axis=-1)
        if self.return_attention:
            return (output, weights), new_states
        return output, new_states

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
