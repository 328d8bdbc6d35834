"""MNIST digits from local files, tensorflow-datasets, or scikit-learn's embedded 8x8 digits.

Whatever the source, the result is the same: uint8 images [N, S, S] (white
digit on black, 0-255) and integer labels, split into train / validation /
test. The model does its own scaling, so these arrays are also what
`predict` feeds it after turning an image file into the same convention.
"""

import gzip
import logging
import struct
import zipfile
import zlib
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from apps.common import data_mirror, data_source
from apps.common.errors import UsageError
from apps.common.splits import LabelledSplits

CLASS_NAMES = [str(d) for d in range(10)]
NPZ = "mnist.npz"
IDX_FILES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte",
             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
# The mirror's layout first (mnist/, mnist/raw/), then the folder itself.
SUBFOLDERS = ["mnist", "mnist/raw", ".", "raw", "MNIST/raw"]
ALTERNATIVES = [[NPZ], [f + ".gz" for f in IDX_FILES], IDX_FILES]
WANTED = (f"MNIST as {NPZ} or as the four IDX files ({', '.join(IDX_FILES)}, "
          "gzipped or not)")
MNIST_VALIDATION = 5000  # the last 5,000 training images, as is customary
DIGITS_TEST_FRACTION = 0.2
DIGITS_VALIDATION_FRACTION = 0.1
DIGIT_BOX = {28: 20}  # MNIST digits fit a 20x20 box inside the 28x28 frame
DIGITS_SPLIT_SEED = 0  # fixed, so that evaluate sees the same test split as train


@dataclass
class Digits(LabelledSplits):
    """Digit images [N, size, size] and labels split three ways (name: "mnist" or "digits")."""

    @property
    def image_size(self):
        return self.x_train.shape[1]


def load(source="auto", data_dir=None, limit=0, want=None):
    """Load the digits the settings ask for.

    Args:
        source: "auto", "files", "tfds" or "digits" (see `--source`).
        data_dir: The `--data-dir` flag (None: `$RNN_SUITE_DATA`).
        limit: At most this many examples per split (0: all).
        want: "mnist" or "digits" to insist on one dataset (evaluating a
            run needs the dataset it was trained on), or None.

    Raises:
        UsageError: If the requested source is not available, saying what
            was expected where.
    """
    if want == "digits" or source == "digits":
        data = _sklearn_digits()
    elif source == "tfds":
        data = _from_tfds(require=True)
    else:
        data = data_source.local_files_or(data_dir, source, _from_files,
                                          f"{NPZ} or the four IDX files",
                                          otherwise=lambda: _tfds_or_embedded(want))
    return data.limited(limit)


def _tfds_or_embedded(want):
    """No folder named: tfds MNIST if available, else the embedded digits (unless MNIST is a must)."""
    data = _from_tfds(require=False)
    if data is None and want == "mnist":
        raise UsageError(
            f"this run was trained on MNIST, which is not available here: pass --data-dir "
            f"or set ${data_mirror.ENV_VAR} to a folder holding {NPZ} or the four IDX files")
    return data if data is not None else _sklearn_digits()


def _from_files(root):
    index, paths = data_mirror.find_files(root, SUBFOLDERS, ALTERNATIVES, WANTED)
    try:
        if index == 0:
            arrays = _read_npz(str(paths[0]))
        else:
            arrays = tuple(_read_idx(str(p)) for p in paths)
    # A truncated or damaged mnist.npz is a zip file that zipfile rejects.
    except (OSError, ValueError, KeyError, EOFError, struct.error, zipfile.BadZipFile,
            zlib.error) as error:
        raise UsageError(f"cannot read MNIST from {paths[0].parent}: {error} (expected {NPZ} "
                         "with x_train, y_train, x_test, y_test, or the official IDX files)")
    where = paths[0] if index == 0 else paths[0].parent
    return _mnist(*arrays, description=f"MNIST from {where} ({root.origin})")


@lru_cache(maxsize=2)
def _read_npz(path):
    # np.load takes any other file for a pickle and suggests allow_pickle: not the problem here.
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path} is not a complete .npz archive (truncated, or not written by "
                         "numpy.savez)")
    with np.load(path) as archive:
        return (archive["x_train"], archive["y_train"], archive["x_test"], archive["y_test"])


