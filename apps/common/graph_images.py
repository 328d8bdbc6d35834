"""Pillow's image reading, as TensorFlow ops: for the signatures of exported models.

`predict` reads image files with Pillow; a SavedModel served by TensorFlow
Serving gets the encoded bytes and must turn them into the same pixels inside
its graph. `tf.image.resize` and Pillow's resampling differ by a grey level
here and there, which changes a prediction's probabilities, so these ops
redo Pillow's own arithmetic instead:

- `decode_rgb` / `decode_gray`: any PNG, JPEG, BMP or GIF (first frame) ->
  uint8 pixels; a transparent image is composited on white with Pillow's
  fixed-point `alpha_composite`, colour becomes grey with Pillow's "L" formula
  (ITU-R 601-2 luma, 16-bit fixed point);
- `resize`: Pillow's separable resampling (`Image.resize` with BICUBIC or
  LANCZOS; antialiased when shrinking) with its 22-bit fixed-point weights
  and the uint8 rounding between the horizontal and the vertical pass, and
  its `reducing_gap` (a box-filter `reduce` first when shrinking a lot);
- JPEG files can be decoded at 1/2, 1/4 or 1/8 of their size by the decoder
  itself (Pillow's `draft`), with the same DCT method as Pillow (ISLOW).

The tests compare these pixels with Pillow's on PNGs and JPEGs, grey and
colour, with and without alpha, shrunk and enlarged. Known differences: the
EXIF orientation tag is not applied (TensorFlow has no EXIF reader), 16-bit
PNGs and CMYK JPEGs are reduced to 8 bits by TensorFlow's decoders, not
Pillow's, and a GIF's transparent colour is not composited.
"""

import math

import tensorflow as tf

PRECISION_BITS = 22  # Pillow's 8-bit resampling: 32 - 8 - 2 bits of fixed-point weights
FILTERS = {"bicubic": 2.0, "lanczos": 3.0}  # filter -> support (as Pillow's _filters_support)


# --- decoding ---------------------------------------------------------------------

