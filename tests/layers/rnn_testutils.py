"""Helpers shared by the tests of the `layers` package.

The oracle for every recurrent layer is the Keras built-in with the same
configuration and the same weights.
"""
import numpy as np
import keras
import tensorflow as tf

import layers as L

B, T, F, H = 3, 5, 4, 6
ATOL, RTOL = 1e-5, 1e-4

# kind -> (class name in keras.layers / layers, extra constructor kwargs)
KINDS = {
    "simple_rnn": ("SimpleRNN", {}),
    "gru": ("GRU", {"reset_after": True}),
    "gru_v1": ("GRU", {"reset_after": False}),
    "lstm": ("LSTM", {}),
}
CELL_NAMES = {
    "simple_rnn": "SimpleRNNCell",
    "gru": "GRUCell",
    "gru_v1": "GRUCell",
    "lstm": "LSTMCell",
}


def n_states(kind):
    return 2 if kind == "lstm" else 1


def keras_layer(kind, units=H, **kw):
    name, base = KINDS[kind]
    return getattr(keras.layers, name)(units, **{**base, **kw})


def our_layer(kind, units=H, **kw):
    name, base = KINDS[kind]
    return getattr(L, name)(units, **{**base, **kw})


def keras_cell(kind, units=H, **kw):
    _, base = KINDS[kind]
    return getattr(keras.layers, CELL_NAMES[kind])(units, **{**base, **kw})


def our_cell(kind, units=H, **kw):
    _, base = KINDS[kind]
    return getattr(L, CELL_NAMES[kind])(units, **{**base, **kw})


def random_weights(layer, seed=0, scale=0.5):
    """Replace every weight of a built layer with non-trivial random values."""
    rng = np.random.default_rng(seed)
    new = [rng.normal(0.0, scale, w.shape).astype("float32") for w in layer.get_weights()]
    layer.set_weights(new)
    return new


def inputs(b=B, t=T, f=F, seed=1):
    return np.random.default_rng(seed).normal(0.0, 1.0, (b, t, f)).astype("float32")


def states_for(kind, b=B, units=H, seed=2):
    rng = np.random.default_rng(seed)
    return [rng.normal(0.0, 0.5, (b, units)).astype("float32") for _ in range(n_states(kind))]


def lengths_mask(lengths, t=T, left=False):
    """Boolean mask [B, T]; right padding (valid steps first) unless `left`."""
    m = np.zeros((len(lengths), t), dtype=bool)
    for i, n in enumerate(lengths):
        if left:
            m[i, t - n:] = True
        else:
            m[i, :n] = True
    return m


def loss_weights(arrays, seed=100):
    return [
        np.random.default_rng(seed + i).normal(0.0, 1.0, np.shape(a)).astype("float32")
        for i, a in enumerate(arrays)
    ]


def run_with_grads(layer, x, initial_state=None, mask=None, training=None,
                   extra_call_kwargs=None):
    """Call `layer` and differentiate a fixed random projection of all its outputs.

    Returns (outputs, grads) as lists of numpy arrays; grads are with respect to
    the input, then the initial states (if any), then `layer.trainable_weights`.
    """
    x = tf.constant(x)
    init = None if initial_state is None else [tf.constant(s) for s in initial_state]
    kwargs = dict(extra_call_kwargs or {})
    if init is not None:
        kwargs["initial_state"] = init
    if mask is not None:
        kwargs["mask"] = tf.constant(mask)
    if training is not None:
        kwargs["training"] = training
    with tf.GradientTape() as tape:
        tape.watch(x)
        if init is not None:
            for s in init:
                tape.watch(s)
        out = layer(x, **kwargs)
        outs = tf.nest.flatten(out)
        ws = loss_weights(outs)
        loss = tf.add_n([tf.reduce_sum(o * w) for o, w in zip(outs, ws)])
    sources = [x] + (init or []) + list(layer.trainable_weights)
    grads = tape.gradient(loss, sources)
    names = ["inputs"] + [f"initial_state[{i}]" for i in range(len(init or []))] + [
        w.path for w in layer.trainable_weights
    ]
    for n, g in zip(names, grads):
        assert g is not None, f"no gradient flows to {n}"
    return [np.asarray(o) for o in outs], [np.asarray(g) for g in grads]


def assert_all_close(actual, expected, what="", atol=ATOL, rtol=RTOL):
    assert len(actual) == len(expected), (
        f"{what}: got {len(actual)} tensors, Keras gives {len(expected)}"
    )
    for i, (a, e) in enumerate(zip(actual, expected)):
        a = np.asarray(a)
        e = np.asarray(e)
        assert a.shape == e.shape, f"{what}[{i}]: shape {a.shape} != Keras {e.shape}"
        np.testing.assert_allclose(a, e, atol=atol, rtol=rtol, err_msg=f"{what}[{i}]")


def build_call(layer, x, **kwargs):
    """Build a layer by calling it once."""
    return layer(tf.constant(x), **kwargs)
