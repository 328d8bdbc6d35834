"""Training writes a complete run folder, and the loss goes down."""

import json

import numpy as np
import pytest
from app_testutils import DATASET, IMAGE_SIZE, TINY, read_json, run_cli
from PIL import Image

from apps.common import plots
from apps.common.config import build_config
from apps.mnist.config import MnistConfig

RUN_FILES = ["config.json", "model.keras", "history.csv", "metrics.json",
             "learning_curves.png", "confusion_matrix.png", "test_predictions.png",
             "prediction_over_time.png", "test_predictions.csv"]


def test_run_folder_has_every_file(trained_run):
    for name in RUN_FILES:
        assert (trained_run / name).is_file(), name
        assert (trained_run / name).stat().st_size > 0, name
    for name in RUN_FILES:
        if name.endswith(".png"):
            with Image.open(trained_run / name) as image:
                assert min(image.size) > 100
    assert not (trained_run / "backup").exists()  # removed once training finished
    assert not (trained_run / "train.lock").exists()


def test_loss_goes_down(trained_run):
    history = plots.read_history(trained_run / "history.csv")
    assert list(history["epoch"]) == [0, 1, 2]
    assert history["loss"][-1] < history["loss"][0]
    assert history["val_loss"][-1] < history["val_loss"][0]


def test_config_and_metrics_say_what_was_run(trained_run):
    config = read_json(trained_run / "config.json")
    assert (config["mode"], config["cell"], config["units"], config["epochs"]) == ("row", "gru", 12, 3)
    assert config["run_dir"] == str(trained_run)
    metrics = read_json(trained_run / "metrics.json")
    assert metrics["dataset"] == DATASET
    assert 0.0 <= metrics["test_accuracy"] <= 1.0
    assert metrics["test_accuracy"] > 0.2  # well above chance after 3 tiny epochs
    assert metrics["epochs_done"] == 3
    assert metrics["train_steps_per_second"] > 0
    assert metrics["test_examples"] <= 256


