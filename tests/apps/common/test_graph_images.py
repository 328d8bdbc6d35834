"""apps/common/graph_images.py gives Pillow's pixels, bit for bit (what the exports rely on)."""

import io

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from apps.captioning import images as captioning_images
from apps.common import graph_images

RNG = np.random.default_rng(0)


def _encode(picture, fmt="PNG"):
    buffer = io.BytesIO()
    picture.save(buffer, fmt)
    return buffer.getvalue()


def test_composite_on_white_and_grey_are_pillows():
    values, alphas = np.meshgrid(np.arange(256), np.arange(256), indexing="ij")
    rgba = np.stack([values, 255 - values, values // 2, alphas], -1).astype(np.uint8)
    white = Image.new("RGBA", (256, 256), (255, 255, 255, 255))
    expected = np.asarray(Image.alpha_composite(white, Image.fromarray(rgba, "RGBA"))
                          .convert("RGB"))
    got = graph_images.to_rgb(tf.constant(rgba)).numpy()
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(graph_images.luma(tf.constant(expected)).numpy(),
                                  np.asarray(Image.fromarray(expected).convert("L")))


@pytest.mark.parametrize("filter_name", ["bicubic", "lanczos"])
@pytest.mark.parametrize("shape, size, gap", [
    ((30, 50), (20, 20), None),   # shrink, horizontal pass first
    ((100, 37), (28, 11), None),  # the height shrinks most: vertical pass first (Pillow 13)
    ((7, 9), (20, 13), None),     # enlarge
    ((13, 40), (13, 17), None),   # one axis only
    ((160, 120), (24, 24), 2.0),  # reduce first (box filter), then resample from a float box
])
def test_resize_is_pillows(filter_name, shape, size, gap):
    pixels = RNG.integers(0, 256, (*shape, 3), dtype=np.uint8)
    filters = {"bicubic": Image.Resampling.BICUBIC, "lanczos": Image.Resampling.LANCZOS}
    expected = np.asarray(Image.fromarray(pixels).resize(size[::-1], filters[filter_name],
                                                         reducing_gap=gap))
    got = graph_images.resize(tf.constant(pixels), *size, filter_name, reducing_gap=gap)
    np.testing.assert_array_equal(got.numpy(), expected)


def _paletted(pixels, transparent):
    picture = Image.fromarray(pixels[..., :3]).convert("P")
    if transparent:
        picture.info["transparency"] = 3
    return picture


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "LA", "P", "P+transparency", "1"])
def test_decoded_png_is_what_captioning_decodes(mode):
    pixels = RNG.integers(0, 256, (24, 18, 4), dtype=np.uint8)
    pictures = {"RGB": lambda: Image.fromarray(pixels[..., :3]),
                "RGBA": lambda: Image.fromarray(pixels, "RGBA"),
                "L": lambda: Image.fromarray(pixels[..., 0]),
                "LA": lambda: Image.fromarray(pixels[..., :2], "LA"),
                "P": lambda: _paletted(pixels, False),
                "P+transparency": lambda: _paletted(pixels, True),
                "1": lambda: Image.fromarray(pixels[..., 0]).convert("1")}
    data = _encode(pictures[mode]())
    with Image.open(io.BytesIO(data)) as picture:
        picture.load()
        expected = np.asarray(captioning_images._to_rgb(picture))
    np.testing.assert_array_equal(graph_images.decode_rgb(tf.constant(data)).numpy(), expected)


@pytest.mark.parametrize("fmt, shape, size", [("JPEG", (100, 80), 32), ("JPEG", (300, 400), 32),
                                              ("JPEG", (90, 70), 64), ("PNG", (150, 90), 32)])
def test_captioning_pixels_are_decode_images(fmt, shape, size):
    """JPEGs decoded at 1/2 or 1/4 scale (Pillow's draft), then squashed with reducing_gap."""
    smooth = Image.fromarray(RNG.integers(0, 256, (shape[0] // 4, shape[1] // 4, 3),
                                          dtype=np.uint8)).resize(shape[::-1], Image.BICUBIC)
    data = _encode(smooth, fmt)
    expected = captioning_images.decode_image(data, "test", size)
    got = graph_images.resize(graph_images.decode_rgb(tf.constant(data), draft_size=size),
                              size, size, "bicubic",
                              reducing_gap=captioning_images._REDUCING_GAP)
    np.testing.assert_array_equal(got.numpy(), expected)
