"""Helpers for the captioning tests: tiny settings on generated shapes, image files, a CLI runner.

Generated shapes make the right caption checkable exactly; one shape per
image ("a red circle") learns in seconds on two cores.
"""

import os

import numpy as np

MIRROR = os.environ.get("RNN_SUITE_DATA")

# One shape per image at 32 px (an 8x8 grid): learns in seconds on two cores.
TINY = ["--dataset", "shapes", "--shapes-images", "500", "--shapes-max", "1",
        "--image-size", "32", "--units", "32", "--embedding-dim", "16",
        "--attention-units", "16", "--batch-size", "32", "--learning-rate", "0.003",
        "--early-stopping", "0", "--meteor", "off", "--beam-size", "3", "--seed", "3"]
# A frozen pretrained encoder (features cached) on the same shapes, small and quick.
FROZEN = ["--dataset", "shapes", "--shapes-images", "60", "--shapes-max", "1",
          "--encoder", "efficientnet_lite0", "--image-size", "64", "--units", "16",
          "--embedding-dim", "8", "--attention-units", "8", "--batch-size", "16",
          "--meteor", "off", "--seed", "3"]


def shapes_images(count, seed=99, size=64, max_shapes=1):
    """Fresh shapes images (not the training ones) and their references."""
    from apps.captioning import shapes

    return shapes.generate(count, image_size=size, max_shapes=max_shapes, seed=seed)


def write_image(path, pixels, **save_options):
    """Save uint8 RGB pixels with Pillow (the format from the suffix)."""
    from PIL import Image

    Image.fromarray(np.asarray(pixels, np.uint8)).save(path, **save_options)
    return path
