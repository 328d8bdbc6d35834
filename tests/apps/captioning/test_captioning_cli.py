"""The captioning commands as a user runs them: frozen encoders and their cache, resuming, bad input."""

import json

import numpy as np
import pytest
from app_testutils import Interrupt, killed_and_resumed, run_cli
from captioning_testutils import FROZEN, MIRROR, TINY, shapes_images, write_image

from apps.common import plots, training


def test_an_interrupted_frozen_run_resumes_from_the_feature_cache_and_keeps_its_encoder(
        tmp_path, capsys, monkeypatch):
    """Ctrl-C in epoch 2 of a frozen-encoder run, the same command again: it resumes at that
    epoch, reads every image's features back from the cache, and saves the whole captioner."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RNN_SUITE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(training, "BACKUP_EVERY_BATCHES", 2)
    original = training.make_callbacks
    monkeypatch.setattr(training, "make_callbacks",
                        lambda *a, **k: original(*a, **k) + [Interrupt(1, 2)])
    command = ["captioning", "train", *FROZEN, "--epochs", "3"]
    status, out, err = run_cli(capsys, *command)
    assert status == 130 and "rerun the same command" in err
    assert "train: features: 0 from the cache, 48 computed" in out
    (run,) = (tmp_path / "runs" / "captioning").iterdir()
    assert not (run / "metrics.json").exists() and (run / "model.keras").is_file()

    monkeypatch.setattr(training, "make_callbacks", original)
    status, out, err = run_cli(capsys, *command)
    assert status == 0, err
    assert "resuming the interrupted run" in out and "at epoch 2" in out
    assert "train: features: 48 from the cache, 0 computed" in out
    assert "validation: features: 6 from the cache, 0 computed" in out
    # Another encoder, image size or file is never served from the cache: test_feature_cache.py.
    assert list(plots.read_history(run / "history.csv")["epoch"]) == [0, 1, 2]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["resumed_from_epoch"] == 1
    assert metrics["encoder_frozen"] and metrics["trainable_parameters"] < metrics["parameters"]

    # model.keras holds the whole captioner (encoder included), not the decoder trained alone.
    image = write_image(tmp_path / "x.png", shapes_images(1, seed=8)[0][0])
    status, out, err = run_cli(capsys, "captioning", "predict", "--run", run, image)
    assert status == 0, err
    assert len(out.splitlines()) == 1  # a few epochs may not say much: the line can be empty


def test_killed_process_resumes(tmp_path, capsys, monkeypatch):
    """A real kill -9 mid-training, then the same command again: it continues, nothing lost."""
    monkeypatch.chdir(tmp_path)
    killed_and_resumed(capsys, ["captioning", "train", *TINY, "--epochs", "4", "--batch-size",
                                "8", "--shapes-images", "200"], tmp_path)


# --- images a user might hand to predict ---------------------------------------------

def _sixteen_bit(path):
    from PIL import Image

    values = (np.linspace(0, 65535, 40 * 40).reshape(40, 40)).astype(np.uint16)
    Image.fromarray(values).save(path)  # mode I;16
    return path


CONVERTED = {
    "grayscale.png": lambda p: write_image(p, np.full((40, 40, 3), 120, np.uint8)) and
    __import__("PIL.Image").Image.open(p).convert("L").save(p) or p,
    "rgba.png": lambda p: __import__("PIL.Image").Image.new("RGBA", (50, 30), (255, 0, 0, 128)).save(p) or p,
    "sixteen_bit.png": _sixteen_bit,
    "huge.jpg": lambda p: write_image(p, np.full((3000, 4000, 3), 200, np.uint8), quality=50),
}


@pytest.mark.parametrize("name", sorted(CONVERTED))
def test_predict_converts_any_image_mode_and_size(shapes_run, tmp_path, capsys, name):
    path = CONVERTED[name](tmp_path / name)
    status, out, err = run_cli(capsys, "captioning", "predict", "--run", shapes_run, path)
    assert status == 0, err
    assert len(out.splitlines()) == 1


def _truncated_jpeg(path):
    write_image(path, np.random.default_rng(0).integers(0, 255, (64, 64, 3)), quality=90)
    path.write_bytes(path.read_bytes()[:300])
    return path


BAD_IMAGES = {
    "missing": (lambda p: p / "nope.jpg", "does not exist"),
    "folder": (lambda p: p, "is a folder"),
    "text": (lambda p: (p / "notes.jpg").write_text("hello") and p / "notes.jpg", "image"),
    "empty": (lambda p: (p / "empty.png").write_bytes(b"") or p / "empty.png", "empty"),
    "truncated": (lambda p: _truncated_jpeg(p / "cut.jpg"), "cut.jpg"),
}


@pytest.mark.parametrize("case", sorted(BAD_IMAGES))
def test_predict_bad_images_are_one_line_errors(shapes_run, tmp_path, capsys, case):
    make, expected = BAD_IMAGES[case]
    status, out, err = run_cli(capsys, "captioning", "predict", "--run", shapes_run,
                               make(tmp_path))
    assert status == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert expected in err.lower() or expected in err


@pytest.mark.parametrize("args, expected", [
    (["train", "--shapes-max", "4"], "--shapes-max must be < 4"),
    (["train", "--dataset", "shapes", "--image-size", "-3"], "--image-size must be >= 0"),
    (["train", "--encoder", "resnet"], "invalid choice"),
    (["train", "--dataset", "shapes", "--encoder", "efficientnet_b0", "--encoder-weights",
      "/nowhere/weights.h5", "--shapes-images", "20"], "--encoder-weights /nowhere/weights.h5"),
    (["predict", "--run", "/nowhere/run", "x.png"], "--run /nowhere/run does not exist"),
    (["evaluate", "--run", "/nowhere/run"], "--run /nowhere/run does not exist"),
    (["predict", "--show-attention", "out.txt", "x.png"], "expected a .png"),
])
def test_bad_flags_are_one_line_errors(tmp_path, capsys, monkeypatch, args, expected):
    monkeypatch.chdir(tmp_path)
    status, _, err = run_cli(capsys, "captioning", *args)
    assert status == 2
    assert expected in err and "Traceback" not in err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("model.keras"))


def test_missing_encoder_weights_leave_no_run_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    status, _, err = run_cli(capsys, "captioning", "train", "--dataset", "shapes",
                             "--shapes-images", "20", "--encoder", "mobilenet_v3_small",
                             "--encoder-weights", tmp_path / "absent.h5")
    assert status == 2 and "absent.h5 does not exist" in err
    assert not (tmp_path / "runs").exists()  # nor the runs/captioning/ made for it


def test_flickr8k_asked_for_but_absent_names_the_files(tmp_path, capsys):
    status, _, err = run_cli(capsys, "captioning", "train", "--dataset", "flickr8k",
                             "--data-dir", tmp_path)
    assert status == 2 and "Flickr8k.token.txt" in err


def test_predict_without_a_model_in_the_run(tmp_path, capsys):
    (tmp_path / "run").mkdir()
    status, _, err = run_cli(capsys, "captioning", "predict", "--run", tmp_path / "run", "x.png")
    assert status == 2 and "has no model.keras" in err


@pytest.mark.skipif(not MIRROR, reason="needs the data mirror: set RNN_SUITE_DATA to shared/data "
                                       "(Flickr8k images and captions)")
def test_a_few_steps_on_real_flickr8k(tmp_path, capsys):
    status, out, err = run_cli(
        capsys, "captioning", "train", "--data-dir", MIRROR, "--limit", "16", "--epochs", "1",
        "--encoder", "efficientnet_lite0", "--units", "16", "--embedding-dim", "16",
        "--attention-units", "8", "--batch-size", "16", "--meteor", "off",
        "--run-dir", tmp_path / "run")
    assert status == 0, err
    assert "Flickr8k" in out and "train 753 of 6,000" in out
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["dataset"] == "flickr8k" and metrics["test_images"] == 16
    assert metrics["train_captions"] == 80  # 16 images x 5 captions
    assert np.isfinite(metrics["best_val_loss"])
