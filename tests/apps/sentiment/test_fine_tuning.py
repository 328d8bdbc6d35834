"""ULMFiT's fine-tuning pieces: the slanted triangular schedule, discriminative learning rates
and gradual unfreezing (LayerwiseAdam), and concat pooling; against NumPy and Keras's Adam."""

import keras
import numpy as np
import pytest

from apps.common import config as config_module
from apps.common.training import SlantedTriangular
from apps.sentiment import train as sentiment_train
from apps.sentiment.config import SentimentConfig
from apps.sentiment.fine_tuning import LayerwiseAdam, encoder_depths
from apps.sentiment.model import ConcatPooling

from test_encoder_from import REVIEWS, lm_run  # noqa: F401 - the fixture


def stlr_oracle(t, total, peak, cut_frac=0.1, ratio=32.0):
    """Howard & Ruder (2018), eq. 3, as written there."""
    cut = np.floor(total * cut_frac)
    p = t / cut if t < cut else 1 - (t - cut) / (cut * (1 / cut_frac - 1))
    return peak * (1 + p * (ratio - 1)) / ratio


def test_slanted_triangular_is_the_papers_formula():
    schedule = SlantedTriangular(0.01, total_steps=1000)
    steps = [0, 1, 50, 99, 100, 101, 500, 999, 1000]
    np.testing.assert_allclose([float(schedule(t)) for t in steps],
                               [stlr_oracle(t, 1000, 0.01) for t in steps], rtol=1e-5)
    again = SlantedTriangular.from_config(schedule.get_config())
    assert float(again(300)) == pytest.approx(float(schedule(300)))


@pytest.mark.parametrize("bad, message", [
    (dict(peak=0.0, total_steps=10), "peak must be positive"),
    (dict(peak=0.1, total_steps=0), "total_steps must be at least 1"),
    (dict(peak=0.1, total_steps=10, rise_fraction=1.0), "rise_fraction"),
    (dict(peak=0.1, total_steps=10, ratio=0.5), "ratio must be at least 1")])
def test_slanted_triangular_rejects_bad_arguments(bad, message):
    with pytest.raises(ValueError, match=message):
        SlantedTriangular(**bad)


def two_layer_model(seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, name="embedding"),
                             keras.layers.Dense(4, name="recurrent_1"),
                             keras.layers.Dense(1, name="logit")])


