"""`Recurrent` drives any cell over time; `SimpleRNN`, `GRU`, `LSTM` are conveniences.

The loop is a `tf.while_loop` over `TensorArray`s (reading `x[t]` by indexing would
make the gradient quadratic in T), bounded by `maximum_iterations` so it is
differentiable under XLA.
"""

import inspect

import keras
import tensorflow as tf
from keras import ops
from keras.src import backend as keras_backend

# Keras's decorator to create variables a layer must not count as weights; no
# public alias exists.
from keras.src.utils import tracking

from layers import cells as cells_module
from layers.validation import check_positive_int

PACKAGE = cells_module.PACKAGE

# How many loop iterations TensorFlow may run concurrently (x_t @ W of later
# steps does not depend on h). Measured on 2 cores: 2, 10, 32 and 64 train at
# the same speed, so this is not a tuning knob.
PARALLEL_ITERATIONS = 32

# Time steps run by one loop iteration: every loop variable passes through the
# loop's control nodes once per iteration, so running several steps per
# iteration saves that cost. Measured on 2 cores: 4 steps per iteration made
# inference 1.1-1.2x faster than 1 step and left training speed unchanged (the
# backward pass is dominated by its matmuls and elementwise ops, not the loop).
STEPS_PER_ITERATION = 4


def run_cell_over_time(
    step,
    sequences,
    initial_states,
    mask=None,
    go_backwards=False,
    return_sequences=False,
    zero_output_for_mask=False,
    output_template=None,
    steps_per_iteration=None,
):
    """Run `step(x_t, states) -> (output, new_states)` over a [B, T, F] batch.

    Args:
        step: The per-step function (closing over per-sequence constants).
        sequences: [batch, time, features] tensor.
        initial_states: list of [batch, ...] tensors.
        mask: optional [batch, time] boolean tensor; a masked step keeps the
            previous states, and its output is the previous output (or zeros
            with `zero_output_for_mask`), as in Keras.
        go_backwards: process the sequence from the end; outputs come back in
            that (reversed) order, as in Keras.
        return_sequences: also collect every step's output.
        zero_output_for_mask: zeros instead of the previous output where masked.
        output_template: a structure of tensors shaped like one step's output
            (used for the zero output before the first step).
        steps_per_iteration: how many time steps one loop iteration runs
            (default `STEPS_PER_ITERATION`); the last `T % steps_per_iteration`
            steps run after the loop.

    Returns:
        `(last_output, outputs or None, final_states)`; `outputs` is
        [batch, time, ...] (a structure, if the cell's output is one).
    """
    if steps_per_iteration is None:
        steps_per_iteration = STEPS_PER_ITERATION
    time_major = tf.transpose(sequences, [1, 0, 2])
    steps = time_major.shape[0]
    if steps is None:
        steps = tf.shape(time_major)[0]
    if go_backwards:
        time_major = tf.reverse(time_major, [0])
    inputs = tf.TensorArray(
        time_major.dtype, size=steps, element_shape=time_major.shape[1:]
    ).unstack(time_major)

    masks = None
    if mask is not None:
        mask_tm = tf.transpose(tf.cast(mask, tf.bool))[:, :, None]  # [T, B, 1]
        if go_backwards:
            mask_tm = tf.reverse(mask_tm, [0])
        masks = tf.TensorArray(tf.bool, size=steps).unstack(mask_tm)

    zero_output = tf.nest.map_structure(tf.zeros_like, output_template)
    flat_zero = tf.nest.flatten(zero_output)
    output_arrays = tuple(
        tf.TensorArray(o.dtype, size=steps, element_shape=o.shape)
        for o in flat_zero
    ) if return_sequences else ()

    def one_step(t, states, prev_output, arrays):
        output, new_states = step(inputs.read(t), list(states))
        flat_output = tf.nest.flatten(output)
        if masks is not None:
            keep = masks.read(t)
            new_states = [tf.where(keep, n, s) for n, s in zip(new_states, states)]
            fallback = flat_zero if zero_output_for_mask else prev_output
            flat_output = [tf.where(keep, o, p) for o, p in zip(flat_output, fallback)]
        arrays = tuple(a.write(t, o) for a, o in zip(arrays, flat_output))
        return tuple(new_states), tuple(flat_output), arrays

    def several_steps(count):
        def body(t, states, prev_output, arrays):
            for j in range(count):
                states, prev_output, arrays = one_step(t + j, states, prev_output, arrays)
            return t + count, states, prev_output, arrays
        return body

    loop_vars = (tf.constant(0), tuple(initial_states), tuple(flat_zero), output_arrays)
    per_iteration = max(1, int(steps_per_iteration))
    # Python ints for a static time axis, tensors for a dynamic one.
    full, rest = steps // per_iteration, steps % per_iteration
    if not isinstance(full, int) or full > 0:
        loop_vars = tf.while_loop(
            lambda t, *_: t < full * per_iteration,
            several_steps(per_iteration),
            loop_vars,
            maximum_iterations=full,
            parallel_iterations=PARALLEL_ITERATIONS,
        )
    if isinstance(rest, int):
        # A static remainder (fewer steps than one iteration) is written out,
        # inside one more loop iteration when the loop ran before it: written
        # out after the loop, two or more steps of stacked layers made Keras's
        # fit hang while tracing its train function (TensorFlow 2.21, e.g. two
        # GRUs over 6 steps; tests/layers/test_mirrored_layers.py trains such a stack).
        if rest and full > 0:
            loop_vars = tf.while_loop(
                lambda t, *_: t < steps,
                several_steps(rest),
                loop_vars,
                maximum_iterations=1,
                parallel_iterations=PARALLEL_ITERATIONS,
            )
        elif rest:
            loop_vars = several_steps(rest)(*loop_vars)
    else:
        loop_vars = tf.while_loop(
            lambda t, *_: t < steps,
            several_steps(1),
            loop_vars,
            maximum_iterations=rest,
            parallel_iterations=PARALLEL_ITERATIONS,
        )
    _, final_states, last_flat, arrays = loop_vars
    last_output = tf.nest.pack_sequence_as(zero_output, list(last_flat))
    outputs = None
    if return_sequences:
        stacked = [tf.transpose(a.stack(), [1, 0] + list(range(2, len(o.shape) + 1)))
                   for a, o in zip(arrays, flat_zero)]
        outputs = tf.nest.pack_sequence_as(zero_output, stacked)
    return last_output, outputs, list(final_states)