@lru_cache(maxsize=8)
def _read_idx(path):
    """An IDX file (the format MNIST is published in): magic, dimensions, then uint8 data."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as handle:
        data = handle.read()
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{path} is not an IDX file of unsigned bytes")
    shape = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    array = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    return array.reshape(shape)


def _mnist(x_train, y_train, x_test, y_test, description):
    x_train, x_test = np.asarray(x_train, np.uint8), np.asarray(x_test, np.uint8)
    y_train, y_test = np.asarray(y_train, np.int64), np.asarray(y_test, np.int64)
    if x_train.shape[1:] != (28, 28) or len(x_train) != len(y_train):
        raise UsageError(f"{description}: expected images of 28x28 with one label each, got "
                         f"{x_train.shape} and {y_train.shape}")
    cut = len(x_train) - MNIST_VALIDATION
    return Digits("mnist", description, x_train[:cut], y_train[:cut],
                  x_train[cut:], y_train[cut:], x_test, y_test)


def _from_tfds(require):
    """MNIST through tensorflow-datasets, if it is prepared locally or can be downloaded.

    With `require=False` any failure returns None quietly (the next source is
    tried); tfds logs through absl, which is silenced meanwhile.
    """
    absl_logger = logging.getLogger("absl")
    previous_level = absl_logger.level
    absl_logger.setLevel(logging.ERROR)
    try:
        import tensorflow_datasets as tfds

        builder = tfds.builder("mnist")
        prepared = builder.is_prepared()
        if not prepared and not data_source.download_possible():
            if require:
                raise UsageError("--source tfds: tfds 'mnist' is not prepared in "
                                 f"{builder.data_dir} and cannot be downloaded (no network)")
            return None
        if not prepared:
            builder.download_and_prepare()
        train, test = tfds.as_numpy(builder.as_dataset(
            split=["train", "test"], batch_size=-1, as_supervised=True))
        return _mnist(train[0][..., 0], train[1], test[0][..., 0], test[1],
                      description=f"MNIST from tensorflow-datasets ({builder.data_dir})")
    except UsageError:
        raise
    except Exception as error:  # noqa: BLE001 - any tfds failure means "try the next source"
        if require:
            raise UsageError(f"--source tfds: loading tfds 'mnist' failed ({error})") from None
        return None
    finally:
        absl_logger.setLevel(previous_level)


@lru_cache(maxsize=1)
def _sklearn_digits():
    """scikit-learn's 1,797 8x8 digits (shipped inside the package), in MNIST's convention.

    Their pixels are ink intensities 0-16 (16 = darkest ink), so scaling to
    0-255 gives MNIST's white-digit-on-black directly.
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)
    labels = digits.target.astype(np.int64)
    order = np.random.default_rng(DIGITS_SPLIT_SEED).permutation(len(images))
    n_test = int(round(len(images) * DIGITS_TEST_FRACTION))
    n_val = int(round((len(images) - n_test) * DIGITS_VALIDATION_FRACTION))
    test, val, train = np.split(order, [n_test, n_test + n_val])
    return Digits(
        "digits",
        f"scikit-learn's embedded 8x8 digits ({len(images):,} images: {len(train)} train, "
        f"{len(val)} validation, {len(test)} test; no MNIST found, see --data-dir)",
        images[train], labels[train], images[val], labels[val], images[test], labels[test])


def pipeline(images, labels, batch_size, shuffle=False, seed=0):
    """A tf.data pipeline of (float32 images [B, S, S] in 0-255, labels).

    The uint8 arrays are cached (4x smaller than floats), shuffled each epoch,
    batched, and converted on parallel threads while the model trains on the
    previous batch (prefetch), which keeps both cores busy.
    """
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).cache()
    if shuffle:
        dataset = dataset.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size)
    dataset = dataset.map(lambda x, y: (tf.cast(x, tf.float32), y),
                          num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.prefetch(tf.data.AUTOTUNE)


def to_model_input(image, size):
    """A PIL image -> a uint8 [size, size] array in MNIST's convention.

    Grayscale (any mode, alpha flattened onto white), inverted when the
    background is light (MNIST digits are white on black), then, as MNIST
    was made: the ink's bounding box scaled to fit a 20/28 box, and centred
    by its centre of mass (the 8x8 digits fill their whole frame instead).
    """
    from PIL import Image

    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        image = image.convert("RGBA")
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image)
    pixels = np.asarray(image.convert("L"), dtype=np.float32)
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    if border.mean() > 127:
        pixels, border = 255.0 - pixels, 255.0 - border
    # Paper is rarely pure white nor a pen pure black: make the background 0
    # and the strongest ink 255, as in MNIST.
    pixels = np.clip(pixels - np.median(border), 0, None)
    if pixels.max() > 0:
        pixels *= 255.0 / pixels.max()
    ink = np.argwhere(pixels > 0.1 * 255.0)
    if len(ink) == 0:
        return np.zeros((size, size), np.uint8)
    (top, left), (bottom, right) = ink.min(0), ink.max(0) + 1
    crop = Image.fromarray(pixels[top:bottom, left:right].astype(np.uint8))
    box = DIGIT_BOX.get(size, size)
    scale = box / max(crop.size)
    width, height = (max(1, int(round(d * scale))) for d in crop.size)
    digit = np.asarray(crop.resize((width, height), Image.LANCZOS), dtype=np.float32)
    canvas = np.zeros((size, size), np.float32)
    total = digit.sum()
    rows, cols = np.indices(digit.shape)
    centre_row = (rows * digit).sum() / total if total else height / 2
    centre_col = (cols * digit).sum() / total if total else width / 2
    top = int(np.clip(round(size / 2 - centre_row), 0, size - height))
    left = int(np.clip(round(size / 2 - centre_col), 0, size - width))
    canvas[top:top + height, left:left + width] = digit
    return np.clip(canvas, 0, 255).astype(np.uint8)
