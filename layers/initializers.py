"""Bias initializers for gated recurrent layers."""

import random

import keras
import numpy as np

from layers.cells import PACKAGE

GATES = ("lstm", "gru")


@keras.saving.register_keras_serializable(package=PACKAGE)
class ChronoBias(keras.initializers.Initializer):
    """Chrono initialization of a gated cell's bias (Tallec & Ollivier, ICLR 2018).

    A gate's bias sets how long the cell remembers: with forget-gate bias b the
    state decays by about sigmoid(b) a step, so it lasts about 1 + e^b steps.
    Chrono draws each unit's time scale uniformly between 1 and `max_steps` - 1
    and sets the memory gate's bias to its log, so the units cover every
    dependency length up to the sequence's, instead of all forgetting within a
    few steps (`unit_forget_bias`: about 3.7 steps). LSTM (Keras's gate order i,
    f, c, o): forget bias log(u), input bias -log(u), the rest zero. GRU (z, r,
    h; z keeps the previous state): update-gate bias log(u) in the input bias,
    the rest zero; the bias may be Keras's `reset_after=True` [2, 3 * units] or
    the flat [3 * units]. In an LSTM it replaces `unit_forget_bias`.

    Args:
        max_steps: The longest dependency to cover, usually the sequence length
            (an integer of at least 2).
        gates: `"lstm"` (default) or `"gru"`: the cell whose bias this is.
        seed: Optional random seed of the time scales. Without one, each call
            draws its own seed from Python's `random`, which
            `keras.utils.set_random_seed` seeds (where Keras's own unseeded
            initializers take theirs), so a seeded run builds the same biases.

    Example:

    >>> import layers
    >>> lstm = layers.LSTM(8,
    ...     bias_initializer=layers.ChronoBias(max_steps=784))
    >>> lstm.build((None, 784, 1))
    >>> bias = lstm.cell.bias.numpy()
    >>> bool((bias[8:16] >= 0).all() and (bias[:8] == -bias[8:16]).all())
    True
    """

    def __init__(self, max_steps, gates="lstm", seed=None):
        if isinstance(max_steps, bool) or not isinstance(max_steps, (int, np.integer)) \
                or max_steps < 2:
            raise ValueError(f"ChronoBias: max_steps must be an integer of at least 2 (the "
                             f"longest dependency, e.g. the sequence length); received "
                             f"{max_steps!r}")
        if gates not in GATES:
            raise ValueError(f"ChronoBias: gates must be one of {', '.join(map(repr, GATES))}; "
                             f"received {gates!r}")
        self.max_steps = int(max_steps)
        self.gates = gates
        self.seed = seed

    def _time_scales(self, units):
        # Not default_rng(None): that reads the OS's entropy, so `--seed` did not fix
        # the biases and two runs with one seed trained different models.
        seed = self.seed if self.seed is not None else random.randint(1, 10**9)
        rng = np.random.default_rng(seed)
        return np.log(rng.uniform(1.0, self.max_steps - 1.0, size=units))

    def __call__(self, shape, dtype=None):
        shape = tuple(int(d) for d in shape)
        count = 4 if self.gates == "lstm" else 3
        flat = int(np.prod(shape))
        layouts = [(flat,)] if self.gates == "lstm" else [(flat,), (2, flat // 2)]
        if shape not in layouts or shape[-1] % count:
            expected = ("(4 * units,)" if self.gates == "lstm"
                        else "(3 * units,) or, with reset_after=True, (2, 3 * units)")
            raise ValueError(f"ChronoBias(gates={self.gates!r}) initializes a bias of shape "
                             f"{expected}; asked for {shape}")
        units = (shape[-1] if len(shape) == 2 else flat) // count
        bias = np.zeros(shape, dtype="float32")
        scales = self._time_scales(units)
        if self.gates == "lstm":
            bias[units:2 * units] = scales
            bias[:units] = -scales
        else:
            row = bias[0] if len(shape) == 2 else bias
            row[:units] = scales
        return keras.ops.convert_to_tensor(bias, dtype=dtype or "float32")

    def get_config(self):
        return {"max_steps": self.max_steps, "gates": self.gates, "seed": self.seed}
