"""`rnn-suite mnist export`: image bytes in, `predict`'s probabilities out, in a fresh process.

The graph redoes `data.to_model_input` (grey, inversion, centring, Lanczos resize) with
Pillow's and NumPy's arithmetic, so files of any size, colour, transparency and format
give the probabilities `predict` prints; the `pixels` signature is the model itself.
"""


import keras
import numpy as np
import pytest
from app_testutils import SOURCE
from PIL import Image
from serving_testutils import (call_in_fresh_process, export, floats, image_bytes, predict,
                               write_images)

from apps.mnist import data

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _files(digits, folder):
    """Files of test digits: as they are, dark on grey paper and bigger, colour, RGBA, JPEG."""
    rng = np.random.default_rng(0)
    size = digits.shape[1]
    plain, dark, colour, clear, photo = digits[:5]
    paper = np.asarray(Image.fromarray(255 - dark).resize((3 * size + 1, 4 * size),
                                                           Image.BICUBIC), np.int16)
    paper = np.clip(paper - 20 + rng.integers(-3, 4, paper.shape), 0, 255).astype(np.uint8)
    rgba = np.zeros((size, size, 4), np.uint8)
    rgba[..., 3] = clear
    made = [("plain.png", Image.fromarray(plain)),
            ("paper.png", Image.fromarray(paper)),
            ("colour.png", Image.fromarray(np.stack([255 - colour, 255 - colour // 2,
                                                     np.full_like(colour, 240)], -1))
             .resize((50, 70))),
            ("clear.png", Image.fromarray(rgba, "RGBA").resize((90, 90), Image.LANCZOS)),
            ("photo.jpg", Image.fromarray(255 - photo).resize((45, 45)))]
    return write_images(folder, made)


def test_export_classifies_as_predict_in_a_fresh_process(trained_run, tmp_path, capsys):
    out = export(capsys, "mnist", trained_run, tmp_path / "export")
    assert "signature serving_default: image_bytes (string [None]) -> class_id (int64 " \
           "[None]), probabilities (float32 [None, 10])" in out
    digits = data.load(source=SOURCE, limit=8).x_test
    files = _files(digits, tmp_path / "images")
    expected = predict(capsys, "mnist", "predict", "--run", trained_run,
                       *[path for path, _ in files])
    model = keras.models.load_model(trained_run / "model.keras")
    direct = model.predict(digits.astype(np.float32), verbose=0)

    answer = call_in_fresh_process({"export": tmp_path / "export"}, {
        "files": ("export", "serving_default",
                  {"image_bytes": image_bytes([content for _, content in files])}),
        "pixels": ("export", "pixels", {"images": floats(digits)})}, tmp_path / "fresh")
    assert answer["signatures"] == {"export": ["pixels", "serving_default"]}
    got = answer["files"]
    assert got["class_id"] == [result["class"] for result in expected]
    np.testing.assert_allclose(got["probabilities"], [r["probabilities"] for r in expected],
                               rtol=0, atol=1e-5)
    np.testing.assert_allclose(answer["pixels"]["probabilities"], direct, rtol=0, atol=1e-5)
    assert answer["pixels"]["class_id"] == direct.argmax(axis=1).tolist()