@keras.saving.register_keras_serializable(package=PACKAGE)
class Recurrent(keras.layers.Layer):
    """Runs a recurrent cell over the time axis of a [batch, time, features] input.

    Works with the cells of this package (which it drives through
    `prepare`/`step`, splitting weights and drawing dropout masks once per
    sequence) and with any Keras cell (`call(inputs, states, training)`,
    `state_size`). Behaves as `keras.layers.RNN`: same arguments, masks, states
    and output order.

    Args:
        cell: A cell instance (`SimpleRNNCell`, `GRUCell`, `LSTMCell`, or
            any Keras RNN cell). An `AttentiveCell`, which also takes the
            memory it attends over, goes in `AttentiveRecurrent`.
        return_sequences: Return the full sequence of outputs instead of the
            last one. Default: `False`.
        return_state: Also return the final states. Default: `False`.
        go_backwards: Process the input backwards and return the reversed
            sequence. Default: `False`.
        stateful: Carry the last state of each sample in a batch over as the
            initial state of the same sample in the next batch (needs a fixed
            batch size). Default: `False`.
        unroll: Accepted for compatibility with Keras and ignored: the loop
            always runs `STEPS_PER_ITERATION` steps per iteration (full
            unrolling measured no faster to train); results are the same.
        zero_output_for_mask: Output zeros at masked steps instead of the
            previous output. Default: `False`.

    Call arguments:
        sequences: A 3D tensor [batch, time, features].
        initial_state: List of initial state tensors, [batch, units] each.
        mask: Boolean tensor [batch, time]; `False` marks padding to skip.
        training: Whether dropout is active.

    Example:

    >>> import numpy as np
    >>> from layers import Recurrent, LSTMCell
    >>> layer = Recurrent(LSTMCell(4), return_sequences=True)
    >>> layer(np.zeros((2, 10, 8), "float32")).shape
    TensorShape([2, 10, 4])
    """

    def __init__(
        self,
        cell,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        zero_output_for_mask=False,
        **kwargs,
    ):
        if not hasattr(cell, "call") or not hasattr(cell, "state_size"):
            raise ValueError(
                "Argument `cell` must be a recurrent cell with `call` and "
                f"`state_size` (e.g. layers.LSTMCell(32)). Received: cell={cell!r}"
            )
        super().__init__(**kwargs)
        self.cell = cell
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.unroll = bool(unroll)
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.supports_masking = True
        self.states = None
        sizes = cell.state_size
        self.state_size = [sizes] if isinstance(sizes, int) else list(sizes)

    # --- shapes ----------------------------------------------------------------

    def _output_size(self):
        size = getattr(self.cell, "output_size", None)
        return self.state_size[0] if size is None else size

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        batch, steps = sequences_shape[0], sequences_shape[1]
        output_size = self._output_size()

        def shape_of(size):
            return (batch, steps, size) if self.return_sequences else (batch, size)

        output_shape = tf.nest.map_structure(shape_of, output_size)
        if self.return_state:
            return (output_shape, *[(batch, s) for s in self.state_size])
        return output_shape

    def compute_mask(self, inputs, mask=None):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        output_mask = mask if self.return_sequences else None
        if isinstance(self._output_size(), (list, tuple)):
            output_mask = [output_mask] * len(self._output_size())
        if self.return_state:
            return [output_mask] + [None] * len(self.state_size)
        return output_mask

    def build(self, sequences_shape, initial_state_shape=None):
        self._check_sequences_shape(sequences_shape)
        step_shape = (sequences_shape[0],) + tuple(sequences_shape[2:])
        if isinstance(self.cell, keras.layers.Layer) and not self.cell.built:
            self.cell.build(step_shape)
        if self.stateful:
            self._refuse_stateful_replicas()
        if self.stateful and self.states is None:
            batch = sequences_shape[0]
            if batch is None:
                raise ValueError(
                    "A stateful recurrent layer needs a fixed batch size: pass "
                    "`batch_shape=(batch, time, features)` to `keras.Input` or "
                    f"`batch_size` to the model. Received input shape {sequences_shape}"
                )
            self._create_state_variables(batch)
        self.built = True

    def _refuse_stateful_replicas(self):
        """A stateful layer cannot run on several replicas: say so instead of a shape error."""
        context = tf.distribute.get_replica_context()
        replicas = (context.num_replicas_in_sync if context is not None
                    else tf.distribute.get_strategy().num_replicas_in_sync)
        if replicas > 1:
            raise ValueError(
                f"Layer {self.name} has stateful=True, which cannot run under a "
                f"tf.distribute strategy with {replicas} replicas: each replica sees "
                "only its slice of the batch, so a sample's carried state would not "
                "follow it. Train a stateful model on one device, or use "
                "stateful=False."
            )

    # Carried states are variables but not weights (as in Keras): they stay out
    # of get_weights()/set_weights() and out of saved models.
    @tracking.no_automatic_dependency_tracking
    def _create_state_variables(self, batch):
        self.states = [
            keras.Variable(
                ops.zeros((batch, size)),
                trainable=False,
                dtype=self.variable_dtype,
                name=f"state_{i}",
            )
            for i, size in enumerate(self.state_size)
        ]

    def _check_sequences_shape(self, shape):
        if len(shape) != 3:
            raise ValueError(
                f"Layer {self.name} expects `sequences` of rank 3 "
                f"[batch, time, features]. Received a tensor of rank {len(shape)} "
                f"with shape {tuple(shape)}"
            )
        if shape[1] == 0:
            raise ValueError(
                f"Layer {self.name} received `sequences` with 0 time steps "
                f"(shape {tuple(shape)}); a sequence needs at least one step"
            )

    # --- states ----------------------------------------------------------------

    def get_initial_state(self, batch_size):
        """Zero states (or the cell's own initial states) for a batch."""
        make = getattr(self.cell, "get_initial_state", None)
        if make is not None:
            states = make(batch_size=batch_size)
            return list(states) if isinstance(states, (list, tuple)) else [states]
        return [ops.zeros((batch_size, s), dtype=self.compute_dtype) for s in self.state_size]

    def reset_state(self):
        """Zero the carried states of a stateful layer."""
        if self.states is not None:
            for state in self.states:
                state.assign(ops.zeros_like(state))

    def reset_states(self):
        """Alias of `reset_state`, as in Keras."""
        self.reset_state()

    def _checked_initial_state(self, initial_state, sequences):
        if not isinstance(initial_state, (list, tuple)):
            initial_state = [initial_state]
        initial_state = [
            ops.cast(ops.convert_to_tensor(s), self.compute_dtype) for s in initial_state
        ]
        if len(initial_state) != len(self.state_size):
            raise ValueError(
                f"Layer {self.name} expects {len(self.state_size)} tensor(s) in "
                f"`initial_state` (state sizes {self.state_size}). Received "
                f"{len(initial_state)} tensor(s)"
            )
        batch = sequences.shape[0]
        for i, (state, size) in enumerate(zip(initial_state, self.state_size)):
            shape = tuple(state.shape)
            bad_rank = len(shape) != 2
            bad_size = not bad_rank and shape[1] is not None and shape[1] != size
            bad_batch = (
                not bad_rank
                and batch is not None
                and shape[0] is not None
                and shape[0] != batch
            )
            if bad_rank or bad_size or bad_batch:
                raise ValueError(
                    f"Layer {self.name}: `initial_state[{i}]` must have shape "
                    f"(batch={batch}, {size}). Received shape {shape}"
                )
        return initial_state

    def _checked_mask(self, mask, sequences):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        if mask is None:
            return None
        mask = ops.convert_to_tensor(mask)
        if len(mask.shape) == 3 and mask.shape[-1] == 1:
            mask = mask[..., 0]
        expected = tuple(sequences.shape[:2])
        matches = len(mask.shape) == 2 and all(
            a is None or b is None or a == b for a, b in zip(mask.shape, expected)
        )
        if not matches:
            raise ValueError(
                f"Layer {self.name}: `mask` must have shape (batch, time) = "
                f"{expected}. Received mask of shape {tuple(mask.shape)}"
            )
        return ops.cast(mask, "bool")

    # --- the forward pass ------------------------------------------------------

    # Not converted by AutoGraph (nor are the other layers' calls): the loop over time is
    # an explicit tf.while_loop and every Python `if` here is on static values, so the
    # conversion only cost seconds of tracing per model.
    @tf.autograph.experimental.do_not_convert
    def call(
        self,
        sequences,
        initial_state=None,
        mask=None,
        training=None,
    ):
        sequences = ops.convert_to_tensor(sequences, dtype=self.compute_dtype)
        self._check_sequences_shape(sequences.shape)
        mask = self._checked_mask(mask, sequences)
        if self.stateful:
            self._refuse_stateful_replicas()
        if initial_state is None:
            if self.stateful:
                states = [ops.convert_to_tensor(s) for s in self.states]
            else:
                states = self.get_initial_state(ops.shape(sequences)[0])
        else:
            states = self._checked_initial_state(initial_state, sequences)
        states = [ops.cast(s, self.compute_dtype) for s in states]

        last_output, outputs, final_states = self.inner_loop(sequences, states, mask, training)
        if self.stateful:
            for variable, value in zip(self.states, final_states):
                variable.assign(value)

        output = outputs if self.return_sequences else last_output
        if self.return_state:
            return [output, *final_states] if not isinstance(output, (list, tuple)) else [*output, *final_states]
        return output

    def inner_loop(self, sequences, states, mask, training):
        """The loop over time: `(last_output, outputs, final_states)` of checked inputs.

        Subclasses may hand it to a fused kernel (GRU and LSTM to cuDNN where
        one is there); this one runs the cell step by step.
        """
        first_step = sequences[:, 0, :]
        cell = self.cell
        if hasattr(cell, "prepare") and hasattr(cell, "step"):
            constants = cell.prepare(first_step, states, training=bool(training))

            def step(x_t, step_states):
                return cell.step(x_t, step_states, constants)

            template = None
            if isinstance(self._output_size(), (list, tuple)):
                # A structured output (e.g. with attention weights): one probe
                # step gives the shapes of the zero output.
                template, _ = cell.step(first_step, states, constants)
        else:
            kwargs = {"training": training} if _call_takes_training(cell) else {}
            if hasattr(cell, "get_dropout_mask"):
                cell.get_dropout_mask(first_step)
                cell.get_recurrent_dropout_mask(states[0])

            def step(x_t, step_states):
                single = isinstance(cell.state_size, int)
                output, new_states = cell(x_t, step_states[0] if single else step_states, **kwargs)
                if not isinstance(new_states, (list, tuple)):
                    new_states = [new_states]
                return output, list(new_states)

            template = None

        if template is None:
            template = ops.zeros(
                (ops.shape(sequences)[0], self._output_size()), dtype=self.compute_dtype
            )
        last_output, outputs, final_states = run_cell_over_time(
            step,
            sequences,
            states,
            mask=mask,
            go_backwards=self.go_backwards,
            return_sequences=self.return_sequences,
            zero_output_for_mask=self.zero_output_for_mask,
            output_template=template,
        )
        if hasattr(cell, "reset_dropout_mask"):
            cell.reset_dropout_mask()
            cell.reset_recurrent_dropout_mask()
        return last_output, outputs, final_states

    def get_config(self):
        config = {
            "cell": keras.saving.serialize_keras_object(self.cell),
            "return_sequences": self.return_sequences,
            "return_state": self.return_state,
            "go_backwards": self.go_backwards,
            "stateful": self.stateful,
            "unroll": self.unroll,
            "zero_output_for_mask": self.zero_output_for_mask,
        }
        return {**super().get_config(), **config}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["cell"] = keras.saving.deserialize_keras_object(config["cell"],
                                                               custom_objects=custom_objects)
        # A cell that takes call arguments of its own (an AttentiveCell's
        # memory) names the subclass that accepts them, so that a model saved
        # with such a cell inside a plain `Recurrent` loads and runs.
        layer_class = getattr(config["cell"], "recurrent_class", None)
        if not (isinstance(layer_class, type) and issubclass(layer_class, cls)):
            layer_class = cls
        return layer_class(**config)


