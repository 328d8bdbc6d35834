"""ChronoBias: the memory gates' biases are log time scales in [log 1, log(T - 1)]."""

import keras
import numpy as np
import pytest

import layers as L


def test_lstm_forget_bias_is_a_log_time_scale_and_input_bias_its_negative():
    layer = L.LSTM(64, bias_initializer=L.ChronoBias(max_steps=784, seed=1))
    layer.build((None, 784, 1))
    bias = layer.cell.bias.numpy()
    i, f, c, o = np.split(bias, 4)
    assert f.min() >= 0 and f.max() <= np.log(783)
    assert f.max() > np.log(100)  # the scales spread over the range, not all near 1
    np.testing.assert_array_equal(i, -f)
    assert not c.any() and not o.any()
    # unit_forget_bias (the default) does not overwrite it
    assert not np.allclose(f, 1.0)


@pytest.mark.parametrize("reset_after", [True, False])
def test_gru_update_gate_bias_is_the_log_time_scale(reset_after):
    layer = L.GRU(16, reset_after=reset_after, bias_initializer=L.ChronoBias(50, gates="gru"))
    layer.build((None, 50, 3))
    bias = layer.cell.bias.numpy()
    flat_input_bias = bias[0] if reset_after else bias
    z = flat_input_bias[:16]
    assert z.min() >= 0 and z.max() <= np.log(49)
    assert not flat_input_bias[16:].any()
    if reset_after:
        assert not bias[1].any()


def test_the_same_seed_gives_the_same_bias_and_the_config_round_trips():
    init = L.ChronoBias(100, gates="lstm", seed=3)
    again = keras.initializers.deserialize(keras.initializers.serialize(init))
    np.testing.assert_array_equal(np.asarray(init((32,))), np.asarray(again((32,))))
    assert again.get_config() == {"max_steps": 100, "gates": "lstm", "seed": 3}


def test_without_a_seed_keras_set_random_seed_fixes_the_bias():
    # `--seed` must fix a chrono-initialised model: unseeded, the time scales follow
    # keras.utils.set_random_seed, yet each call (each layer) still draws its own.
    def build(seed):
        keras.utils.set_random_seed(seed)
        init = L.ChronoBias(784)
        return np.asarray(init((64,))), np.asarray(init((64,)))

    first, second = build(7)
    again_first, again_second = build(7)
    np.testing.assert_array_equal(first, again_first)
    np.testing.assert_array_equal(second, again_second)
    assert not np.array_equal(first, second)
    assert not np.array_equal(first, build(8)[0])


def test_a_model_with_it_saves_and_loads(tmp_path):
    model = keras.Sequential([keras.Input((10, 2)),
                              L.LSTM(4, bias_initializer=L.ChronoBias(10, seed=0)),
                              keras.layers.Dense(1)])
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(loaded.layers[0].cell.bias.numpy(),
                                  model.layers[0].cell.bias.numpy())


@pytest.mark.parametrize("kwargs, message", [
    ({"max_steps": 1}, "max_steps must be an integer of at least 2.*received 1"),
    ({"max_steps": 7.5}, "max_steps must be an integer.*received 7.5"),
    ({"max_steps": 10, "gates": "rnn"}, "gates must be one of 'lstm', 'gru'; received 'rnn'"),
])
def test_bad_arguments_say_what_was_received(kwargs, message):
    with pytest.raises(ValueError, match=message):
        L.ChronoBias(**kwargs)


def test_a_shape_that_is_not_the_cells_bias_says_what_it_expected():
    with pytest.raises(ValueError, match=r"shape \(4 \* units,\); asked for \(6,\)"):
        L.ChronoBias(10)((6,))
    with pytest.raises(ValueError, match=r"\(2, 3 \* units\); asked for \(3, 6\)"):
        L.ChronoBias(10, gates="gru")((3, 6))


@pytest.mark.parametrize("layer, gates, message", [
    (L.SimpleRNN, "lstm", "SimpleRNNCell has no gates for ChronoBias to set.*gates='lstm'"),
    (L.LSTM, "gru", "LSTMCell needs ChronoBias\\(..., gates='lstm'\\); received.*gates='gru'"),
    (L.GRU, "lstm", "GRUCell needs ChronoBias\\(..., gates='gru'\\); received.*gates='lstm'"),
])
def test_a_cell_refuses_chrono_biases_of_another_cell(layer, gates, message):
    # LSTM(3) with gates="gru" would otherwise build: its bias of 12 is also 3 * 4.
    with pytest.raises(ValueError, match=message):
        layer(3, bias_initializer=L.ChronoBias(10, gates=gates))
