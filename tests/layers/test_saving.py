"""Saving and loading (.keras, safe_mode, no custom_objects) and
get_config/from_config round trips for every layer and cell."""
import json

import numpy as np
import pytest
import keras
import tensorflow as tf

import layers as L
from rnn_testutils import B, T, F, H, inputs, lengths_mask, assert_all_close

VOCAB, TV_DEC = 13, 4


def _norm(cfg):
    """Config as it would be stored (tuples become lists), for comparison."""
    return json.loads(json.dumps(cfg))


def _randomize_model(model, seed=0):
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0.0, 0.4, w.shape).astype("float32")
                       for w in model.get_weights()])


def _everything_model():
    tokens = keras.Input((T,), dtype="int32", name="tokens")
    dec_in = keras.Input((TV_DEC, 3), name="decoder_inputs")
    mask = keras.ops.not_equal(tokens, 0)
    emb = keras.layers.Embedding(VOCAB, F, mask_zero=True)(tokens)
    enc = L.Bidirectional(L.LSTM(H, return_sequences=True), merge_mode="concat")(emb)
    enc = L.GRU(H, return_sequences=True, reset_after=False)(enc)
    seq, state = L.SimpleRNN(H, return_sequences=True, return_state=True)(enc)
    last = L.GRU(5)(seq)
    context, weights = L.BahdanauAttention(7)(last, seq, values_mask=mask)
    dec = L.AttentiveRecurrent(L.AttentiveCell(L.GRUCell(8), L.BahdanauAttention(6)),
                               return_sequences=True)(dec_in, memory=seq, memory_mask=mask)
    dec_summary = keras.layers.GlobalAveragePooling1D()(dec)
    out = keras.layers.Concatenate()([context, state, dec_summary])
    out = keras.layers.Dense(2)(out)
    return keras.Model([tokens, dec_in], [out, weights])


def _everything_data():
    rng = np.random.default_rng(1)
    tokens = rng.integers(1, VOCAB, size=(B, T)).astype("int32")
    tokens = np.where(lengths_mask([5, 3, 2], T), tokens, 0).astype("int32")
    dec_in = rng.normal(size=(B, TV_DEC, 3)).astype("float32")
    return [tokens, dec_in]


def test_model_with_every_layer_saves_and_loads(tmp_path):
    model = _everything_model()
    _randomize_model(model)
    data = _everything_data()
    before = [np.asarray(t) for t in model(data)]
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path)  # safe_mode on, no custom_objects
    after = [np.asarray(t) for t in loaded(data)]
    assert_all_close(after, before, "outputs after load", atol=0, rtol=0)
    assert_all_close(loaded.get_weights(), model.get_weights(), "weights", atol=0, rtol=0)
    # Attention weights: padded tokens get weight exactly 0.
    np.testing.assert_array_equal(after[1][data[0] == 0], 0.0)
    classes = {type(layer).__name__ for layer in loaded.layers}
    assert {"Bidirectional", "GRU", "SimpleRNN", "BahdanauAttention", "Recurrent"} <= classes
    assert all(type(a) is type(b) for a, b in zip(loaded.layers, model.layers))


def _layer_model(make, x_shape=(T, F)):
    inp = keras.Input(x_shape)
    out = make()(inp)
    return keras.Model(inp, out)


SINGLE = {
    "SimpleRNN": lambda: L.SimpleRNN(H, activation="relu", return_sequences=True,
                                     recurrent_initializer="identity", dropout=0.1),
    "GRU": lambda: L.GRU(H, reset_after=True, return_state=True, go_backwards=True),
    "GRU_v1": lambda: L.GRU(H, reset_after=False, recurrent_activation="hard_sigmoid"),
    "LSTM": lambda: L.LSTM(H, unit_forget_bias=False, use_bias=False, return_sequences=True,
                           kernel_regularizer=keras.regularizers.L2(0.01),
                           kernel_constraint=keras.constraints.MaxNorm(3.0)),
    "Bidirectional_mul": lambda: L.Bidirectional(L.LSTM(H, return_sequences=True),
                                                 merge_mode="mul"),
    "Bidirectional_None_state": lambda: L.Bidirectional(
        L.GRU(H, return_state=True), merge_mode=None),
    "Recurrent_LSTMCell": lambda: L.Recurrent(L.LSTMCell(H), return_sequences=True,
                                              zero_output_for_mask=True),
}


