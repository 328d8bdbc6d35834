"""LSTM and GRU hand their loop to the fused C++ op on CPU, with the step loop's results.

The oracle is the same layer with `use_fused=False` (itself tested against
Keras's built-ins) and, for the defaults, `keras.layers.LSTM` / `GRU`: outputs,
final states and the gradients of every input and weight. The op library is
built on first use (`layers/fused.py`); where this machine cannot build it
(no compiler or no oneDNN wheels), the tests that need it skip with the reason.
"""
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

import layers as L
from layers import fused
from rnn_testutils import ATOL, H, RTOL, inputs, keras_layer, random_weights, states_for

needs_op = pytest.mark.skipif(
    fused.library() is None, reason=f"the fused op cannot be built here: {fused.unavailable_reason()}"
)

CLASSES = {"lstm": L.LSTM, "gru": L.GRU}


@pytest.fixture
def fused_calls(monkeypatch):
    """Counts the calls of the fused loop."""
    calls = []
    original = fused.fused_loop

    def counted(*args, **kwargs):
        calls.append(args[0])
        return original(*args, **kwargs)

    monkeypatch.setattr(fused, "fused_loop", counted)
    return calls


def _pair(kind, **flags):
    """The same layer twice, the same random weights: one fused, one never."""
    fused = CLASSES[kind](H, **flags)
    loop = CLASSES[kind](H, use_fused=False, **flags)
    x = inputs()
    fused(x)
    loop(x)
    loop.set_weights(random_weights(fused))
    return fused, loop


def _outputs_and_gradients(layer, x, initial_state, training, mask=None):
    x = tf.constant(x)
    initial_state = [tf.constant(s) for s in initial_state]
    mask = None if mask is None else tf.constant(mask)
    with tf.GradientTape() as tape:
        tape.watch([x, *initial_state])
        outputs = tf.nest.flatten(layer(x, initial_state=initial_state, training=training,
                                        mask=mask))
        # Every output weighted differently, so that each one's gradient counts.
        loss = sum(tf.reduce_sum(o * (0.3 + i)) + tf.reduce_sum(o ** 2)
                   for i, o in enumerate(outputs))
    gradients = tape.gradient(loss, [x, *initial_state, *layer.trainable_weights])
    return outputs, gradients


def _assert_close(got, expected):
    for a, b in zip(got, expected):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=ATOL, rtol=RTOL)


FLAGS = [
    {},
    {"return_sequences": True, "return_state": True},
    {"go_backwards": True, "return_sequences": True, "return_state": True},
    {"use_bias": False, "return_sequences": True},
    {"dropout": 0.4, "seed": 3, "return_sequences": True},
]


@needs_op
@pytest.mark.parametrize("kind, flags", [(kind, flags) for kind in CLASSES for flags in FLAGS]
                         + [("lstm", {"unit_forget_bias": False, "return_state": True})])
@pytest.mark.parametrize("training", [True, False])
def test_the_fused_loop_gives_the_step_loops_outputs_and_gradients(
        fused_calls, kind, flags, training):
    fused, loop = _pair(kind, **flags)
    x, initial_state = inputs(), states_for(kind)
    fused_calls.clear()
    got = _outputs_and_gradients(fused, x, initial_state, training)
    assert fused_calls == [kind]  # it did run fused (training=False: the gradient recomputes)
    expected = _outputs_and_gradients(loop, x, initial_state, training)
    assert len(fused_calls) == 1
    _assert_close(got[0], expected[0])
    _assert_close(got[1], expected[1])


@needs_op
@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("parts", ["3", "0"])
def test_a_batch_split_between_threads_gives_the_same_answer(monkeypatch, fused_calls, kind, parts):
    """25 sequences in 3 uneven parts (8, 8, 9), or one part per intra-op thread."""
    monkeypatch.setenv(fused.THREADS_VARIABLE, parts)
    fused_layer = CLASSES[kind](H, return_sequences=True, return_state=True)
    loop = CLASSES[kind](H, return_sequences=True, return_state=True, use_fused=False)
    x = inputs(b=25, t=6)
    fused_layer(x)
    loop(x)
    loop.set_weights(random_weights(fused_layer))
    initial_state = states_for(kind, b=25)
    fused_calls.clear()
    got = _outputs_and_gradients(fused_layer, x, initial_state, True)
    assert fused_calls == [kind]
    expected = _outputs_and_gradients(loop, x, initial_state, True)
    _assert_close(got[0], expected[0])
    _assert_close(got[1], expected[1])


