"""GRU and LSTM take cuDNN's fused loop where TensorFlow sees a GPU, as Keras's layers do.

No GPU is reachable here (nor in CI), so a GPU is faked: TensorFlow's device
list is patched to report one, and cuDNN's op is replaced by a plain TensorFlow
stand-in with cuDNN's contract (the weights as Keras's backend hands them over).
Its outputs must equal the step-by-step loop's, which checks that the layer
passes its own weights in the layout cuDNN reads. On a real GPU the same code
reaches `tf.raw_ops.CudnnRNNV3`; that path is unmeasured here.
"""
import importlib

import numpy as np
import pytest
import tensorflow as tf

import layers as L
from rnn_testutils import ATOL, H, RTOL, inputs

# The module (its package exports a function of the same name).
tf_rnn = importlib.import_module("keras.src.backend.tensorflow.rnn")


def _outputs(sequence_outputs, last, return_sequences):
    outputs = tf.stack(sequence_outputs, axis=1)
    return outputs if return_sequences else tf.expand_dims(last, 1)


def _standin_lstm(inputs, initial_state_h, initial_state_c, kernel, recurrent_kernel, bias,
                  mask, time_major, go_backwards, return_sequences):
    assert mask is None and not time_major
    steps = tf.unstack(inputs, axis=1)[::-1 if go_backwards else 1]
    h, c, outputs = initial_state_h, initial_state_c, []
    for x in steps:
        i, f, g, o = tf.split(x @ kernel + h @ recurrent_kernel + bias, 4, axis=-1)
        c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
        h = tf.sigmoid(o) * tf.tanh(c)
        outputs.append(h)
    return h, _outputs(outputs, h, return_sequences), [h, c]


def _standin_gru(inputs, initial_state, kernel, recurrent_kernel, bias, mask, time_major,
                 go_backwards, return_sequences):
    assert mask is None and not time_major
    steps = tf.unstack(inputs, axis=1)[::-1 if go_backwards else 1]
    h, outputs = initial_state, []
    for x in steps:
        xz, xr, xh = tf.split(x @ kernel + bias[0], 3, axis=-1)
        hz, hr, hh = tf.split(h @ recurrent_kernel + bias[1], 3, axis=-1)
        z, r = tf.sigmoid(xz + hz), tf.sigmoid(xr + hr)
        h = z * h + (1 - z) * tf.tanh(xh + r * hh)
        outputs.append(h)
    return h, _outputs(outputs, h, return_sequences), [h]


@pytest.fixture
def fake_gpu(monkeypatch):
    """A GPU TensorFlow 'sees', with cuDNN's ops replaced by stand-ins; counts their calls."""
    calls = []

    def counted(function):
        def run(*args, **kwargs):
            calls.append(function.__name__)
            return function(*args, **kwargs)
        return run

    monkeypatch.setattr(tf_rnn, "_is_gpu_available", lambda: True)
    monkeypatch.setattr(tf_rnn, "_cudnn_lstm", counted(_standin_lstm))
    monkeypatch.setattr(tf_rnn, "_cudnn_gru", counted(_standin_gru))
    return calls


def _pair(layer_class, **kwargs):
    """The same layer twice, same weights: one may take cuDNN, one never does."""
    fused = layer_class(H, use_fused=False, **kwargs)
    reference = layer_class(H, use_cudnn=False, use_fused=False, **kwargs)
    x = inputs()
    fused(x)
    reference(x)
    reference.set_weights(fused.get_weights())
    return fused, reference, x


@pytest.mark.parametrize("layer_class", [L.GRU, L.LSTM])
@pytest.mark.parametrize("flags", [{}, {"return_sequences": True, "return_state": True},
                                   {"go_backwards": True, "return_sequences": True}])
def test_with_a_gpu_the_cudnn_loop_runs_and_gives_the_cell_loops_answer(
        fake_gpu, layer_class, flags):
    fused, reference, x = _pair(layer_class, bias_initializer="glorot_uniform", **flags)
    fake_gpu.clear()
    got, expected = fused(x), reference(x)
    assert fake_gpu == ["_standin_gru" if layer_class is L.GRU else "_standin_lstm"]
    for a, b in zip(tf.nest.flatten(got), tf.nest.flatten(expected)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=ATOL, rtol=RTOL)
    assert fused.supports_jit is False  # cuDNN's ops do not compile with XLA


@pytest.mark.parametrize("layer, why", [
    (lambda: L.LSTM(H, recurrent_dropout=0.2), "recurrent dropout"),
    (lambda: L.LSTM(H, activation="relu"), "an activation cuDNN lacks"),
    (lambda: L.LSTM(H, use_bias=False), "no bias"),
    (lambda: L.LSTM(H, unroll=True), "unrolled"),
    (lambda: L.GRU(H, reset_after=False), "reset before the matmul"),
    (lambda: L.GRU(H, use_cudnn=False), "asked not to"),
])
def test_with_a_gpu_configurations_cudnn_cannot_run_take_the_cell_loop(fake_gpu, layer, why):
    built = layer()
    built(inputs(), training=True)
    assert fake_gpu == [], why


@pytest.mark.parametrize("layer_class", [L.GRU, L.LSTM])
def test_without_a_gpu_auto_takes_the_cell_loop_and_true_says_why_it_cannot(layer_class):
    assert not tf.config.list_logical_devices("GPU"), "this test is about a machine without one"
    fused, reference, x = _pair(layer_class)
    np.testing.assert_allclose(np.asarray(fused(x)), np.asarray(reference(x)), atol=0, rtol=0)
    assert fused.supports_jit is not False
    with pytest.raises(ValueError, match="use_cudnn=True.*needs a GPU.*use_cudnn='auto'"):
        layer_class(H, use_cudnn=True)(x)


def test_simple_rnn_has_no_cudnn_loop_and_true_says_so(fake_gpu):
    with pytest.raises(ValueError, match="use_cudnn=True"):
        L.SimpleRNN(H, use_cudnn=True)(inputs())
    L.SimpleRNN(H)(inputs())
    assert fake_gpu == []
