"""`evaluate` and `predict` work from a run folder, on raw image files."""

import numpy as np
from app_testutils import DATASET, IMAGE_SIZE, read_json, run_cli
from PIL import Image

from apps.mnist import data, evaluation


def _test_digits(count):
    digits = data.load("files" if DATASET == "mnist" else "digits", limit=count)
    return digits.x_test, digits.y_test


def test_evaluate_writes_accuracy_and_pictures(trained_run, tmp_path, capsys):
    out = tmp_path / "eval"
    status, stdout, _ = run_cli(capsys, "mnist", "evaluate", "--run", trained_run,
                                "--limit", "128", "--output", out)
    assert status == 0
    assert "mnist: test accuracy" in stdout
    report = read_json(out / "evaluation.json")
    assert report["dataset"] == DATASET and report["test_examples"] == 128
    assert 0.2 < report["test_accuracy"] <= 1.0
    for name in ("confusion_matrix.png", "test_predictions.png", "prediction_over_time.png"):
        with Image.open(out / name) as image:
            assert image.size[0] > 300
    # One row per test digit, in order, agreeing with the reported accuracy.
    labels, predicted = evaluation.read_predictions(out / "test_predictions.csv")
    np.testing.assert_array_equal(labels, _test_digits(128)[1])
    assert np.mean(predicted == labels) == report["test_accuracy"]
    assert set(np.unique(predicted)) <= set(range(10))


def test_training_writes_the_best_models_test_predictions(trained_run):
    metrics = read_json(trained_run / "metrics.json")
    labels, predicted = evaluation.read_predictions(trained_run / "test_predictions.csv")
    assert len(labels) == metrics["test_examples"]
    assert np.mean(predicted == labels) == metrics["test_accuracy"]


def test_predict_reads_image_files(trained_run, tmp_path, capsys):
    images, labels = _test_digits(6)
    big = IMAGE_SIZE * 4
    paths = []
    for index, image in enumerate(images):
        # Bigger than the model's input, RGB, and dark-on-light: predict must
        # resize, make it gray and invert it back to MNIST's white-on-black.
        picture = Image.fromarray(255 - image).resize((big, big), Image.NEAREST).convert("RGB")
        path = tmp_path / f"digit{index}.png"
        picture.save(path)
        paths.append(path)
    status, out, _ = run_cli(capsys, "mnist", "predict", "--run", trained_run, *paths, "--top", "2")
    assert status == 0
    lines = out.strip().splitlines()
    assert len(lines) == len(paths)
    for path, line in zip(paths, lines):
        name, rest = line.split(": ", 1)
        assert name == str(path)
        predicted = int(rest.split()[0])
        assert 0 <= predicted <= 9
        assert rest.count(":") == 2  # the two most probable classes with probabilities


def test_to_model_input_inverts_light_backgrounds():
    images, _ = _test_digits(3)
    for image in images:
        white_on_black = data.to_model_input(Image.fromarray(image), IMAGE_SIZE)
        black_on_white = data.to_model_input(Image.fromarray(255 - image).convert("RGB"),
                                             IMAGE_SIZE)
        assert white_on_black.shape == (IMAGE_SIZE, IMAGE_SIZE)
        np.testing.assert_array_equal(white_on_black, black_on_white)
        assert white_on_black.mean() < 128  # mostly dark background
        assert white_on_black.max() > 200  # ink is bright


def test_latest_run_is_the_default(in_tmp, trained_run, capsys):
    status, _, err = run_cli(capsys, "mnist", "evaluate")
    assert status == 2 and "no trained run under runs/mnist/" in err