@needs_op
@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_a_long_sequences_gradients_sum_over_every_step(fused_calls, kind):
    """130 steps x 4 sequences: the op sums the bias gradient over 520 rows in blocks of
    256 (two whole blocks and a partial one), and every other gradient over as many."""
    fused_layer, loop = _pair(kind, return_sequences=True)
    x, initial_state = inputs(b=4, t=130), states_for(kind, b=4)
    fused_calls.clear()
    got = _outputs_and_gradients(fused_layer, x, initial_state, True)
    assert fused_calls == [kind]
    expected = _outputs_and_gradients(loop, x, initial_state, True)
    _assert_close(got[0], expected[0])
    _assert_close(got[1], expected[1])


@needs_op
@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_by_default_it_matches_the_keras_built_in_inside_a_trained_model(kind):
    """A model's fit, through tf.function: same weights after three Adam steps."""
    import keras

    x = inputs(b=8)
    y = np.random.default_rng(0).normal(size=(8, 1)).astype("float32")
    models = []
    for layer in (CLASSES[kind](H), keras_layer(kind)):
        model = keras.Sequential([keras.Input(x.shape[1:]), layer, keras.layers.Dense(1)])
        model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse", jit_compile=False)
        models.append(model)
    models[1].set_weights(models[0].get_weights())
    for model in models:
        model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(models[0].get_weights(), models[1].get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-4, rtol=1e-3)


@needs_op
def test_a_bidirectional_pair_runs_both_halves_fused_at_once(fused_calls):
    """Two fused calls in one graph, which TensorFlow may run on two threads."""
    x = inputs()
    fused = L.Bidirectional(L.LSTM(H, return_sequences=True))
    loop = L.Bidirectional(L.LSTM(H, return_sequences=True, use_fused=False))
    fused(x)
    loop(x)
    loop.set_weights(random_weights(fused))
    fused_calls.clear()
    got = tf.function(lambda v: fused(v))(x)
    assert fused_calls == ["lstm", "lstm"]
    np.testing.assert_allclose(np.asarray(got), np.asarray(loop(x)), atol=ATOL, rtol=RTOL)


@pytest.mark.parametrize("make, why", [
    (lambda: L.LSTM(H, recurrent_dropout=0.2), "recurrent_dropout"),
    (lambda: L.LSTM(H, activation="relu"), "activations"),
    (lambda: L.GRU(H, reset_after=False), "reset_after=False"),
    (lambda: L.LSTM(H, dtype="float64"), "float64"),
])
def test_configurations_the_fused_op_cannot_run_take_the_step_loop_and_true_says_why(
        fused_calls, make, why):
    layer = make()
    layer(inputs(), training=True)
    assert fused_calls == []
    strict = make()
    strict.use_fused = True
    with pytest.raises(ValueError, match=f"use_fused=True.*{why}.*use_fused='auto'"):
        strict(inputs())


def _mask(x):
    """Every kind of padding at once: right-padded, left-padded, a hole, all padding."""
    mask = np.ones(x.shape[:2], bool)
    mask[0, 3:] = False
    mask[1, :2] = False
    mask[2, 2:4] = False
    mask[3, :] = False
    return mask


MASK_FLAGS = [
    {"return_sequences": True, "return_state": True},
    {"return_sequences": True, "zero_output_for_mask": True},
    {"go_backwards": True, "return_sequences": True, "return_state": True},
    {"go_backwards": True, "return_sequences": True, "zero_output_for_mask": True},
    {},
]