@pytest.mark.parametrize("name", list(SINGLE))
def test_single_layer_model_saves_and_loads(name, tmp_path):
    model = _layer_model(SINGLE[name])
    _randomize_model(model, seed=2)
    x = inputs()
    before = [np.asarray(t) for t in tf.nest.flatten(model(x))]
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    after = [np.asarray(t) for t in tf.nest.flatten(loaded(x))]
    assert_all_close(after, before, f"{name} outputs after load", atol=0, rtol=0)
    assert _norm(loaded.layers[1].get_config()) == _norm(model.layers[1].get_config())


# ---------------------------------------------------------------------------
# get_config / from_config round trips.
# ---------------------------------------------------------------------------

LAYERS = {
    "SimpleRNN": (lambda: L.SimpleRNN(H, activation="relu", use_bias=False, dropout=0.2,
                                      recurrent_dropout=0.1, return_sequences=True,
                                      go_backwards=True, seed=3), {}),
    "GRU": (lambda: L.GRU(H, reset_after=False, return_state=True, stateful=False,
                          recurrent_activation="hard_sigmoid",
                          bias_initializer=keras.initializers.Constant(0.1)), {}),
    "LSTM": (lambda: L.LSTM(H, unit_forget_bias=False, zero_output_for_mask=True,
                            return_sequences=True, unroll=True,
                            bias_regularizer=keras.regularizers.L1(0.1)), {}),
    "Recurrent": (lambda: L.Recurrent(L.GRUCell(H, reset_after=True), return_state=True), {}),
    "Bidirectional": (lambda: L.Bidirectional(L.LSTM(H, return_sequences=True), merge_mode="ave"),
                      {}),
    "Bidirectional_backward_layer": (lambda: L.Bidirectional(
        L.GRU(H), backward_layer=L.GRU(4, go_backwards=True), merge_mode="concat"), {}),
}


@pytest.mark.parametrize("name", list(LAYERS))
def test_layer_config_round_trip(name):
    make, _ = LAYERS[name]
    layer = make()
    x = inputs()
    layer(x)
    rng = np.random.default_rng(4)
    layer.set_weights([rng.normal(0, 0.4, w.shape).astype("float32") for w in layer.get_weights()])
    cfg = layer.get_config()
    clone = type(layer).from_config(cfg)
    assert clone.get_config() == cfg
    clone(x)
    clone.set_weights(layer.get_weights())
    assert_all_close([np.asarray(t) for t in tf.nest.flatten(clone(x))],
                     [np.asarray(t) for t in tf.nest.flatten(layer(x))], "clone outputs")
    # Registered: a plain deserialize, without custom_objects, gives our class back.
    again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(again) is type(layer)
    assert again.get_config() == cfg


CELLS = {
    "SimpleRNNCell": lambda: L.SimpleRNNCell(H, activation="relu", dropout=0.1, seed=2),
    "GRUCell": lambda: L.GRUCell(H, reset_after=False, recurrent_dropout=0.2),
    "GRUCell_reset_after": lambda: L.GRUCell(H, use_bias=False),
    "LSTMCell": lambda: L.LSTMCell(H, unit_forget_bias=False,
                                   kernel_initializer="orthogonal"),
}


@pytest.mark.parametrize("name", list(CELLS))
def test_cell_config_round_trip(name):
    cell = CELLS[name]()
    cell.build((B, F))
    cfg = cell.get_config()
    clone = type(cell).from_config(cfg)
    assert clone.get_config() == cfg
    clone.build((B, F))
    clone.set_weights(cell.get_weights())
    x = tf.constant(inputs()[:, 0])
    states = cell.get_initial_state(batch_size=B)
    states = list(states) if isinstance(states, (list, tuple)) else [states]
    states = [s + 0.3 for s in states]
    assert_all_close([np.asarray(t) for t in tf.nest.flatten(clone(x, states))],
                     [np.asarray(t) for t in tf.nest.flatten(cell(x, states))], "cell clone")
    again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(cell))
    assert type(again) is type(cell) and again.get_config() == cfg