def _call_takes_training(cell):
    try:
        return "training" in inspect.signature(cell.call).parameters
    except (TypeError, ValueError):
        return False


class _CellLayer(Recurrent):
    """What SimpleRNN, GRU, LSTM share: a `Recurrent` over a cell built from flat arguments.

    Each subclass spells out its arguments in its own `__init__` (as Keras's
    layers do) and passes the cell's on as `cell_arguments`. The cell's
    settings come back as the read-only properties below and sit flat in the
    layer's config, as in Keras.
    """

    cell_class = None

    def __init__(
        self,
        units,
        cell_arguments,
        *,
        activity_regularizer,
        return_sequences,
        return_state,
        go_backwards,
        stateful,
        unroll,
        use_cudnn,
        zero_output_for_mask,
        use_fused=False,
        **kwargs,
    ):
        check_positive_int("units", units)
        if use_cudnn not in ("auto", True, False):
            raise ValueError("Expected `use_cudnn` to be 'auto', True or False (as Keras "
                             f"takes it). Received: use_cudnn={use_cudnn!r}")
        if use_fused not in ("auto", True, False):
            raise ValueError("Expected `use_fused` to be 'auto', True or False (as "
                             f"`use_cudnn` takes it). Received: use_fused={use_fused!r}")
        cell = self.cell_class(
            units,
            name="cell" if "name" not in kwargs else f"{kwargs['name']}_cell",
            dtype=kwargs.get("dtype"),
            **cell_arguments,
        )
        super().__init__(
            cell,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            unroll=unroll,
            zero_output_for_mask=zero_output_for_mask,
            activity_regularizer=activity_regularizer,
            **kwargs,
        )
        self.use_cudnn = use_cudnn
        self.use_fused = use_fused
        self.input_spec = keras.layers.InputSpec(ndim=3)

    # --- cuDNN, where TensorFlow sees a GPU ----------------------------------

    # The backend's fused loop of this layer's cell (`keras.src.backend.gru` or
    # `.lstm`, cuDNN-backed under TensorFlow), or None where there is none.
    backend_loop = None

    def backend_loop_arguments(self):
        """Keyword arguments of `backend_loop` beyond the weights and the activations."""
        return {}

    def inner_loop(self, sequences, states, mask, training):
        """cuDNN's loop where `use_cudnn` and the configuration allow it, else the cell's.

        As `keras.layers.GRU` / `LSTM` choose: with `use_cudnn="auto"` (or True)
        and no `recurrent_dropout`, the backend's fused loop is tried; it runs
        where TensorFlow sees a GPU and the cell is one cuDNN computes (tanh and
        sigmoid, a bias, no unrolling; GRU with `reset_after=True`) and
        declines otherwise, and the step-by-step loop runs instead. The weights
        are the same variables either way, so a saved model does not depend on
        which loop trained it.
        """
        if self.backend_loop is not None and self.use_cudnn in ("auto", True) \
                and not self.recurrent_dropout:
            try:
                result = self._backend_inner_loop(sequences, states, mask, training)
            except NotImplementedError:
                result = None
            if result is not None:
                self.supports_jit = False  # cuDNN's ops are not XLA's (as in Keras)
                return result
        if self.use_cudnn is True:
            raise ValueError(
                f"Layer {self.name} has use_cudnn=True, but cuDNN cannot run it here: it "
                "needs a GPU that TensorFlow sees and a cuDNN configuration (tanh and "
                "sigmoid activations, use_bias=True, no recurrent_dropout, unroll=False; "
                "a GRU with reset_after=True). Pass use_cudnn='auto' to fall back to the "
                "step-by-step loop where it cannot."
            )
        if self.use_fused in ("auto", True):
            refusal = self.fused_refusal(sequences, mask)
            if refusal is None:
                return self._fused_inner_loop(sequences, states, mask, training)
            if self.use_fused is True:
                raise ValueError(
                    f"Layer {self.name} has use_fused=True, but the fused loop cannot "
                    f"run it here: {refusal}. Pass use_fused='auto' to fall back to the "
                    "step-by-step loop where it cannot."
                )
        return super().inner_loop(sequences, states, mask, training)

    # --- the fused loop, on CPU (layers/fused.py) -----------------------------------

    # "lstm" or "gru": the fused op's cell that computes this layer's, or None.
    fused_cell = None

    def fused_refusal(self, sequences, mask):
        """Why the fused loop cannot run this call (None when it can).

        The fused loop computes the cell exactly as the step-by-step loop does
        (tests compare outputs and gradients), for the configurations it covers:
        tanh and sigmoid, float32 or bfloat16 (mixed_bfloat16: bf16 matmuls inside,
        float32 states), any mask, no `recurrent_dropout`, a GRU with
        `reset_after=True`, on CPU, outside XLA, not into a SavedModel.
        """
        from layers import fused

        cell = self.cell
        if self.fused_cell is None:
            return f"{type(self).__name__} has no fused loop"
        if cell.recurrent_dropout:
            return "recurrent_dropout is set (it changes every step's recurrent input)"
        if cell.activation is not keras.activations.tanh or \
                cell.recurrent_activation is not keras.activations.sigmoid:
            return "the activations are not tanh and sigmoid"
        if getattr(cell, "reset_after", True) is not True:
            return "the GRU has reset_after=False"
        if self.compute_dtype not in ("float32", "bfloat16"):
            return f"the compute dtype is {self.compute_dtype}, not float32 or bfloat16"
        if sequences.shape[1] == 0:
            return "the sequences have no steps"
        if tf.config.list_logical_devices("GPU"):
            return "TensorFlow sees a GPU (cuDNN's loop is the one for it)"
        if fused.in_xla_context():
            return "the call is compiled by XLA, which cannot run the op"
        step_loop_reason = fused.step_loop_reason()
        if step_loop_reason:
            return step_loop_reason
        if fused.library() is None:
            if self.use_fused == "auto":
                fused.warn_unavailable_once()
            return fused.unavailable_reason()
        return None

    def fused_bias(self):
        """The cell's bias as the fused op reads it: flat (zeros without one)."""
        cell = self.cell
        if cell.bias is None:
            size = (4 if self.fused_cell == "lstm" else 6) * cell.units
            return tf.zeros([size], dtype=self.compute_dtype)
        return tf.reshape(ops.convert_to_tensor(cell.bias), [-1])

    def _fused_inner_loop(self, sequences, states, mask, training):
        from layers import fused

        sequences = self._dropped_inputs(sequences, training)
        if self.go_backwards:
            sequences = ops.flip(sequences, axis=1)
            mask = None if mask is None else ops.flip(mask, axis=1)
        h0 = states[0]
        c0 = states[1] if len(states) > 1 else h0
        cell = self.cell
        # The op is float32 in and out; under mixed_bfloat16 it multiplies in bf16.
        as_op = lambda value: tf.cast(ops.convert_to_tensor(value), tf.float32)  # noqa: E731
        outputs, h_last, c_last = fused.fused_loop(
            self.fused_cell, as_op(sequences), as_op(h0), as_op(c0), as_op(cell.kernel),
            as_op(cell.recurrent_kernel), as_op(self.fused_bias()), training=bool(training),
            mask=mask, bf16=self.compute_dtype == "bfloat16",
        )
        outputs, h_last, c_last = (tf.cast(t, self.compute_dtype) for t in (outputs, h_last, c_last))
        last_output = h_last
        if mask is not None:
            outputs = fused.masked_outputs(outputs, mask, self.zero_output_for_mask)
            last_output = outputs[:, -1]
        final_states = [h_last, c_last] if len(states) > 1 else [h_last]
        return last_output, outputs if self.return_sequences else None, final_states

    def _dropped_inputs(self, sequences, training):
        """The inputs with one dropout mask for every step, as the cell's own loop applies it.

        The mask is drawn and forgotten here: a loop that takes over after one
        declined (cuDNN without a GPU) draws its own, as the cell's loop always has.
        """
        if training and self.dropout:
            dropout_mask = self.cell.get_dropout_mask(sequences[:, 0, :])
            sequences = sequences * ops.expand_dims(dropout_mask, axis=1)
            if hasattr(self.cell, "reset_dropout_mask"):
                self.cell.reset_dropout_mask()
        return sequences

    def _backend_inner_loop(self, sequences, states, mask, training):
        sequences = self._dropped_inputs(sequences, training)
        last_output, outputs, final_states = self.backend_loop(
            sequences,
            *states,
            mask,
            kernel=self.cell.kernel,
            recurrent_kernel=self.cell.recurrent_kernel,
            bias=self.cell.bias,
            activation=self.cell.activation,
            recurrent_activation=self.cell.recurrent_activation,
            return_sequences=self.return_sequences,
            go_backwards=self.go_backwards,
            unroll=self.unroll,
            **self.backend_loop_arguments(),
        )
        return last_output, outputs, list(final_states)

    # --- the cell's settings, read-only as in Keras ----------------------------

    @property
    def units(self):
        return self.cell.units

    @property
    def activation(self):
        return self.cell.activation

    @property
    def use_bias(self):
        return self.cell.use_bias

    @property
    def kernel_initializer(self):
        return self.cell.kernel_initializer

    @property
    def recurrent_initializer(self):
        return self.cell.recurrent_initializer

    @property
    def bias_initializer(self):
        return self.cell.bias_initializer

    @property
    def kernel_regularizer(self):
        return self.cell.kernel_regularizer

    @property
    def recurrent_regularizer(self):
        return self.cell.recurrent_regularizer

    @property
    def bias_regularizer(self):
        return self.cell.bias_regularizer

    @property
    def kernel_constraint(self):
        return self.cell.kernel_constraint

    @property
    def recurrent_constraint(self):
        return self.cell.recurrent_constraint

    @property
    def bias_constraint(self):
        return self.cell.bias_constraint

    @property
    def dropout(self):
        return self.cell.dropout

    @property
    def recurrent_dropout(self):
        return self.cell.recurrent_dropout

    @property
    def seed(self):
        return self.cell.seed

    # --- config ----------------------------------------------------------------

    def get_config(self):
        config = super().get_config()
        config.pop("cell")
        # The cell's settings, flat; its name, dtype and trainable flag come
        # from the layer's own when the cell is rebuilt.
        cell_config = self.cell.get_config()
        for key in ("name", "trainable", "dtype"):
            cell_config.pop(key)
        config.update(cell_config)
        # The base Layer keeps it but leaves it out of its config (Keras's LSTM adds it too).
        config["activity_regularizer"] = keras.regularizers.serialize(self.activity_regularizer)
        # Like Keras's `use_cudnn`, `use_fused` is a choice of this process, not
        # a property of the model: a saved model takes the loaded one's default.
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(**config)  # flat arguments: nothing to deserialise by name