def test_saved_model_takes_raw_images(trained_run):
    import keras

    import apps.mnist.model  # noqa: F401 - registers ImageToSequence
    import layers  # noqa: F401

    model = keras.models.load_model(trained_run / "model.keras")
    images = np.random.default_rng(0).integers(0, 256, (2, IMAGE_SIZE, IMAGE_SIZE))
    probabilities = model.predict(images.astype("float32"), verbose=0)
    assert probabilities.shape == (2, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_prints_dataset_and_summary_line(in_tmp, capsys):
    status, out, _ = run_cli(capsys, "mnist", "train", *TINY, "--epochs", "1", "--limit", "64")
    assert status == 0
    assert "data: " + ("MNIST" if DATASET == "mnist" else "scikit-learn") in out
    summary = out.strip().splitlines()[-1]
    assert summary.startswith("mnist: test accuracy ")
    assert "wall time" in summary and "runs/mnist/" in summary
    runs = list((in_tmp / "runs" / "mnist").iterdir())
    assert len(runs) == 1 and (runs[0] / "metrics.json").is_file()


def test_permuted_irnn_keeps_its_permutation(in_tmp, capsys):
    """Pixel-level modes train, and the saved model carries the fixed pixel order."""
    import keras

    import apps.mnist.model as model_module

    status, _, _ = run_cli(capsys, "mnist", "train", *TINY, "--mode", "permuted", "--cell", "rnn",
                           "--units", "8", "--epochs", "1", "--limit", "32", "--run-dir", "p")
    assert status == 0
    model = keras.models.load_model(in_tmp / "p" / "model.keras")
    order = model_module.image_to_sequence_layer(model).pixel_order(IMAGE_SIZE).ravel()
    assert sorted(order) == list(range(IMAGE_SIZE * IMAGE_SIZE))
    assert list(order) != sorted(order)
    expected = np.random.default_rng(0).permutation(IMAGE_SIZE * IMAGE_SIZE)
    np.testing.assert_array_equal(order, expected)
    recurrent = model.get_layer("recurrent_1")
    assert recurrent.get_config()["activation"] == "relu"


def test_config_file_then_flags(in_tmp, capsys):
    (in_tmp / "best.json").write_text(json.dumps({"units": 9, "cell": "lstm", "epochs": 5}))
    status, _, _ = run_cli(capsys, "mnist", "train", *TINY, "--config", "best.json",
                           "--epochs", "1", "--limit", "32", "--run-dir", "c")
    assert status == 0
    config = read_json(in_tmp / "c" / "config.json")
    assert (config["units"], config["cell"], config["epochs"]) == (12, "gru", 1)  # flags win
    config = build_config(MnistConfig, {"mode": "row"}, in_tmp / "best.json")
    assert (config.units, config.cell, config.mode, config.layers) == (9, "lstm", "row", 1)


def test_precision_mixed_bfloat16_builds_every_layer_under_it_and_restores_the_policy(
        in_tmp, capsys):
    """`--precision mixed_bfloat16`: bf16 compute, float32 weights, saved so; the global
    policy is float32 again after the command."""
    import keras

    status, _, _ = run_cli(capsys, "mnist", "train", *TINY, "--epochs", "1", "--limit", "64",
                           "--precision", "mixed_bfloat16", "--run-dir", "bf16")
    assert status == 0
    assert keras.config.dtype_policy().name == "float32"
    model = keras.models.load_model(in_tmp / "bf16" / "model.keras")
    recurrent = model.get_layer("recurrent_1")
    assert recurrent.dtype_policy.name == "mixed_bfloat16"
    assert recurrent.compute_dtype == "bfloat16"
    assert {w.dtype for w in model.weights} == {"float32"}
    probabilities = model.predict(np.zeros((2, IMAGE_SIZE, IMAGE_SIZE), "float32"), verbose=0)
    np.testing.assert_allclose(np.asarray(probabilities, "float32").sum(axis=1), 1.0, rtol=2e-2)


def test_chrono_init_sets_the_lstm_forget_biases_to_log_time_scales_up_to_784(in_tmp, capsys):
    import keras

    status, _, _ = run_cli(capsys, "mnist", "train", *TINY, "--mode", "pixel", "--cell", "lstm",
                           "--chrono-init", "--epochs", "1", "--limit", "32", "--run-dir", "chrono")
    assert status == 0
    model = keras.models.load_model(in_tmp / "chrono" / "model.keras")
    layer = model.get_layer("recurrent_1")
    assert layer.cell.bias_initializer.get_config()["max_steps"] == IMAGE_SIZE * IMAGE_SIZE
    units = layer.units
    forget = layer.cell.bias.numpy()[units:2 * units]
    assert forget.max() > 2.0  # far above unit_forget_bias's 1 (one epoch of 32 moves it little)


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_builtin_layers_build_the_same_model_on_kerass_layers(cell):
    """The peer of benchmarks/mnist_quality.py: Keras's layers, our recipe, our outputs."""
    import keras

    import layers as rnn_layers
    from apps.mnist.model import build_model

    settings = dict(mode="pixel", cell=cell, units=6, chrono_init=cell != "rnn")
    ours = build_model(build_config(MnistConfig, settings), image_size=4)
    peer = build_model(build_config(MnistConfig, dict(settings, builtin_layers=True)), image_size=4)
    recurrent = {"rnn": keras.layers.SimpleRNN, "gru": keras.layers.GRU,
                 "lstm": keras.layers.LSTM}[cell]
    layer = peer.get_layer("recurrent_1")
    assert type(layer) is recurrent
    assert isinstance(ours.get_layer("recurrent_1"), rnn_layers.Recurrent)
    if cell == "lstm":
        # Keras's unit_forget_bias would have put ones over the chrono forget biases.
        units = layer.units
        forget, inputs = layer.cell.bias.numpy()[units:2 * units], layer.cell.bias.numpy()[:units]
        assert not np.allclose(forget, 1.0) and np.allclose(inputs, -forget)
        assert forget.min() >= 0.0 and forget.max() <= np.log(15) + 1e-6  # log U[1, T - 1]
    if cell == "rnn":
        np.testing.assert_array_equal(layer.cell.recurrent_kernel.numpy(), np.eye(6))
    assert [w.shape for w in ours.weights] == [w.shape for w in peer.weights]
    ours.set_weights(peer.get_weights())
    images = np.random.default_rng(0).uniform(0, 255, (3, 4, 4)).astype("float32")
    np.testing.assert_allclose(ours.predict(images, verbose=0), peer.predict(images, verbose=0),
                               atol=1e-5)
