"""Bad arguments raise ValueError naming the argument and what was received;
an input of the wrong rank is refused by the layer's InputSpec, naming both ranks."""

import pytest
import keras
import tensorflow as tf

import layers as L
from rnn_testutils import B, T, F, H, inputs

LAYER_CLASSES = ["SimpleRNN", "GRU", "LSTM"]
CELL_CLASSES = ["SimpleRNNCell", "GRUCell", "LSTMCell"]


def _raises(fn, *needles):
    """fn() raises ValueError whose message contains every needle (case-insensitive)."""
    with pytest.raises(ValueError) as info:
        fn()
    msg = str(info.value)
    for needle in needles:
        assert needle.lower() in msg.lower(), f"{needle!r} not in message: {msg!r}"
    return msg


@pytest.mark.parametrize("units", [0, -3])
@pytest.mark.parametrize("cls", LAYER_CLASSES + CELL_CLASSES + ["BahdanauAttention"])
def test_units_must_be_positive(cls, units):
    _raises(lambda: getattr(L, cls)(units), "units", str(units))


@pytest.mark.parametrize("cls", LAYER_CLASSES + CELL_CLASSES)
def test_units_must_be_an_integer(cls):
    _raises(lambda: getattr(L, cls)(2.5), "units", "2.5")


@pytest.mark.parametrize("value", [1.0, -0.1, 1.5])
@pytest.mark.parametrize("arg", ["dropout", "recurrent_dropout"])
@pytest.mark.parametrize("cls", LAYER_CLASSES + CELL_CLASSES)
def test_dropout_outside_unit_interval(cls, arg, value):
    _raises(lambda: getattr(L, cls)(H, **{arg: value}), arg, str(value))


@pytest.mark.parametrize("cls", LAYER_CLASSES)
def test_two_d_input_is_rejected(cls):
    layer = getattr(L, cls)(H, name="under_test")
    msg = _raises(lambda: layer(tf.zeros((B, F))))
    # Keras's InputSpec (ndim=3) answers before the layer's own code runs.
    assert "'under_test'" in msg and "expected ndim=3, found ndim=2" in msg, msg
    assert str((B, F)) in msg, msg


@pytest.mark.parametrize("cls", LAYER_CLASSES)
def test_two_d_input_is_rejected_in_functional_model(cls):
    layer = getattr(L, cls)(H)
    with pytest.raises(ValueError):
        layer(keras.Input((F,)))


@pytest.mark.parametrize("cls", LAYER_CLASSES)
def test_initial_state_of_wrong_shape(cls):
    layer = getattr(L, cls)(H)
    n = 2 if cls == "LSTM" else 1
    bad = [tf.zeros((B, H + 1)) for _ in range(n)]
    _raises(lambda: layer(tf.constant(inputs()), initial_state=bad), "initial_state",
            str(H + 1))


@pytest.mark.parametrize("cls", LAYER_CLASSES)
def test_initial_state_with_wrong_batch(cls):
    layer = getattr(L, cls)(H)
    n = 2 if cls == "LSTM" else 1
    bad = [tf.zeros((B + 2, H)) for _ in range(n)]
    _raises(lambda: layer(tf.constant(inputs()), initial_state=bad), "initial_state",
            str(B + 2))


def test_lstm_initial_state_needs_two_tensors():
    layer = L.LSTM(H)
    _raises(lambda: layer(tf.constant(inputs()), initial_state=[tf.zeros((B, H))]),
            "initial_state")


@pytest.mark.parametrize("cls", LAYER_CLASSES)
def test_mask_of_wrong_shape(cls):
    layer = getattr(L, cls)(H)
    bad = tf.ones((B, T - 1), dtype="bool")
    _raises(lambda: layer(tf.constant(inputs()), mask=bad), "mask", str(T - 1))


def test_attention_mask_of_wrong_shape():
    att = L.BahdanauAttention(4)
    values = tf.zeros((B, T, 3))
    _raises(lambda: att(tf.zeros((B, 2)), values, values_mask=tf.ones((B, T + 2), "bool")),
            "values_mask", str(T + 2))


@pytest.mark.parametrize("mode", ["foo", "max", ""])
def test_bidirectional_bad_merge_mode(mode):
    msg = _raises(lambda: L.Bidirectional(L.LSTM(H), merge_mode=mode), "merge_mode")
    assert f"Received: merge_mode={mode!r}" in msg, msg


def test_bidirectional_needs_a_layer():
    _raises(lambda: L.Bidirectional("lstm"), "layer")


def test_bidirectional_backward_layer_must_go_backwards():
    _raises(lambda: L.Bidirectional(L.LSTM(H), backward_layer=L.LSTM(H)), "go_backwards")


def test_bidirectional_mismatched_return_sequences():
    _raises(lambda: L.Bidirectional(
        L.LSTM(H, return_sequences=True),
        backward_layer=L.LSTM(H, go_backwards=True)), "return_sequences")


def test_recurrent_needs_a_cell():
    with pytest.raises(ValueError):
        L.Recurrent("not a cell")


def test_stateful_needs_static_batch():
    layer = L.LSTM(H, stateful=True)
    with pytest.raises(ValueError):
        layer(keras.Input((T, F)))
