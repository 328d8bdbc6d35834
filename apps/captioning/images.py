"""Reading any image a user has into uint8 RGB pixels of one square size.

Every image a captioning model sees, in training or from `predict photo.jpg`,
goes through `decode_image`, so the two cannot disagree about preprocessing:

- whatever the mode (grayscale, palette, RGBA/LA with transparency, CMYK,
  16-bit grayscale PNGs in Pillow's "I;16" / "I" modes, float "F"), the result
  is 8-bit RGB. Transparent pixels are composited on white (what a viewer
  shows); 16-bit values are scaled to 0..255 (65535 -> 255), not clipped;
- the EXIF orientation tag is applied, so a phone photo is upright;
- a large JPEG is decoded at 1/2, 1/4 or 1/8 of its size by the JPEG decoder
  itself (Pillow's `draft`), never below the target size, so a 4000x3000
  photo costs about as much as a 500x375 one;
- the image is squashed to size x size (aspect ratio not kept, nothing
  cropped: what captioning models do) with Pillow's antialiased bicubic
  filter.

Pillow's decompression-bomb guard (`PIL.Image.MAX_IMAGE_PIXELS`, about 89
million pixels; Pillow refuses images over twice that) is kept as it is: it
protects against small files that claim enormous sizes. Such an image is a
`UsageError` saying how large it is and what to do; a user who trusts the file
can raise `PIL.Image.MAX_IMAGE_PIXELS` (or shrink the image first).
"""

import io
from pathlib import Path

import numpy as np

from apps.common.errors import UsageError

EXPECTED = "expected an image file: JPEG, PNG, BMP, GIF, WebP or TIFF"
# Bicubic resampling in Pillow is antialiased when shrinking (its support grows
# with the scale); reducing_gap first shrinks by an integer factor with a box
# filter when the image is over 2x the target (quicker, visually the same).
_REDUCING_GAP = 2.0


def decode_image(data, name, size):
    """The pixels of an encoded image, as uint8 RGB [size, size, 3].

    Args:
        data: The file's bytes.
        name: How to call the image in errors (its path or archive member).
        size: The side of the square result, in pixels.

    Raises:
        UsageError: If the bytes are empty, not an image, truncated or
            corrupt, or larger than Pillow's decompression-bomb limit; the
            message names the image and says what was expected.
    """
    from PIL import Image

    size = int(size)
    if size < 1:
        raise ValueError(f"image size must be at least 1, got {size}")
    if not data:
        raise UsageError(f"image {name} is empty (0 bytes; {EXPECTED})")
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format == "JPEG":
                # Decode at the smallest power-of-two scale still >= size on both sides.
                image.draft(None, (size, size))
            image.load()
            image = _upright(image)
            rgb = _to_rgb(image)
            if rgb.size != (size, size):
                rgb = rgb.resize((size, size), Image.Resampling.BICUBIC,
                                 reducing_gap=_REDUCING_GAP)
            pixels = np.asarray(rgb, dtype=np.uint8)
    except UsageError:
        raise
    except Image.DecompressionBombError as error:
        raise UsageError(
            f"image {name} is too large to decode safely ({error}); shrink it first, or raise "
            "PIL.Image.MAX_IMAGE_PIXELS if you trust the file") from None
    except Image.UnidentifiedImageError:
        raise UsageError(f"image {name} is not an image Pillow can read ({_what(data)}; "
                         f"{EXPECTED})") from None
    except MemoryError:
        raise UsageError(f"image {name} is too large to decode in memory; shrink it "
                         "first") from None
    except Exception as error:  # noqa: BLE001 - corrupt data raises OSError, SyntaxError, ...
        reason = str(error) or type(error).__name__
        raise UsageError(f"image {name} is truncated or corrupt ({reason}); {EXPECTED}, "
                         "complete and undamaged (re-save or re-download it)") from None
    if pixels.shape != (size, size, 3):  # pragma: no cover - guards the conversions above
        raise UsageError(f"image {name} decoded to shape {pixels.shape}, expected "
                         f"({size}, {size}, 3)")
    return np.ascontiguousarray(pixels)


def read_image_file(path, size):
    """Read and decode an image file named on the command line (see `decode_image`).

    Raises:
        UsageError: If the file is missing, a folder, unreadable or not a
            readable image.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise UsageError(f"image {path} does not exist ({EXPECTED})")
    if path.is_dir():
        raise UsageError(f"image {path} is a folder ({EXPECTED})")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise UsageError(f"cannot read image {path}: {error.strerror or error} ({EXPECTED}, "
                         "readable by you)") from None
    return decode_image(data, str(path), size)


def resize_pixels(pixels, size):
    """uint8 RGB [H, W, 3] -> [size, size, 3] with the same filter `decode_image` uses."""
    from PIL import Image

    pixels = np.asarray(pixels, dtype=np.uint8)
    if pixels.shape[:2] == (size, size):
        return pixels
    image = Image.fromarray(pixels, "RGB").resize(
        (size, size), Image.Resampling.BICUBIC, reducing_gap=_REDUCING_GAP)
    return np.asarray(image, dtype=np.uint8)


def _upright(image):
    """Apply the EXIF orientation tag (no-op without one)."""
    from PIL import ImageOps

    try:
        return ImageOps.exif_transpose(image)
    except Exception:  # noqa: BLE001 - a malformed EXIF block should not lose the image
        return image


def _to_rgb(image):
    """Any Pillow mode -> "RGB": alpha composited on white, 16/32-bit and float scaled to 8-bit."""
    from PIL import Image

    mode = image.mode
    if mode == "RGB":
        return image
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
        mode = image.mode
    elif mode in ("L", "1") and "transparency" in image.info:
        image = image.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    if mode.startswith("I") or mode.startswith("F"):
        return Image.fromarray(_to_8bit(np.asarray(image), mode), "L").convert("RGB")
    return image.convert("RGB")  # L, 1, CMYK, YCbCr, LAB, HSV, RGBX, ...


def _to_8bit(values, mode):
    """Scale a 16-bit, 32-bit integer or float grayscale array to uint8 (not clipped)."""
    values = values.astype(np.float64)
    if mode.startswith("I;16"):
        top = 65535.0
    elif mode.startswith("F"):
        finite = values[np.isfinite(values)]
        low = min(float(finite.min()), 0.0) if finite.size else 0.0
        high = float(finite.max()) if finite.size else 1.0
        if low >= 0.0 and high <= 1.0:
            top = 1.0  # a [0, 1] float image
        else:
            values = values - low
            top = max(high - low, 1e-12)
        values = np.nan_to_num(values, nan=0.0, posinf=top, neginf=0.0)
    else:
        # "I": 32-bit integers, which Pillow uses for 16-bit PNGs too. Keep 8-bit
        # data as it is, scale 16-bit data by 257, anything larger by its maximum.
        values = np.maximum(values, 0.0)
        high = float(values.max()) if values.size else 0.0
        top = 255.0 if high <= 255 else 65535.0 if high <= 65535 else high
    return np.clip(np.rint(values * (255.0 / top)), 0, 255).astype(np.uint8)


def _what(data):
    """A few words on what the bytes look like, for the not-an-image message."""
    head = data[:64]
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return f"{len(data):,} bytes starting 0x{head[:4].hex()}"
    if text.isprintable() or all(c.isprintable() or c in "\r\n\t" for c in text):
        return f"it holds text: {text[:30].strip()!r}..."
    return f"{len(data):,} bytes starting 0x{head[:4].hex()}"
