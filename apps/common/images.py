"""Reading image files given on the command line, with one-line errors for bad ones."""

from pathlib import Path

from apps.common.errors import UsageError


def open_image(path):
    """Open an image file with Pillow and load its pixels.

    Raises:
        UsageError: If the file is missing, a folder, not an image Pillow can read, or
            larger than Pillow's decompression-bomb limit (`PIL.Image.MAX_IMAGE_PIXELS`).
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.exists():
        raise UsageError(f"image {path} does not exist (expected an image file: PNG, JPEG, ...)")
    if not path.is_file():
        raise UsageError(f"image {path} is not a file (expected an image file: PNG, JPEG, ...)")
    try:
        with Image.open(path) as image:
            image.load()
            return image.copy()
    except Image.DecompressionBombError as error:  # not an OSError: it would be a traceback
        raise UsageError(
            f"image {path} is too large to decode safely ({error}); shrink it first, or raise "
            "PIL.Image.MAX_IMAGE_PIXELS if you trust the file") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise UsageError(f"{path} is not an image Pillow can read "
                         "(expected an image file: PNG, JPEG, BMP, GIF, ...)") from None