@needs_op
@pytest.mark.parametrize("kind, flags", [(kind, flags) for kind in CLASSES for flags in MASK_FLAGS])
@pytest.mark.parametrize("training", [True, False])
def test_a_mask_runs_fused_with_the_step_loops_outputs_and_gradients(
        fused_calls, kind, flags, training):
    """Masked steps keep the states and give the previous output (or zeros), as Keras's loop."""
    fused, loop = _pair(kind, **flags)
    x, initial_state = inputs(b=5), states_for(kind, b=5)
    mask = _mask(x)
    fused_calls.clear()
    got = _outputs_and_gradients(fused, x, initial_state, training, mask)
    assert fused_calls == [kind]
    expected = _outputs_and_gradients(loop, x, initial_state, training, mask)
    _assert_close(got[0], expected[0])
    _assert_close(got[1], expected[1])


@needs_op
@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_a_masked_embedding_model_matches_the_keras_built_in(kind):
    """`mask_zero=True` padding, a bidirectional pair: Keras's outputs and gradients."""
    import keras

    rng = np.random.default_rng(1)
    ids = rng.integers(1, 20, size=(6, 9))
    ids[0, 5:] = 0
    ids[1, 2:] = 0
    ids[4, 7:] = 0
    built = []
    for wrapper, layer in ((L.Bidirectional, CLASSES[kind](H)),
                           (keras.layers.Bidirectional, keras_layer(kind))):
        model = keras.Sequential([keras.Input((9,), dtype="int32"),
                                  keras.layers.Embedding(20, 5, mask_zero=True),
                                  wrapper(layer), keras.layers.Dense(1)])
        built.append(model)
    built[1].set_weights(built[0].get_weights())
    results = []
    for model in built:
        with tf.GradientTape() as tape:
            out = model(ids, training=True)
            loss = tf.reduce_sum(out ** 2)
        results.append([out, *tape.gradient(loss, model.trainable_weights)])
    for a, b in zip(*results):
        np.testing.assert_allclose(np.asarray(tf.convert_to_tensor(a)),
                                   np.asarray(tf.convert_to_tensor(b)), atol=1e-5, rtol=1e-4)


def test_use_fused_false_never_calls_it(fused_calls):
    L.GRU(H, use_fused=False)(inputs())
    assert fused_calls == []


def test_under_xla_the_layer_falls_back_and_still_compiles(fused_calls):
    layer = L.LSTM(H)
    x = inputs()
    expected = L.LSTM(H, use_fused=False)
    expected(x)
    layer(x)
    layer.set_weights(expected.get_weights())
    fused_calls.clear()
    got = tf.function(lambda v: layer(v), jit_compile=True)(x)
    assert fused_calls == []
    np.testing.assert_allclose(np.asarray(got), np.asarray(expected(x)), atol=ATOL, rtol=RTOL)


def test_without_the_op_auto_warns_once_and_runs_the_step_loop(monkeypatch, fused_calls):
    monkeypatch.setattr(fused, "_state",
                        {"library": None, "reason": "no C++ compiler (a test)", "warned": False})
    with pytest.warns(RuntimeWarning, match="not available .no C\\+\\+ compiler .a test.."):
        L.LSTM(H)(inputs())
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        L.GRU(H)(inputs())  # the second layer: no second warning
    assert fused_calls == []
    with pytest.raises(ValueError, match="use_fused=True.*no C\\+\\+ compiler"):
        L.LSTM(H, use_fused=True)(inputs())


@pytest.mark.skipif(
    not (shutil.which("g++") or shutil.which("c++")) or fused._find_onednn() is None
    or os.environ.get(fused.DISABLE_VARIABLE),
    reason="no C++ compiler or no oneDNN package here, or RNN_SUITE_DISABLE_FUSED is set",
)
def test_where_a_compiler_and_onednn_are_present_the_op_builds():
    # A skip of every fused test because the build broke on this CPU is a bug, not an absence.
    assert fused.library() is not None, fused.unavailable_reason()


