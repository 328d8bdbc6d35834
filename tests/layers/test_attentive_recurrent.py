"""The attentive cell's own protocol: AttentiveRecurrent takes the memory, `attending_over`
binds it (also for keras.layers.RNN), and models saved with a plain Recurrent around the
cell still load."""
import io
import json
import zipfile

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf

import layers as L
from rnn_testutils import B, assert_all_close, lengths_mask

TV, HV, T_DEC, F_DEC, UNITS, ATT = 5, 7, 4, 3, 6, 5


def _data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(B, T_DEC, F_DEC)).astype("float32")
    memory = rng.normal(size=(B, TV, HV)).astype("float32")
    return x, memory, lengths_mask([5, 3, 1], TV)


def _cell(kind, **kwargs):
    inner = {"gru": L.GRUCell, "lstm": L.LSTMCell, "rnn": L.SimpleRNNCell}[kind](UNITS)
    return L.AttentiveCell(inner, L.BahdanauAttention(ATT), **kwargs)


def _randomize(layer, seed=0):
    layer.set_weights([np.random.default_rng(seed + i).normal(0, 0.5, w.shape).astype("float32")
                       for i, w in enumerate(layer.get_weights())])


@pytest.mark.parametrize("kind", ["gru", "lstm", "rnn"])
@pytest.mark.parametrize("context_gate", [False, True], ids=["plain", "gate"])
def test_cell_inside_keras_rnn_matches_attentive_recurrent(kind, context_gate):
    """The Keras cell protocol (call) under keras.layers.RNN gives the outputs, states and
    gradients of prepare/step under AttentiveRecurrent."""
    x, memory, mask = _data()
    ours = L.AttentiveRecurrent(_cell(kind, context_gate=context_gate), return_sequences=True,
                                return_state=True)
    ours(x, memory=memory, memory_mask=mask)
    _randomize(ours)
    cell = _cell(kind, context_gate=context_gate)
    theirs = keras.layers.RNN(cell, return_sequences=True, return_state=True)
    with cell.attending_over(memory, mask):
        theirs(x)
    theirs.set_weights(ours.get_weights())

    xt, mt = tf.constant(x), tf.constant(memory)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([xt, mt])
        a = ours(xt, memory=mt, memory_mask=mask)
        with cell.attending_over(mt, mask):
            b = theirs(xt)
        loss_a, loss_b = (tf.reduce_sum(out[0] ** 2) + tf.reduce_sum(out[1]) for out in (a, b))
    assert_all_close([np.asarray(t) for t in b], [np.asarray(t) for t in a], "outputs, states",
                     atol=1e-5, rtol=1e-5)
    grads_a = tape.gradient(loss_a, [xt, mt] + ours.trainable_weights)
    grads_b = tape.gradient(loss_b, [xt, mt] + theirs.trainable_weights)
    assert_all_close([np.asarray(g) for g in grads_b], [np.asarray(g) for g in grads_a],
                     "gradients", atol=1e-4, rtol=1e-4)
    # Padded memory rows get no gradient through either driver.
    np.testing.assert_array_equal(np.asarray(grads_b[1])[~mask], 0.0)


def test_keras_rnn_draws_the_wrapped_cells_dropout_masks_once_per_sequence():
    """Under keras.layers.RNN with dropout, one input mask serves every step (a constant
    input then gives the same dropped input at each step), and no mask outlives the call."""
    _, memory, mask = _data(1)
    cell = L.AttentiveCell(L.GRUCell(UNITS, dropout=0.5, recurrent_dropout=0.5, seed=3),
                           L.BahdanauAttention(ATT))
    rnn = keras.layers.RNN(cell, return_sequences=True)
    x = np.ones((B, T_DEC, F_DEC), "float32")

    @tf.function
    def run(x, memory):
        with cell.attending_over(memory, mask):
            return rnn(x, training=True)

    out = np.asarray(run(x, memory))
    assert out.shape == (B, T_DEC, UNITS + HV) and np.isfinite(out).all()
    assert cell.cell._dropout_mask is None and cell.cell._recurrent_dropout_mask is None
    masks = []
    original = cell.cell.step

    def recording_step(inputs, states, constants):
        masks.append(constants["input_mask"])
        return original(inputs, states, constants)

    cell.cell.step = recording_step
    try:
        with cell.attending_over(memory, mask):
            # Eager and unrolled: every step's mask is a concrete tensor.
            keras.layers.RNN(cell, unroll=True)(x, training=True)
    finally:
        del cell.cell.step
    assert len(masks) == T_DEC
    for step_mask in masks[1:]:
        np.testing.assert_array_equal(np.asarray(step_mask), np.asarray(masks[0]))
    assert (np.asarray(masks[0]) == 0).any()


