"""Fine-tuning a classifier that starts from a language model, as ULMFiT does.

Howard & Ruder (2018) found two things that keep a pretrained encoder from
being wrecked by the first, noisy gradients of a fresh classifier head:

- discriminative learning rates: each layer group learns more slowly than the
  group above it (theirs: 2.6 times), since lower layers hold more general
  knowledge that should move less;
- gradual unfreezing: at first only the head trains, then each epoch one more
  group from the top joins (last recurrent layer, ..., embedding).

Both live in one optimizer, `LayerwiseAdam`: the learning rate of a weight is
scaled by its group's factor, which is 0 until the group's epoch comes. The
phase is read from the optimizer's own step counter, so a resumed run
(BackupAndRestore restores the counter) freezes and thaws exactly as an
uninterrupted one. The slanted triangular schedule is the common
`--learning-rate-schedule slanted` (apps/common/training.py).
"""

import keras
from keras import ops

PACKAGE = "rnn_suite.apps"
HEAD = 0  # the depth of every layer above the encoder (pooling, dense): never frozen


@keras.saving.register_keras_serializable(package=PACKAGE)
class LayerwiseAdam(keras.optimizers.Adam):
    """Adam with a learning rate per layer group and groups frozen until their turn.

    A weight belongs to the group of the first layer on its path that
    `depths` names (`recurrent_1/forward_gru/.../kernel` is `recurrent_1`'s);
    `depths` maps layer names to depths (0 is the top; layers not named are
    at depth 0). A weight at depth d learns at
    `learning_rate / decay ** d` and stays frozen for its first
    `d * unfreeze_steps` steps (0: nothing frozen). A frozen weight does not
    move at all: its learning rate is exactly 0.

    Args:
        depths: Dict of layer name -> depth (a non-negative integer).
        decay: How much more slowly each group learns than the one above (>= 1;
            ULMFiT: 2.6; 1: one learning rate for all).
        unfreeze_steps: Steps between one group joining and the next (ULMFiT:
            one epoch); 0 trains every group from the start.
        **kwargs: `keras.optimizers.Adam`'s arguments (learning_rate, clipnorm, ...).

    Example:

    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, name="encoder"),
    ...                           keras.layers.Dense(1, name="head")])
    >>> optimizer = LayerwiseAdam({"encoder": 1}, decay=2.6, unfreeze_steps=100)
    >>> model.compile(optimizer=optimizer, loss="mse")
    """

    def __init__(self, depths, decay=2.6, unfreeze_steps=0, **kwargs):
        super().__init__(**kwargs)
        depths = dict(depths)
        for layer, depth in depths.items():
            if not isinstance(depth, int) or isinstance(depth, bool) or depth < 0:
                raise ValueError(f"the depth of layer {layer!r} must be a non-negative "
                                 f"integer, got {depth!r}")
        if not decay >= 1:
            raise ValueError(f"decay must be at least 1 (each lower group learns this many "
                             f"times more slowly), got {decay!r}")
        if not isinstance(unfreeze_steps, int) or unfreeze_steps < 0:
            raise ValueError(f"unfreeze_steps must be a non-negative integer, got "
                             f"{unfreeze_steps!r}")
        self.depths = depths
        self.decay = float(decay)
        self.unfreeze_steps = int(unfreeze_steps)
        self._variable_depths = []

    def build(self, var_list):
        super().build(var_list)
        self._variable_depths = [self.depth_of(variable) for variable in var_list]

    def depth_of(self, variable):
        """The depth of a weight: that of the first named layer on its path (HEAD if none)."""
        return next((self.depths[part] for part in variable.path.split("/")
                     if part in self.depths), HEAD)

    def update_step(self, gradient, variable, learning_rate):
        depth = self._variable_depths[self._get_variable_index(variable)]
        scale = self.decay ** -depth
        if self.unfreeze_steps and depth:
            thawed = ops.greater_equal(self.iterations, depth * self.unfreeze_steps)
            scale = ops.where(thawed, scale, 0.0)
        learning_rate = ops.multiply(ops.cast(learning_rate, variable.dtype),
                                     ops.cast(scale, variable.dtype))
        super().update_step(gradient, variable, learning_rate)

    def get_config(self):
        return {**super().get_config(), "depths": dict(self.depths), "decay": self.decay,
                "unfreeze_steps": self.unfreeze_steps}


def encoder_depths(layers):
    """The depths of a classifier's encoder: `recurrent_L` 1, ..., `recurrent_1` L, `embedding`
    L + 1 (the head, above them, is 0)."""
    depths = {f"recurrent_{index}": layers + 1 - index for index in range(1, layers + 1)}
    depths["embedding"] = layers + 1
    return depths


def optimizer(config, train_data):
    """The `LayerwiseAdam` of `config` (`discriminative_decay`, `gradual_unfreezing`, and the
    common learning rate, schedule and clipping), unfreezing one group per epoch."""
    from apps.common import training

    unfreeze_steps = training.steps_per_epoch(train_data) if config.gradual_unfreezing else 0
    return LayerwiseAdam(encoder_depths(config.layers), decay=config.discriminative_decay,
                         unfreeze_steps=unfreeze_steps,
                         **training.adam_arguments(config, train_data))