def _composite_on_white(color, alpha):
    """Pillow's `alpha_composite(white, image)` for uint8 colour [H, W, 3] and alpha [H, W, 1].

    Pillow (AlphaComposite.c, 7 bits of precision) over an opaque white
    background: coef1 = alpha * 128, coef2 = (255 - alpha) * 128, and the
    division by 255 done as ((x >> 8) + x) >> 8; a fully transparent pixel
    is the background.
    """
    color = tf.cast(color, tf.int32)
    alpha = tf.cast(alpha, tf.int32)
    coef1 = alpha * 128
    coef2 = 255 * 128 - coef1
    mixed = color * coef1 + 255 * coef2 + (0x80 << 7)
    mixed = ((mixed // 256 + mixed) // 256) // 128  # >> 8, >> 8, >> 7 (all non-negative)
    return tf.cast(tf.where(alpha == 0, 255, mixed), tf.uint8)


def to_rgb(image):
    """uint8 [H, W, C] with C of 1 (grey), 2 (grey, alpha), 3 or 4 (RGBA) -> [H, W, 3] on white."""
    channels = tf.shape(image)[-1]
    color = tf.cond(channels >= 3, lambda: image[..., :3],
                    lambda: tf.tile(image[..., :1], [1, 1, 3]))
    has_alpha = tf.logical_or(tf.equal(channels, 2), tf.equal(channels, 4))
    rgb = tf.cond(has_alpha, lambda: _composite_on_white(color, image[..., -1:]),
                  lambda: color)
    return tf.ensure_shape(rgb, [None, None, 3])


def luma(rgb):
    """Pillow's RGB -> "L": (R * 19595 + G * 38470 + B * 7471 + 0x8000) >> 16, as uint8 [H, W]."""
    rgb = tf.cast(rgb, tf.int32)
    value = (rgb[..., 0] * 19595 + rgb[..., 1] * 38470 + rgb[..., 2] * 7471 + 0x8000) // 65536
    return tf.cast(value, tf.uint8)


def _decode_any(data):
    image = tf.io.decode_image(data, channels=0, dtype=tf.uint8, expand_animations=False)
    return tf.ensure_shape(image, [None, None, None])


def decode_rgb(data, draft_size=None):
    """Encoded image bytes (scalar string) -> uint8 RGB [H, W, 3], transparency on white.

    JPEGs are decoded with the DCT method Pillow's decoder uses (libjpeg's
    ISLOW, TensorFlow's "INTEGER_ACCURATE"; TensorFlow's default is another).

    Args:
        data: A scalar tf.string.
        draft_size: For a JPEG, decode at the smallest scale 1/1, 1/2, 1/4
            or 1/8 whose size is still at least `draft_size` on both sides,
            as Pillow's `draft(None, (draft_size, draft_size))` does (None:
            full size).
    """
    def jpeg():
        if draft_size is None:
            branch = tf.constant(0)
        else:
            shape = tf.image.extract_jpeg_shape(data)
            scale = tf.minimum(shape[1] // draft_size, shape[0] // draft_size)
            branch = tf.where(scale >= 8, 3, tf.where(scale >= 4, 2,
                                                      tf.where(scale >= 2, 1, 0)))
        decoded = [lambda ratio=ratio: tf.ensure_shape(
            tf.io.decode_jpeg(data, channels=0, ratio=ratio, dct_method="INTEGER_ACCURATE"),
            [None, None, None]) for ratio in (1, 2, 4, 8)]
        return tf.switch_case(branch, decoded)

    return to_rgb(tf.cond(tf.io.is_jpeg(data), jpeg, lambda: _decode_any(data)))


def decode_gray(data):
    """Encoded image bytes -> uint8 [H, W]: Pillow's `convert("L")` after compositing on white."""
    return luma(decode_rgb(data))


# --- resampling -------------------------------------------------------------------

def _filter(name, x):
    """Pillow's filter functions (Resample.c), float64."""
    if name == "bicubic":
        a = -0.5
        x = tf.abs(x)
        near = ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
        far = (((x - 5.0) * x + 8.0) * x - 4.0) * a
        return tf.where(x < 1.0, near, tf.where(x < 2.0, far, tf.zeros_like(x)))

    def sinc(v):
        zero = tf.equal(v, 0.0)
        angle = tf.where(zero, tf.ones_like(v), v * math.pi)
        return tf.where(zero, tf.ones_like(v), tf.sin(angle) / angle)

    inside = tf.logical_and(x >= -3.0, x < 3.0)
    return tf.where(inside, sinc(x) * sinc(x / 3.0), tf.zeros_like(x))


def _weights(in_size, box_start, box_end, out_size, name):
    """Pillow's precompute_coeffs and normalize_coeffs_8bpc: integer weights [out, in] (float64).

    Args:
        in_size: Pixels of the input along this axis (int32 scalar).
        box_start, box_end: The input range mapped onto the output (float64).
        out_size: Pixels of the output (int32 scalar).
    """
    in_size_f = tf.cast(in_size, tf.float64)
    # (double)(in1 - in0) / outSize, with in0 and in1 floats
    span = tf.cast(tf.cast(box_end, tf.float32) - tf.cast(box_start, tf.float32), tf.float64)
    scale = span / tf.cast(out_size, tf.float64)
    filterscale = tf.maximum(scale, 1.0)
    support = FILTERS[name] * filterscale
    center = box_start + (tf.cast(tf.range(out_size), tf.float64) + 0.5) * scale
    # C's (int) truncates towards zero.
    first = tf.maximum(tf.cast(tf.cast(center - support + 0.5, tf.int64), tf.float64), 0.0)
    last = tf.minimum(tf.cast(tf.cast(center + support + 0.5, tf.int64), tf.float64), in_size_f)
    x = tf.cast(tf.range(in_size), tf.float64)[None, :]
    inside = tf.logical_and(x >= first[:, None], x < last[:, None])
    weights = _filter(name, ((x - center[:, None]) + 0.5) * (1.0 / filterscale))
    weights = tf.where(inside, weights, tf.zeros_like(weights))
    total = tf.reduce_sum(weights, axis=1, keepdims=True)
    safe = tf.where(tf.equal(total, 0.0), tf.ones_like(total), total)
    weights = tf.where(tf.not_equal(total, 0.0), weights / safe, weights)
    scaled = weights * float(1 << PRECISION_BITS)
    return tf.sign(scaled) * tf.floor(tf.abs(scaled) + 0.5)


def _pass(pixels, weights, axis):
    """One 8-bit resampling pass of uint8-valued float64 pixels [H, W, C] along `axis` (0 or 1).

    Sums of integer products stay below 2**53, so float64 is exact here.
    """
    if axis == 1:
        summed = tf.einsum("hwc,ow->hoc", pixels, weights)
    else:
        summed = tf.einsum("hwc,oh->owc", pixels, weights)
    summed = summed + float(1 << (PRECISION_BITS - 1))
    return tf.clip_by_value(tf.floor(summed / float(1 << PRECISION_BITS)), 0.0, 255.0)


def _pillow_picks_order():
    """Whether the installed Pillow (13 and later) may run the vertical pass first."""
    import PIL

    return int(PIL.__version__.split(".")[0]) >= 13


def _resample(pixels, height, width, name, box):
    """Pillow's ImagingResample: float64 [H, W, C] -> [height, width, C], from `box`.

    Two passes with uint8 rounding in between, so their order matters.
    Pillow runs the horizontal pass first, except (since Pillow 13, its pull
    request 9549) when the height shrinks by more than twice as many pixels
    as the width does: then the vertical pass comes first. The rule of the
    Pillow installed at export time is the one built into the graph.
    """
    shape = tf.shape(pixels)
    box = [tf.cast(tf.cast(b, tf.float32), tf.float64) for b in box]  # Pillow's box is float
    horizontal = _weights(shape[1], box[0], box[2], width, name)
    vertical = _weights(shape[0], box[1], box[3], height, name)
    vertical_first = tf.logical_and(height < shape[0],
                                    shape[0] - height > 2 * (shape[1] - width))
    if not _pillow_picks_order():
        vertical_first = tf.constant(False)
    return tf.cond(vertical_first,
                   lambda: _pass(_pass(pixels, vertical, axis=0), horizontal, axis=1),
                   lambda: _pass(_pass(pixels, horizontal, axis=1), vertical, axis=0))


def _reduce(pixels, factor_x, factor_y):
    """Pillow's `Image.reduce((factor_x, factor_y))` of float64 [H, W, C]: block means, rounded.

    Each output pixel is the mean of its factor_x x factor_y block (the
    blocks of the last row and column hold what is left), computed as
    Pillow does: ((sum + n // 2) * floor(2**32 / (256 n) in float32)) >> 24.
    """
    shape = tf.shape(pixels)
    height, width = shape[0], shape[1]
    out_h = (height + factor_y - 1) // factor_y
    out_w = (width + factor_x - 1) // factor_x
    padded = tf.pad(pixels, [[0, out_h * factor_y - height], [0, out_w * factor_x - width],
                             [0, 0]])
    blocks = tf.reshape(padded, [out_h, factor_y, out_w, factor_x, -1])
    sums = tf.reduce_sum(blocks, axis=[1, 3])
    rows = tf.minimum(factor_y, height - tf.range(out_h) * factor_y)
    columns = tf.minimum(factor_x, width - tf.range(out_w) * factor_x)
    counts = tf.cast(rows[:, None] * columns[None, :], tf.float64)[..., None]
    multiplier = tf.floor(tf.cast(tf.constant(2.0 ** 32, tf.float32)
                                  / tf.cast(counts * 256.0, tf.float32), tf.float64))
    amended = sums + tf.floor(counts / 2.0)
    return tf.floor(amended * multiplier / float(1 << 24))


def resize(pixels, height, width, name="bicubic", reducing_gap=None):
    """Pillow's `Image.fromarray(pixels).resize((width, height), filter, reducing_gap=...)`.

    Args:
        pixels: uint8 [H, W, C] (each channel resampled on its own, as Pillow
            does for "L" and "RGB").
        height, width: The output size (int32 scalars or ints).
        name: "bicubic" or "lanczos".
        reducing_gap: As Pillow's: when shrinking by at least twice this,
            first `reduce` by an integer factor with a box filter (None: never).

    Returns:
        uint8 [height, width, C]; the input itself when the size is unchanged.
    """
    shape = tf.shape(pixels)
    height = tf.convert_to_tensor(height, tf.int32)
    width = tf.convert_to_tensor(width, tf.int32)

    def resampled():
        values = tf.cast(pixels, tf.float64)
        in_h, in_w = tf.cast(shape[0], tf.float64), tf.cast(shape[1], tf.float64)
        box = (tf.constant(0.0, tf.float64), tf.constant(0.0, tf.float64), in_w, in_h)
        if reducing_gap is None:
            return _resample(values, height, width, name, box)
        # int(x / size / gap) or 1, as Image.resize computes the factors.
        factor_x = tf.maximum(tf.cast(in_w / tf.cast(width, tf.float64) / reducing_gap,
                                      tf.int32), 1)
        factor_y = tf.maximum(tf.cast(in_h / tf.cast(height, tf.float64) / reducing_gap,
                                      tf.int32), 1)

        def reduced_first():
            # The whole image is the safe box here: reduce it all, then map the
            # box (0, 0, W, H) onto the reduced image (fractional at the far edges).
            smaller = _reduce(values, factor_x, factor_y)
            scaled = (box[0], box[1], in_w / tf.cast(factor_x, tf.float64),
                      in_h / tf.cast(factor_y, tf.float64))
            return _resample(smaller, height, width, name, scaled)

        return tf.cond(tf.logical_or(factor_x > 1, factor_y > 1), reduced_first,
                       lambda: _resample(values, height, width, name, box))

    same = tf.logical_and(tf.equal(shape[0], height), tf.equal(shape[1], width))
    return tf.cond(same, lambda: pixels, lambda: tf.cast(resampled(), tf.uint8))