@pytest.mark.parametrize("cpu, dropped", [
    ("flags : fpu avx2 avx512f avx512_bf16", False),
    ("flags : fpu avx2 avx512f avx512_bf16 avx512_fp16 amx_tile", True),
    ("", False),
])
def test_the_build_keeps_avx512_fp16_out_of_tensorflows_headers(cpu, dropped):
    flags = fused._isa_flags(cpu)
    assert flags[0] == "-march=native"
    assert ("-mno-avx512fp16" in flags) is dropped


def test_use_fused_takes_auto_true_or_false_and_stays_out_of_the_config_as_use_cudnn():
    with pytest.raises(ValueError, match="Received: use_fused='yes'"):
        L.LSTM(H, use_fused="yes")
    layer = L.GRU(H, use_fused=False)
    assert layer.use_fused is False
    assert "use_fused" not in layer.get_config()
    assert L.GRU.from_config(layer.get_config()).use_fused == "auto"


@needs_op
def test_a_model_saved_after_fused_training_loads_into_the_step_loop(tmp_path):
    import keras

    x = inputs(b=8)
    model = keras.Sequential([keras.Input(x.shape[1:]), L.LSTM(H), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, np.ones((8, 1), "float32"), epochs=1, verbose=0)
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    loaded.layers[0].use_fused = False
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               atol=ATOL, rtol=RTOL)


@needs_op
def test_a_saved_model_holds_no_custom_op_and_loads_without_this_code(tmp_path):
    import keras

    x = inputs()
    model = keras.Sequential([keras.Input(x.shape[1:]), L.GRU(H), keras.layers.Dense(2)])
    expected = model.predict(x, verbose=0)
    model.export(str(tmp_path / "saved"), verbose=False)
    script = textwrap.dedent(f"""
        import numpy as np, tensorflow as tf
        loaded = tf.saved_model.load({str(tmp_path / 'saved')!r})
        x = np.load({str(tmp_path / 'x.npy')!r})
        print(np.abs(loaded.serve(x).numpy() - np.load({str(tmp_path / 'y.npy')!r})).max())
    """)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", expected)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert float(done.stdout.split()[-1]) < 1e-5


@needs_op
def test_the_op_refuses_shapes_that_are_not_one_layer():
    ops = fused.library()
    x = tf.zeros([5, 3, 4])
    with pytest.raises(tf.errors.InvalidArgumentError, match="shapes do not fit one LSTM layer"):
        ops.rnn_suite_fused_forward(x, tf.zeros([3, 6]), tf.zeros([3, 6]), tf.zeros([4, 20]),
                                    tf.zeros([6, 24]), tf.zeros([24]), tf.zeros([0]),
                                    cell="lstm", training=False)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"the mask must be \[T, B\] = \[5, 3\]"):
        ops.rnn_suite_fused_forward(x, tf.zeros([3, 6]), tf.zeros([3, 6]), tf.zeros([4, 24]),
                                    tf.zeros([6, 24]), tf.zeros([24]), tf.ones([3, 5, 1]),
                                    cell="lstm", training=False)


@needs_op
@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_mixed_bfloat16_runs_fused_with_bf16_matmuls_close_to_float32(monkeypatch, kind):
    """Keras's mixed_bfloat16 policy: the op multiplies in bf16 (so not exactly float32's
    results) and keeps float32 states, within bf16's rounding of the float32 layer."""
    flags = []
    original = fused.fused_loop

    def recorded(*args, **kwargs):
        flags.append(kwargs.get("bf16"))
        return original(*args, **kwargs)

    monkeypatch.setattr(fused, "fused_loop", recorded)
    exact = CLASSES[kind](H, return_sequences=True, use_fused=False)
    mixed = CLASSES[kind](H, return_sequences=True, dtype="mixed_bfloat16")
    x = inputs(b=5)
    exact(x)
    mixed(x)
    mixed.set_weights(random_weights(exact))
    exact.set_weights(mixed.get_weights())
    flags.clear()
    got = _outputs_and_gradients(mixed, x, states_for(kind, b=5), True)
    assert flags == [True]
    assert got[0][0].dtype == tf.bfloat16
    assert [g.dtype for g in got[1][-3:]] == [tf.float32] * 3  # the weights stay float32
    expected = _outputs_and_gradients(exact, x, states_for(kind, b=5), True)
    outputs = np.asarray(tf.cast(got[0][0], tf.float32))
    difference = np.abs(outputs - np.asarray(expected[0][0])).max()
    assert 0 < difference < 0.03
    for a, b in zip(got[1], expected[1]):
        a, b = np.asarray(tf.cast(a, tf.float32)), np.asarray(b)
        assert np.abs(a - b).max() < 0.05 * max(1.0, np.abs(b).max())