def test_attention_and_attentive_cell_config_round_trip():
    att = L.BahdanauAttention(5, use_bias=False, kernel_initializer="he_normal")
    cfg = att.get_config()
    assert L.BahdanauAttention.from_config(cfg).get_config() == cfg
    again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(att))
    assert type(again) is L.BahdanauAttention and again.get_config() == cfg

    cell = L.AttentiveCell(L.LSTMCell(7), L.BahdanauAttention(4))
    ccfg = cell.get_config()
    clone = L.AttentiveCell.from_config(ccfg)
    assert clone.get_config() == ccfg
    assert type(clone.cell) is L.LSTMCell and clone.cell.units == 7
    assert type(clone.attention) is L.BahdanauAttention and clone.attention.units == 4
    rnn = L.AttentiveRecurrent(cell, return_sequences=True)
    rcfg = keras.saving.serialize_keras_object(rnn)
    rnn2 = keras.saving.deserialize_keras_object(rcfg)
    assert type(rnn2) is L.AttentiveRecurrent and type(rnn2.cell) is L.AttentiveCell
    assert rnn2.get_config() == rnn.get_config()


KERAS_TWINS = {
    "SimpleRNN": (lambda: L.SimpleRNN(H), lambda: keras.layers.SimpleRNN(H)),
    "GRU": (lambda: L.GRU(H), lambda: keras.layers.GRU(H)),
    "LSTM": (lambda: L.LSTM(H), lambda: keras.layers.LSTM(H)),
    "SimpleRNNCell": (lambda: L.SimpleRNNCell(H), lambda: keras.layers.SimpleRNNCell(H)),
    "GRUCell": (lambda: L.GRUCell(H), lambda: keras.layers.GRUCell(H)),
    "LSTMCell": (lambda: L.LSTMCell(H), lambda: keras.layers.LSTMCell(H)),
    "Bidirectional": (lambda: L.Bidirectional(L.LSTM(H)),
                      lambda: keras.layers.Bidirectional(keras.layers.LSTM(H))),
}
# What ours keep that the built-in drops: Keras's SimpleRNN leaves its cell's dropout `seed`
# out of its config (its GRU and LSTM keep it), so a reloaded one draws other masks.
OUR_EXTRAS = {"SimpleRNN": {"seed"}}


@pytest.mark.parametrize("name", list(KERAS_TWINS))
def test_config_keys_are_the_keras_built_ins(name):
    ours, theirs = (make() for make in KERAS_TWINS[name])
    missing = set(theirs.get_config()) - set(ours.get_config())
    extra = set(ours.get_config()) - set(theirs.get_config()) - OUR_EXTRAS.get(name, set())
    assert not missing, f"{name} lacks the built-in's config keys {sorted(missing)}"
    assert not extra, f"{name} has config keys the built-in has not: {sorted(extra)}"


@pytest.mark.parametrize("name", ["SimpleRNN", "GRU", "LSTM"])
def test_an_activity_regularizer_survives_the_config(name):
    layer = getattr(L, name)(H, activity_regularizer=keras.regularizers.L2(0.5))
    clone = type(layer).from_config(layer.get_config())
    assert isinstance(clone.activity_regularizer, keras.regularizers.L2)
    assert clone.activity_regularizer.l2 == pytest.approx(0.5)
    x = inputs()
    clone(x)
    assert len(clone.losses) == 1  # the penalty on the output is added, as before saving


class _UnregisteredCell(L.GRUCell):
    """A user's own cell, not registered with Keras: only `custom_objects` can name it."""


def test_from_config_honours_custom_objects():
    layer = L.Recurrent(_UnregisteredCell(H), return_sequences=True)
    x = inputs()
    layer(x)
    custom = {"_UnregisteredCell": _UnregisteredCell}
    with pytest.raises(TypeError, match="_UnregisteredCell"):
        type(layer).from_config(layer.get_config())
    clone = type(layer).from_config(layer.get_config(), custom_objects=custom)
    assert type(clone.cell) is _UnregisteredCell
    clone(x)
    clone.set_weights(layer.get_weights())
    assert_all_close(np.asarray(clone(x)), np.asarray(layer(x)), "custom-cell clone")
    with keras.saving.custom_object_scope(custom):  # the other way Keras offers
        assert type(type(layer).from_config(layer.get_config())) is type(layer)


@pytest.mark.parametrize("value", ["yes", 1.5, None])
def test_use_cudnn_takes_what_keras_takes(value):
    with pytest.raises(ValueError, match=rf"Received: use_cudnn={value!r}"):
        L.LSTM(H, use_cudnn=value)
    for accepted in ("auto", True, False):
        assert L.GRU(H, use_cudnn=accepted).use_cudnn == accepted
