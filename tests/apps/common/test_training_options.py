"""The learning-rate schedule and the weight averaging every app's `train` offers."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from app_testutils import TINY, read_json, run_cli

from apps.common import training
from apps.common.config import build_config
from apps.common.errors import UsageError
from apps.mnist import commands as mnist_commands
from apps.mnist.config import MnistConfig


def _config(**settings):
    """The tiny MNIST settings of the other app tests, as a config."""
    flags = {}
    for flag, text in zip(TINY[::2], TINY[1::2]):
        name = flag[2:].replace("-", "_")
        kind = type(getattr(MnistConfig, name, text))
        flags[name] = kind(text) if kind in (int, float) else text
    return build_config(MnistConfig, {**flags, **settings})


def test_constant_schedule_is_the_learning_rate():
    assert training.learning_rate(_config(learning_rate=0.01)) == 0.01


def test_cosine_schedule_decays_to_zero_over_all_epochs():
    schedule = training.learning_rate(
        _config(learning_rate=0.01, learning_rate_schedule="cosine", epochs=4), steps_per_epoch=25)
    assert float(schedule(0)) == pytest.approx(0.01)
    assert float(schedule(50)) == pytest.approx(0.005, rel=1e-5)  # half way: cos(pi/2)
    assert float(schedule(100)) == pytest.approx(0.0, abs=1e-9)


def test_cosine_schedule_needs_the_epoch_length():
    with pytest.raises(ValueError, match="steps_per_epoch=None"):
        training.learning_rate(_config(learning_rate_schedule="cosine"))


def test_steps_per_epoch_of_a_dataset():
    assert training.steps_per_epoch(tf.data.Dataset.range(10).batch(4)) == 3
    unknown = tf.data.Dataset.range(10).filter(lambda x: x > 2)
    with pytest.raises(ValueError, match="unknown"):
        training.steps_per_epoch(unknown)


def test_cosine_run_records_its_schedule(in_tmp, capsys):
    status, _, _ = run_cli(capsys, "mnist", "train", *TINY, "--epochs", "1", "--limit", "64",
                           "--learning-rate-schedule", "cosine", "--run-dir", "r")
    assert status == 0
    assert read_json(in_tmp / "r" / "config.json")["learning_rate_schedule"] == "cosine"
    model = keras.models.load_model(in_tmp / "r" / "model.keras")
    schedule = model.optimizer.get_config()["learning_rate"]
    assert schedule["class_name"] == "CosineDecay"
    assert schedule["config"]["initial_learning_rate"] == pytest.approx(0.01)


class RecordWeights(keras.callbacks.Callback):
    """The raw weights after every training step."""

    def __init__(self):
        super().__init__()
        self.after_step = []

    def on_train_batch_end(self, batch, logs=None):
        self.after_step.append([np.array(w) for w in self.model.get_weights()])


def test_weight_averaging_saves_the_moving_average(in_tmp):
    """The saved model holds Keras's EMA of the raw weights (NumPy oracle), not the last ones."""
    momentum = 0.6
    config = _config(epochs=1, limit=96, ema_momentum=momentum, run_dir="ema")
    recorder = RecordWeights()
    mnist_commands.train(config, extra_callbacks=[recorder])

    steps = recorder.after_step
    average = [w.copy() for w in steps[0]]  # the first step starts the average
    for weights in steps[1:]:
        average = [momentum * a + (1 - momentum) * w for a, w in zip(average, weights)]
    saved = keras.models.load_model(in_tmp / "ema" / "model.keras").get_weights()

    assert len(steps) >= 2
    for got, expected, last in zip(saved, average, steps[-1]):
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)
    assert any(not np.allclose(s, last) for s, last in zip(saved, steps[-1]))


class StopAtEpochBegin(keras.callbacks.Callback):
    """Ctrl-C as `epoch` begins: after every callback of the epoch before has run."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt


def test_the_backup_keeps_the_raw_weights_while_the_average_is_swapped_in(in_tmp):
    """Validation and model.keras use the average; the backup a resumed run starts from must
    hold the weights training reached, and the average where Adam keeps it."""
    config = _config(epochs=2, limit=96, ema_momentum=0.6, run_dir="ema")
    recorder = RecordWeights()
    with pytest.raises(KeyboardInterrupt):
        mnist_commands.train(config, extra_callbacks=[recorder, StopAtEpochBegin(1)])
    backed_up = keras.models.load_model(in_tmp / "ema" / "model.keras")
    saved_average = backed_up.get_weights()
    backed_up.load_weights(in_tmp / "ema" / "backup" / "latest.weights.h5")

    raw = recorder.after_step[-1]
    for got, expected in zip(backed_up.get_weights(), raw):
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)
    averages = backed_up.optimizer._model_variables_moving_average
    for got, expected in zip(averages, saved_average):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(got), expected, rtol=1e-6, atol=1e-7)
    assert any(not np.allclose(a, w) for a, w in zip(saved_average, raw))


def test_weight_averaging_momentum_is_checked():
    with pytest.raises(UsageError, match="--ema-momentum must be < 1.0, got 1.0"):
        _config(ema_momentum=1.0)