@keras.saving.register_keras_serializable(package=PACKAGE)
class SimpleRNN(_CellLayer):
    """Fully-connected RNN where the output is fed back as the next input.

    Same arguments, weights and results as `keras.layers.SimpleRNN`, computed by
    `SimpleRNNCell`: `h_t = activation(x_t @ kernel + bias + h_{t-1} @ recurrent_kernel)`.
    For long sequences (pixel-by-pixel MNIST, 784 steps) use the IRNN of Le,
    Jaitly & Hinton (2015), `activation="relu"` with
    `recurrent_initializer="identity"`, and train with gradient clipping
    (`clipnorm`).

    Args:
        units: Positive integer, dimensionality of the output space.
        activation: Activation function to use. Default: hyperbolic tangent
            (`tanh`). If you pass `None`, no activation is applied
            (ie. "linear" activation: `a(x) = x`).
        use_bias: Boolean (default `True`), whether the layer uses a bias
            vector.
        kernel_initializer: Initializer for the `kernel` weights matrix, used
            for the linear transformation of the inputs. Default:
            `"glorot_uniform"`.
        recurrent_initializer: Initializer for the `recurrent_kernel` weights
            matrix, used for the linear transformation of the recurrent state.
            Default: `"orthogonal"` (`"identity"` for an IRNN).
        bias_initializer: Initializer for the bias vector. Default: `"zeros"`.
        kernel_regularizer: Regularizer function applied to the `kernel`
            weights matrix. Default: `None`.
        recurrent_regularizer: Regularizer function applied to the
            `recurrent_kernel` weights matrix. Default: `None`.
        bias_regularizer: Regularizer function applied to the bias vector.
            Default: `None`.
        activity_regularizer: Regularizer function applied to the output of the
            layer (its "activation"). Default: `None`.
        kernel_constraint: Constraint function applied to the `kernel` weights
            matrix. Default: `None`.
        recurrent_constraint: Constraint function applied to the
            `recurrent_kernel` weights matrix. Default: `None`.
        bias_constraint: Constraint function applied to the bias vector.
            Default: `None`.
        dropout: Float in [0, 1). Fraction of the units to drop for the linear
            transformation of the inputs (one mask per sequence, off at
            inference). Default: 0.
        recurrent_dropout: Float in [0, 1). Fraction of the units to drop for
            the linear transformation of the recurrent state. Default: 0.
        return_sequences: Boolean. Whether to return the last output in the
            output sequence, or the full sequence. Default: `False`.
        return_state: Boolean. Whether to return the last state in addition to
            the output. Default: `False`.
        go_backwards: Boolean (default `False`). If `True`, process the input
            sequence backwards and return the reversed sequence.
        stateful: Boolean (default `False`). If `True`, the last state for each
            sample at index i in a batch is used as the initial state for the
            sample of index i in the following batch (needs a fixed batch size).
        unroll: Boolean (default `False`). Accepted and kept in the config for
            compatibility with Keras, and otherwise ignored: the loop always
            runs `STEPS_PER_ITERATION` steps per iteration (full unrolling
            measured no faster to train); the results are the same.
        seed: Random seed for dropout. Default: `None`. Unlike the built-in,
            this layer keeps it in its config, so a reloaded layer draws the
            same dropout masks.
        use_cudnn: `"auto"`, `True` or `False`, as Keras's GRU and LSTM take
            it. cuDNN has no SimpleRNN: `"auto"` and `False` run the cell's
            loop, `True` is an error. Default: `"auto"`.
        zero_output_for_mask: Boolean (default `False`). If `True`, masked time
            steps output zeros instead of the previous step's output (the
            argument of `keras.layers.RNN`).
        **kwargs: Base layer arguments, such as `name`, `dtype` and `trainable`.

    Call arguments:
        sequences: A 3D tensor, with shape `(batch, timesteps, features)`.
        mask: Binary tensor of shape `(batch, timesteps)` indicating whether a
            given timestep should be masked (optional). An individual `True`
            entry indicates that the corresponding timestep should be utilized,
            while a `False` entry indicates that the corresponding timestep
            should be ignored. Defaults to `None`.
        training: Python boolean indicating whether the layer should behave in
            training mode or in inference mode. Only relevant if `dropout` or
            `recurrent_dropout` is used (optional). Defaults to `None`.
        initial_state: List of initial state tensors to be passed to the first
            call of the cell, one `(batch, units)` tensor (optional; `None`
            means zeros, or the carried state of a stateful layer).
            Defaults to `None`.

    Example:

    >>> import numpy as np
    >>> from layers import SimpleRNN
    >>> inputs = np.random.random((32, 10, 8))
    >>> simple_rnn = SimpleRNN(4)
    >>> output = simple_rnn(inputs)
    >>> print(output.shape)
    (32, 4)
    >>> simple_rnn = SimpleRNN(4, return_sequences=True, return_state=True)
    >>> whole_sequence_output, final_state = simple_rnn(inputs)
    >>> print(whole_sequence_output.shape)
    (32, 10, 4)
    >>> print(final_state.shape)
    (32, 4)

    An IRNN over 784 steps:

    >>> irnn = SimpleRNN(16, activation="relu", recurrent_initializer="identity")
    >>> print(irnn(np.random.random((2, 784, 1))).shape)
    (2, 16)
    """

    cell_class = cells_module.SimpleRNNCell

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
        activity_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        seed=None,
        use_cudnn="auto",
        zero_output_for_mask=False,
        **kwargs,
    ):
        super().__init__(
            units,
            cell_arguments=dict(
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
            ),
            activity_regularizer=activity_regularizer,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            unroll=unroll,
            use_cudnn=use_cudnn,
            zero_output_for_mask=zero_output_for_mask,
            **kwargs,
        )