needs_bf16 = pytest.mark.skipif(
    not fused.cpu_multiplies_bfloat16(),
    reason="this CPU has no bfloat16 matmul in oneDNN (it needs AVX512 or AVX-NE-CONVERT); "
           "the op's bf16 matmuls run in float32 here")


@needs_op
@needs_bf16
@pytest.mark.parametrize("cell, gates", [("lstm", 4), ("gru", 3)])
def test_the_ops_bf16_matmuls_round_like_bfloat16_operands(cell, gates):
    """One step from an h0 that bfloat16 holds exactly: bf16=True is the float32 op given the
    recurrent kernel rounded to bfloat16 (the input matmul stays float32)."""
    ops = fused.library()
    rng = np.random.default_rng(5)
    t, b, f = 1, 4, 3
    x = tf.constant(rng.normal(size=(t, b, f)).astype("float32"))
    h0 = tf.cast(tf.cast(rng.normal(size=(b, H)).astype("float32"), tf.bfloat16), tf.float32)
    kernel = tf.constant(rng.normal(size=(f, gates * H)).astype("float32"))
    recurrent = tf.constant(rng.normal(size=(H, gates * H)).astype("float32"))
    bias = tf.zeros([(4 if cell == "lstm" else 6) * H])
    rounded = tf.cast(tf.cast(recurrent, tf.bfloat16), tf.float32)
    common = dict(cell=cell, training=False)
    half = ops.rnn_suite_fused_forward(x, h0, h0, kernel, recurrent, bias, tf.zeros([0]),
                                       bf16=True, **common)[0]
    exact = ops.rnn_suite_fused_forward(x, h0, h0, kernel, rounded, bias, tf.zeros([0]),
                                        bf16=False, **common)[0]
    unrounded = ops.rnn_suite_fused_forward(x, h0, h0, kernel, recurrent, bias, tf.zeros([0]),
                                            bf16=False, **common)[0]
    np.testing.assert_allclose(half.numpy(), exact.numpy(), atol=2e-5)
    assert np.abs(half.numpy() - unrounded.numpy()).max() > 1e-4


@needs_op
@pytest.mark.skipif(fused.cpu_multiplies_bfloat16(),
                    reason="this CPU has a bfloat16 matmul; the float32 fallback is for CPUs "
                           "without one (no AVX512, no AVX-NE-CONVERT)")
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_without_a_bfloat16_matmul_the_op_multiplies_in_float32(cell):
    """Asked for bf16 where oneDNN has none, the op runs (it used to abort the process) and
    gives the float32 op's results, forward and backward."""
    layer = CLASSES[cell](H, return_sequences=True, return_state=True)
    x = inputs(b=5)
    layer(x)
    layer.set_weights(random_weights(layer))
    kernel, recurrent, bias = layer.get_weights()
    ops = fused.library()
    x_tm = tf.transpose(x, [1, 0, 2])
    h0 = tf.zeros([5, H])
    arguments = (x_tm, h0, h0, tf.constant(kernel), tf.constant(recurrent),
                 tf.constant(bias.reshape(-1)), tf.zeros([0]))
    results = {}
    for bf16 in (False, True):
        with tf.GradientTape() as tape:
            tape.watch(arguments[0])
            y = ops.rnn_suite_fused_forward(*arguments, cell=cell, training=True, bf16=bf16)[0]
            loss = tf.reduce_sum(y * y)
        results[bf16] = (y.numpy(), tape.gradient(loss, arguments[0]).numpy())
    np.testing.assert_array_equal(results[True][0], results[False][0])
    np.testing.assert_array_equal(results[True][1], results[False][1])