def train_steps(model, optimizer, steps):
    """The weights (by layer name) after each of `steps` full-batch steps on fixed data."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(16, 3)), rng.normal(size=(16, 1))
    model.compile(optimizer=optimizer, loss="mse")
    history = []
    for _ in range(steps):
        model.train_on_batch(x, y)
        history.append({layer.name: [w.copy() for w in layer.get_weights()]
                        for layer in model.layers})
    return history


def test_one_rate_and_nothing_frozen_is_adam():
    ours = train_steps(two_layer_model(), LayerwiseAdam({}, decay=1.0, learning_rate=0.01), 5)
    adam = train_steps(two_layer_model(), keras.optimizers.Adam(learning_rate=0.01), 5)
    for name in ("embedding", "recurrent_1", "logit"):
        for a, b in zip(ours[-1][name], adam[-1][name]):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_each_group_learns_decay_times_more_slowly():
    # Adam's first step moves every weight by lr * g / (|g| + eps): about lr, whatever g is.
    model = two_layer_model()
    start = {layer.name: layer.get_weights()[0].copy() for layer in model.layers}
    optimizer = LayerwiseAdam(encoder_depths(1), decay=2.0, learning_rate=0.01, epsilon=1e-12)
    after = train_steps(model, optimizer, 1)[0]
    for name, depth in [("logit", 0), ("recurrent_1", 1), ("embedding", 2)]:
        moved = np.abs(after[name][0] - start[name])
        np.testing.assert_allclose(moved, 0.01 / 2.0 ** depth, rtol=1e-4)


def test_a_group_is_frozen_until_its_turn_then_trains():
    model = two_layer_model()
    start = {layer.name: layer.get_weights()[0].copy() for layer in model.layers}
    optimizer = LayerwiseAdam(encoder_depths(1), decay=2.6, unfreeze_steps=3,
                              learning_rate=0.01)
    history = train_steps(model, optimizer, 7)
    for step, weights in enumerate(history, start=1):
        assert not np.array_equal(weights["logit"][0], start["logit"])
        # recurrent_1 (depth 1) joins at step 4, the embedding (depth 2) at step 7
        assert np.array_equal(weights["recurrent_1"][0], start["recurrent_1"]) == (step <= 3)
        assert np.array_equal(weights["embedding"][0], start["embedding"]) == (step <= 6)


def test_layerwise_adam_checks_its_arguments_and_round_trips():
    with pytest.raises(ValueError, match="decay must be at least 1"):
        LayerwiseAdam({}, decay=0.5)
    with pytest.raises(ValueError, match="depth of layer 'x' must be a non-negative integer"):
        LayerwiseAdam({"x": -1})
    with pytest.raises(ValueError, match="unfreeze_steps must be a non-negative integer"):
        LayerwiseAdam({}, unfreeze_steps=-2)
    optimizer = LayerwiseAdam({"embedding": 2}, decay=3.0, unfreeze_steps=5, clipnorm=0.5)
    again = LayerwiseAdam.from_config(optimizer.get_config())
    assert (again.depths, again.decay, again.unfreeze_steps, again.clipnorm) == (
        {"embedding": 2}, 3.0, 5, 0.5)


def test_concat_pooling_is_last_max_mean_of_the_unmasked_steps():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 5, 2)).astype("float32")
    lengths = [5, 2, 0]
    mask = np.arange(5)[None, :] < np.array(lengths)[:, None]
    pooled = keras.ops.convert_to_numpy(ConcatPooling()(x, mask=mask))
    assert pooled.shape == (3, 6)
    for row, n in enumerate(lengths[:2]):
        steps = x[row, :n]
        np.testing.assert_allclose(
            pooled[row], np.concatenate([steps[-1], steps.max(0), steps.mean(0)]), rtol=1e-6)
    np.testing.assert_array_equal(pooled[2], np.zeros(6))  # an empty review


def test_the_encoder_stays_frozen_for_the_first_epoch(lm_run, in_tmp):  # noqa: F811
    (in_tmp / "reviews.csv").write_text(REVIEWS)
    config = config_module.build_config(SentimentConfig, {
        "csv": "reviews.csv", "encoder_from": str(lm_run), "bidirectional": False,
        "pooling": "concat", "epochs": 2, "batch_size": 8, "gradual_unfreezing": True,
        "learning_rate_schedule": "slanted"})
    reviews = sentiment_train.load_data(config)
    setup = sentiment_train.build_training(sentiment_train.with_encoder_architecture(config), reviews)
    model = setup.model
    assert isinstance(model.optimizer, LayerwiseAdam)
    before = {name: [w.copy() for w in model.get_layer(name).get_weights()]
              for name in ("embedding", "recurrent_1", "logit")}
    model.fit(setup.train_data, epochs=1, verbose=0)
    after = {name: model.get_layer(name).get_weights() for name in before}
    for name in ("embedding", "recurrent_1"):
        for a, b in zip(after[name], before[name]):
            np.testing.assert_array_equal(a, b)
    assert not np.array_equal(after["logit"][0], before["logit"][0])
    model.fit(setup.train_data, epochs=2, initial_epoch=1, verbose=0)
    assert not np.array_equal(model.get_layer("recurrent_1").get_weights()[0],
                              before["recurrent_1"][0])
    np.testing.assert_array_equal(model.get_layer("embedding").get_weights()[0],
                                  before["embedding"][0])  # its turn is the third epoch