@keras.saving.register_keras_serializable(package=PACKAGE)
class GRU(_CellLayer):
    """Gated Recurrent Unit - Cho et al. 2014.

    Same arguments, weights and results as `keras.layers.GRU`, computed by
    `GRUCell` with gates z, r, h. There are two variants. The default,
    `reset_after=True` (based on [v3](https://arxiv.org/abs/1406.1078v3), the
    cuDNN convention), applies the reset gate to the hidden state after the
    recurrent matrix multiplication and keeps separate biases for `kernel` and
    `recurrent_kernel` (`bias` of shape `(2, 3 * units)`). `reset_after=False`
    (the [original](https://arxiv.org/abs/1406.1078v1)) applies it before,
    with one bias of shape `(3 * units,)`.

    Args:
        units: Positive integer, dimensionality of the output space.
        activation: Activation function to use. Default: hyperbolic tangent
            (`tanh`). If you pass `None`, no activation is applied
            (ie. "linear" activation: `a(x) = x`).
        recurrent_activation: Activation function to use for the recurrent
            step (the update and reset gates). Default: sigmoid (`sigmoid`).
            If you pass `None`, no activation is applied
            (ie. "linear" activation: `a(x) = x`).
        use_bias: Boolean (default `True`), whether the layer uses a bias
            vector.
        kernel_initializer: Initializer for the `kernel` weights matrix, used
            for the linear transformation of the inputs. Default:
            `"glorot_uniform"`.
        recurrent_initializer: Initializer for the `recurrent_kernel` weights
            matrix, used for the linear transformation of the recurrent state.
            Default: `"orthogonal"`.
        bias_initializer: Initializer for the bias vector. Default: `"zeros"`.
        kernel_regularizer: Regularizer function applied to the `kernel`
            weights matrix. Default: `None`.
        recurrent_regularizer: Regularizer function applied to the
            `recurrent_kernel` weights matrix. Default: `None`.
        bias_regularizer: Regularizer function applied to the bias vector.
            Default: `None`.
        activity_regularizer: Regularizer function applied to the output of the
            layer (its "activation"). Default: `None`.
        kernel_constraint: Constraint function applied to the `kernel` weights
            matrix. Default: `None`.
        recurrent_constraint: Constraint function applied to the
            `recurrent_kernel` weights matrix. Default: `None`.
        bias_constraint: Constraint function applied to the bias vector.
            Default: `None`.
        dropout: Float in [0, 1). Fraction of the units to drop for the linear
            transformation of the inputs (one mask per sequence, off at
            inference). Default: 0.
        recurrent_dropout: Float in [0, 1). Fraction of the units to drop for
            the linear transformation of the recurrent state. Default: 0.
        seed: Random seed for dropout. Default: `None`.
        return_sequences: Boolean. Whether to return the last output in the
            output sequence, or the full sequence. Default: `False`.
        return_state: Boolean. Whether to return the last state in addition to
            the output. Default: `False`.
        go_backwards: Boolean (default `False`). If `True`, process the input
            sequence backwards and return the reversed sequence.
        stateful: Boolean (default `False`). If `True`, the last state for each
            sample at index i in a batch is used as the initial state for the
            sample of index i in the following batch (needs a fixed batch size).
        unroll: Boolean (default `False`). Accepted and kept in the config for
            compatibility with Keras, and otherwise ignored: the loop always
            runs `STEPS_PER_ITERATION` steps per iteration (full unrolling
            measured no faster to train); the results are the same.
        reset_after: GRU convention (whether to apply the reset gate after or
            before the matrix multiplication). `False` is `"before"`, `True`
            is `"after"` (default and cuDNN compatible).
        use_cudnn: `"auto"` (default), `True` or `False`, as Keras takes
            it. With `"auto"`, where TensorFlow sees a GPU and the
            configuration is one cuDNN computes (tanh and sigmoid, a bias, no
            `recurrent_dropout`, no unrolling, `reset_after=True`), the loop runs in cuDNN as
            in `keras.layers.GRU`; elsewhere the cell's own loop runs. `True`
            makes the first an error where it cannot run; `False` never uses it.
        zero_output_for_mask: Boolean (default `False`). If `True`, masked time
            steps output zeros instead of the previous step's output (the
            argument Keras's GRU passes on to `keras.layers.RNN`).
        use_fused: `"auto"` (default), `True` or `False`. With `"auto"`, on a
            CPU and for a configuration the fused op computes (tanh and sigmoid,
            float32, any mask, no `recurrent_dropout`, `reset_after=True`,
            outside XLA), the whole loop runs as one C++ op forward and one
            backward (built on first use; see `layers/fused.py`); elsewhere the
            cell's own loop runs, with the same results. `True` makes the first
            an error where it cannot run; `False` never uses it. Like
            `use_cudnn`, not saved in the config.
        **kwargs: Base layer arguments, such as `name`, `dtype` and `trainable`.

    Call arguments:
        sequences: A 3D tensor, with shape `(batch, timesteps, features)`.
        mask: Binary tensor of shape `(batch, timesteps)` indicating whether a
            given timestep should be masked (optional). An individual `True`
            entry indicates that the corresponding timestep should be utilized,
            while a `False` entry indicates that the corresponding timestep
            should be ignored. Defaults to `None`.
        training: Python boolean indicating whether the layer should behave in
            training mode or in inference mode. Only relevant if `dropout` or
            `recurrent_dropout` is used (optional). Defaults to `None`.
        initial_state: List of initial state tensors to be passed to the first
            call of the cell, one `(batch, units)` tensor (optional; `None`
            means zeros, or the carried state of a stateful layer).
            Defaults to `None`.

    Example:

    >>> import numpy as np
    >>> from layers import GRU
    >>> inputs = np.random.random((32, 10, 8))
    >>> gru = GRU(4)
    >>> output = gru(inputs)
    >>> print(output.shape)
    (32, 4)
    >>> gru = GRU(4, return_sequences=True, return_state=True)
    >>> whole_sequence_output, final_state = gru(inputs)
    >>> print(whole_sequence_output.shape)
    (32, 10, 4)
    >>> print(final_state.shape)
    (32, 4)
    """

    cell_class = cells_module.GRUCell
    backend_loop = staticmethod(keras_backend.gru)

    def backend_loop_arguments(self):
        return {"reset_after": self.cell.reset_after}

    fused_cell = "gru"

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
        activity_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        reset_after=True,
        use_cudnn="auto",
        zero_output_for_mask=False,
        use_fused="auto",
        **kwargs,
    ):
        super().__init__(
            units,
            cell_arguments=dict(
                activation=activation,
                recurrent_activation=recurrent_activation,
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
                reset_after=reset_after,
                seed=seed,
            ),
            activity_regularizer=activity_regularizer,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            unroll=unroll,
            use_cudnn=use_cudnn,
            zero_output_for_mask=zero_output_for_mask,
            use_fused=use_fused,
            **kwargs,
        )

    @property
    def recurrent_activation(self):
        return self.cell.recurrent_activation

    @property
    def reset_after(self):
        return self.cell.reset_after


