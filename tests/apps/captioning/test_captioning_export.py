"""`rnn-suite captioning export`: image bytes in, `predict`'s captions out, in a fresh process.

The graph decodes and resizes with Pillow's arithmetic (apps/common/graph_images.py), so
images of another size, JPEGs decoded at a reduced scale and transparent PNGs get the
same pixels, hence the same captions and log-probabilities, as `predict` gives them.
"""


import pytest
from PIL import Image
from serving_testutils import call_in_fresh_process, export, image_bytes, predict, write_images

from apps.captioning import shapes

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _files(folder):
    """(path, bytes) of a few shape images: at the model's 32 px, bigger, JPEG, RGBA, grey."""
    pictures, _ = shapes.generate(5, image_size=96, max_shapes=1, seed=11)
    made = [("exact.png", Image.fromarray(pictures[0]).resize((32, 32), Image.BICUBIC)),
            ("big.png", Image.fromarray(pictures[1]).resize((150, 90))),
            ("photo.jpg", Image.fromarray(pictures[2])),  # decoded at 1/2 scale (draft)
            ("clear.png", Image.fromarray(pictures[3]).convert("RGBA")),
            ("grey.png", Image.fromarray(pictures[4]).convert("L").resize((70, 40)))]
    return write_images(folder, made)


def test_export_captions_as_predict_in_a_fresh_process(shapes_run, tmp_path, capsys):
    out = export(capsys, "captioning", shapes_run, tmp_path / "export")
    assert "signature serving_default: image_bytes (string [None]) -> caption (string [None])" \
           in out
    files = _files(tmp_path / "images")
    expected = predict(capsys, "captioning", "predict", "--run", shapes_run,
                       *[path for path, _ in files])
    answer = call_in_fresh_process({"export": tmp_path / "export"}, {
        "images": ("export", "serving_default",
                   {"image_bytes": image_bytes([data for _, data in files])})},
        tmp_path / "fresh")
    got = answer["images"]
    assert got["caption"] == [result["caption"] for result in expected]
    assert got["log_prob"] == pytest.approx([r["log_prob"] for r in expected], abs=1e-5)
    assert got["finished"] == [r["finished"] for r in expected]