def test_binding_is_scoped_to_the_with_block():
    x, memory, mask = _data(2)
    cell = _cell("gru")
    with cell.attending_over(memory, mask) as bound:
        assert bound is cell
        keras.layers.RNN(cell)(x)
    with pytest.raises(ValueError, match=r"AttentiveCell.call needs the memory.*attending_over"):
        cell(x[:, 0], [np.zeros((B, UNITS), "float32")])
    with pytest.raises(ValueError, match=r"AttentiveCell.prepare needs the memory"):
        cell.prepare(tf.constant(x[:, 0]), [tf.zeros((B, UNITS))])
    with pytest.raises(ValueError, match=r"memory \[batch, time_m, features_m\].*Received memory "
                                         r"of shape \(3, 7\)"):
        with cell.attending_over(memory[:, 0]):
            pass
    with pytest.raises(ValueError, match=r"symbolic memory of a functional model.*"
                                         r"AttentiveRecurrent"):
        with cell.attending_over(keras.Input((TV, HV))):
            pass


def test_attentive_recurrent_refuses_what_it_cannot_drive():
    x, memory, _ = _data(3)
    with pytest.raises(ValueError, match=r"must be an AttentiveCell.*Received: cell=<GRUCell"):
        L.AttentiveRecurrent(L.GRUCell(UNITS))
    with pytest.raises(ValueError, match=r"attends over a memory: pass `memory=`"):
        L.AttentiveRecurrent(_cell("gru"))(x)
    # Recurrent knows nothing of memories: the cell says what it is missing.
    with pytest.raises(ValueError, match=r"needs the memory it attends over.*AttentiveRecurrent"):
        L.Recurrent(_cell("gru"))(x)
    with pytest.raises(TypeError, match="memory"):
        L.SimpleRNN(UNITS)(x, memory=memory)


def _model():
    memory = keras.Input((TV, HV), name="memory")
    memory_mask = keras.Input((TV,), dtype="bool", name="memory_mask")
    x = keras.Input((T_DEC, F_DEC), name="x")
    outputs, weights = L.AttentiveRecurrent(_cell("lstm", return_attention=True),
                                            return_sequences=True, name="decoder")(
        x, memory=memory, memory_mask=memory_mask)
    return keras.Model([x, memory, memory_mask], [outputs, weights])


def _as_saved_before(path, tmp_path):
    """The same file as the package wrote it when the decoder was a plain Recurrent.

    Then the decoder's config was registered as Recurrent (the same keys) and
    its weights lay under `layers/recurrent/` (Keras names that group after
    the class): the layout AttentiveRecurrent keeps.
    """
    with zipfile.ZipFile(path) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    with h5py.File(io.BytesIO(files["model.weights.h5"]), "r") as weights:
        assert "layers/recurrent/cell/attention/vars" in weights
        assert "layers/recurrent/cell/cell/vars" in weights
    config = json.loads(files["config.json"])
    decoder = next(layer for layer in config["config"]["layers"] if layer["name"] == "decoder")
    assert decoder["class_name"] == "Recurrent"
    assert decoder["registered_name"] == "rnn_suite>AttentiveRecurrent"
    decoder["registered_name"] = "rnn_suite>Recurrent"
    files["config.json"] = json.dumps(config).encode()
    old = tmp_path / "old.keras"
    with zipfile.ZipFile(old, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return old


def test_models_saved_with_a_plain_recurrent_around_the_cell_still_load(tmp_path):
    model = _model()
    _randomize(model, seed=5)
    x, memory, mask = _data(4)
    before = [np.asarray(t) for t in model([x, memory, mask])]
    path = tmp_path / "new.keras"
    model.save(path)
    for saved in (path, _as_saved_before(path, tmp_path)):
        loaded = keras.models.load_model(saved)  # safe_mode on, no custom_objects
        assert type(loaded.get_layer("decoder")) is L.AttentiveRecurrent
        after = [np.asarray(t) for t in loaded([x, memory, mask])]
        assert_all_close(after, before, f"outputs after loading {saved.name}", atol=0, rtol=0)
        assert (after[1][np.broadcast_to(~mask[:, None, :], after[1].shape)] == 0).all()