@keras.saving.register_keras_serializable(package=PACKAGE)
class LSTM(_CellLayer):
    """Long Short-Term Memory layer - Hochreiter 1997.

    Same arguments, weights (gates i, f, c, o, in Keras's order) and results
    as `keras.layers.LSTM`, computed by `LSTMCell`. Its states are `[h, c]`:
    the memory state (also the output) and the carry state.

    Args:
        units: Positive integer, dimensionality of the output space.
        activation: Activation function to use. Default: hyperbolic tangent
            (`tanh`). If you pass `None`, no activation is applied
            (ie. "linear" activation: `a(x) = x`).
        recurrent_activation: Activation function to use for the recurrent
            step (the i, f, o gates). Default: sigmoid (`sigmoid`).
            If you pass `None`, no activation is applied
            (ie. "linear" activation: `a(x) = x`).
        use_bias: Boolean (default `True`), whether the layer uses a bias
            vector.
        kernel_initializer: Initializer for the `kernel` weights matrix, used
            for the linear transformation of the inputs. Default:
            `"glorot_uniform"`.
        recurrent_initializer: Initializer for the `recurrent_kernel` weights
            matrix, used for the linear transformation of the recurrent state.
            Default: `"orthogonal"`.
        bias_initializer: Initializer for the bias vector. Default: `"zeros"`.
        unit_forget_bias: Boolean (default `True`). If `True`, add 1 to the
            bias of the forget gate at initialization, and initialize the rest
            of the bias with `bias_initializer`. Recommended in
            [Jozefowicz et al.](
            https://github.com/mlresearch/v37/blob/gh-pages/jozefowicz15.pdf).
        kernel_regularizer: Regularizer function applied to the `kernel`
            weights matrix. Default: `None`.
        recurrent_regularizer: Regularizer function applied to the
            `recurrent_kernel` weights matrix. Default: `None`.
        bias_regularizer: Regularizer function applied to the bias vector.
            Default: `None`.
        activity_regularizer: Regularizer function applied to the output of the
            layer (its "activation"). Default: `None`.
        kernel_constraint: Constraint function applied to the `kernel` weights
            matrix. Default: `None`.
        recurrent_constraint: Constraint function applied to the
            `recurrent_kernel` weights matrix. Default: `None`.
        bias_constraint: Constraint function applied to the bias vector.
            Default: `None`.
        dropout: Float in [0, 1). Fraction of the units to drop for the linear
            transformation of the inputs (one mask per sequence, off at
            inference). Default: 0.
        recurrent_dropout: Float in [0, 1). Fraction of the units to drop for
            the linear transformation of the recurrent state. Default: 0.
        seed: Random seed for dropout. Default: `None`.
        return_sequences: Boolean. Whether to return the last output in the
            output sequence, or the full sequence. Default: `False`.
        return_state: Boolean. Whether to return the last state in addition to
            the output. Default: `False`.
        go_backwards: Boolean (default `False`). If `True`, process the input
            sequence backwards and return the reversed sequence.
        stateful: Boolean (default `False`). If `True`, the last state for each
            sample at index i in a batch is used as the initial state for the
            sample of index i in the following batch (needs a fixed batch size).
        unroll: Boolean (default `False`). Accepted and kept in the config for
            compatibility with Keras, and otherwise ignored: the loop always
            runs `STEPS_PER_ITERATION` steps per iteration (full unrolling
            measured no faster to train); the results are the same.
        use_cudnn: `"auto"` (default), `True` or `False`, as Keras takes
            it. With `"auto"`, where TensorFlow sees a GPU and the
            configuration is one cuDNN computes (tanh and sigmoid, a bias, no
            `recurrent_dropout`, no unrolling), the loop runs in cuDNN as
            in `keras.layers.LSTM`; elsewhere the cell's own loop runs. `True`
            makes the first an error where it cannot run; `False` never uses it.
        zero_output_for_mask: Boolean (default `False`). If `True`, masked time
            steps output zeros instead of the previous step's output (the
            argument Keras's LSTM passes on to `keras.layers.RNN`).
        use_fused: `"auto"` (default), `True` or `False`. With `"auto"`, on a
            CPU and for a configuration the fused op computes (tanh and sigmoid,
            float32, any mask, no `recurrent_dropout`, outside XLA), the
            whole loop runs as one C++ op forward and one backward (built on
            first use; see `layers/fused.py`); elsewhere the cell's own loop
            runs, with the same results. `True` makes the first an error where
            it cannot run; `False` never uses it. Like `use_cudnn`, not saved
            in the config.
        **kwargs: Base layer arguments, such as `name`, `dtype` and `trainable`.

    Call arguments:
        sequences: A 3D tensor, with shape `(batch, timesteps, features)`.
        mask: Binary tensor of shape `(batch, timesteps)` indicating whether a
            given timestep should be masked (optional). An individual `True`
            entry indicates that the corresponding timestep should be utilized,
            while a `False` entry indicates that the corresponding timestep
            should be ignored. Defaults to `None`.
        training: Python boolean indicating whether the layer should behave in
            training mode or in inference mode. Only relevant if `dropout` or
            `recurrent_dropout` is used (optional). Defaults to `None`.
        initial_state: List of initial state tensors to be passed to the first
            call of the cell, `[h, c]`, each of shape `(batch, units)`
            (optional; `None` means zeros, or the carried states of a stateful
            layer). Defaults to `None`.

    Example:

    >>> import numpy as np
    >>> from layers import LSTM
    >>> inputs = np.random.random((32, 10, 8))
    >>> lstm = LSTM(4)
    >>> output = lstm(inputs)
    >>> print(output.shape)
    (32, 4)
    >>> lstm = LSTM(4, return_sequences=True, return_state=True)
    >>> whole_seq_output, final_memory_state, final_carry_state = lstm(inputs)
    >>> print(whole_seq_output.shape)
    (32, 10, 4)
    >>> print(final_memory_state.shape)
    (32, 4)
    >>> print(final_carry_state.shape)
    (32, 4)

    Padding masked by `Embedding(mask_zero=True)` is skipped:

    >>> import keras
    >>> tokens = keras.Input((None,), dtype="int32")
    >>> x = keras.layers.Embedding(1000, 32, mask_zero=True)(tokens)
    >>> model = keras.Model(tokens, keras.layers.Dense(1)(LSTM(16)(x)))
    >>> print(model.predict(np.array([[5, 7, 9, 0, 0]]), verbose=0).shape)
    (1, 1)
    """

    cell_class = cells_module.LSTMCell
    backend_loop = staticmethod(keras_backend.lstm)

    fused_cell = "lstm"

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
        activity_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        use_cudnn="auto",
        zero_output_for_mask=False,
        use_fused="auto",
        **kwargs,
    ):
        super().__init__(
            units,
            cell_arguments=dict(
                activation=activation,
                recurrent_activation=recurrent_activation,
                use_bias=use_bias,
                kernel_initializer=kernel_initializer,
                recurrent_initializer=recurrent_initializer,
                bias_initializer=bias_initializer,
                unit_forget_bias=unit_forget_bias,
                kernel_regularizer=kernel_regularizer,
                recurrent_regularizer=recurrent_regularizer,
                bias_regularizer=bias_regularizer,
                kernel_constraint=kernel_constraint,
                recurrent_constraint=recurrent_constraint,
                bias_constraint=bias_constraint,
                dropout=dropout,
                recurrent_dropout=recurrent_dropout,
                seed=seed,
            ),
            activity_regularizer=activity_regularizer,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            unroll=unroll,
            use_cudnn=use_cudnn,
            zero_output_for_mask=zero_output_for_mask,
            use_fused=use_fused,
            **kwargs,
        )

    @property
    def recurrent_activation(self):
        return self.cell.recurrent_activation

    @property
    def unit_forget_bias(self):
        return self.cell.unit_forget_bias
