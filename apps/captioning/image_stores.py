"""Where a corpus's images come from, and reading them: `ImageStore` and its kinds.

- `FolderStore`: a folder (and its sub-folders) of image files.
- `ArchiveStore`: a .tar (any compression) or .zip, read without extracting.
- `ArrayStore`: images held in memory (the generated shapes).
- `open_store`: the store for a `--images` folder or archive.

(The records of a prepared tfds dataset have their own store, in `coco_records.py`.)

Every store gives each image file a stable identity for the feature cache
(`ImageStore.key`) and decodes names to uint8 RGB pixels (`ImageStore.load`,
through `images.py`). A missing or unreadable image is a `UsageError`.
"""

import io
import os
import tarfile
import threading
import zipfile
from pathlib import Path, PurePosixPath

import numpy as np

from apps.captioning import images as images_module
from apps.common.errors import UsageError

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif",
                              ".tiff", ".ppm", ".pgm"})


class ImageStore:
    """Reads the pixels of named images from one place (folder, archive, records, arrays)."""

    def has(self, name):
        """Whether the store holds an image called `name`."""
        raise NotImplementedError

    def key(self, name):
        """A stable identity of the image's file, which changes when the file changes."""
        raise NotImplementedError

    def describe(self):
        """Where the images are, for messages."""
        raise NotImplementedError

    def read_bytes(self, name):
        """The encoded bytes of the image `name` (UsageError if the store lacks it)."""
        raise NotImplementedError

    def _missing(self, name):
        return UsageError(f"image {name} is not in {self.describe()} (expected a file of that "
                          "name there)")

    def _pixels(self, name, size):
        return images_module.decode_image(self.read_bytes(name), self._label(name), size)

    def _label(self, name):
        return f"{name} in {self.describe()}"

    def _read_order(self, names):
        """The order to read `names` in (archives: by position in the file)."""
        return range(len(names))

    def load(self, names, size, skip_bad=False):
        """Decode `names` to uint8 RGB [N, size, size, 3].

        Returns:
            `(pixels, skipped)`: with `skip_bad`, images that are missing or
            fail to decode are left out of `pixels` and listed in `skipped`
            (in their order in `names`); otherwise they raise.

        Raises:
            UsageError: Naming the first bad image, unless `skip_bad`.
        """
        names = list(names)
        decoded = [None] * len(names)
        for index in self._read_order(names):
            try:
                decoded[index] = self._pixels(names[index], size)
            except UsageError:
                if not skip_bad:
                    raise
        kept = [pixels for pixels in decoded if pixels is not None]
        skipped = [name for name, pixels in zip(names, decoded) if pixels is None]
        if not kept:
            return np.zeros((0, size, size, 3), np.uint8), skipped
        return np.stack(kept).astype(np.uint8, copy=False), skipped


class _NameIndex:
    """Image names -> entries, found by relative path or, when unambiguous, by file name."""

    def __init__(self):
        self.by_path = {}
        self._by_base = {}

    def add(self, relative, entry):
        relative = _normalise(relative)
        parts = PurePosixPath(relative).parts
        if (not parts or any(p.startswith(".") or p == "__MACOSX" for p in parts)
                or PurePosixPath(relative).suffix.lower() not in IMAGE_EXTENSIONS):
            return
        self.by_path[relative] = entry
        base = parts[-1]
        self._by_base[base] = None if base in self._by_base else relative

    def find(self, name):
        """The entry for `name`, or None."""
        name = _normalise(name)
        if name in self.by_path:
            return self.by_path[name]
        relative = self._by_base.get(PurePosixPath(name).name)
        return self.by_path[relative] if relative else None

    def __len__(self):
        return len(self.by_path)


def _normalise(name):
    name = str(name).replace("\\", "/")
    while name.startswith("./"):
        name = name[2:]
    return name.lstrip("/")


class FolderStore(ImageStore):
    """Images in a folder (and its sub-folders), named by their path relative to it."""

    def __init__(self, path):
        self.path = Path(path).expanduser().resolve()
        self.index = _NameIndex()
        for folder, subfolders, files in os.walk(self.path):
            subfolders[:] = sorted(d for d in subfolders if not d.startswith(".")
                                   and d != "__MACOSX")
            relative = Path(folder).relative_to(self.path)
            for file in files:
                self.index.add((relative / file).as_posix(), Path(folder) / file)

    def __len__(self):
        return len(self.index)

    def has(self, name):
        return self.index.find(name) is not None

    def describe(self):
        return f"folder {self.path}"

    def _label(self, name):
        path = self.index.find(name)
        return str(path) if path is not None else name

    def key(self, name):
        path = self.index.find(name)
        if path is None:
            raise self._missing(name)
        try:
            stat = path.stat()
        except OSError as error:
            raise UsageError(f"cannot read image {path}: {error.strerror or error}") from None
        return f"file:{path}:{stat.st_size}:{stat.st_mtime_ns}"

    def read_bytes(self, name):
        path = self.index.find(name)
        if path is None:
            raise self._missing(name)
        try:
            return path.read_bytes()
        except OSError as error:
            raise UsageError(f"cannot read image {path}: {error.strerror or error} (expected a "
                             "readable image file)") from None


class ArchiveStore(ImageStore):
    """Images inside a .tar (any compression) or .zip, read without extracting.

    The archive is indexed once and then kept open (reopened on demand after
    `close`). An uncompressed .tar or a .zip reads any image directly; a
    compressed tar works too, but reading backwards in it decompresses from
    the start, so `load` reads images in archive order.
    """

    def __init__(self, path):
        self.path = Path(path).expanduser().resolve()
        self._lock = threading.Lock()
        self._handle = None
        self.index = _NameIndex()
        try:
            stat = self.path.stat()
            self._identity = f"{self.path}:{stat.st_size}:{stat.st_mtime_ns}"
            self.is_zip = zipfile.is_zipfile(self.path)
            handle = self._open()
            if self.is_zip:
                for info in handle.infolist():
                    if not info.is_dir():
                        self.index.add(info.filename, info)
            else:
                for member in handle:
                    if member.isfile():
                        self.index.add(member.name, member)
        except (OSError, tarfile.TarError, zipfile.BadZipFile, EOFError) as error:
            raise UsageError(f"cannot read the image archive {self.path}: {error} (expected a "
                             ".tar or .zip of image files)") from None

    def __len__(self):
        return len(self.index)

    def _open(self):
        if self._handle is None:
            self._handle = (zipfile.ZipFile(self.path) if self.is_zip
                            else tarfile.open(self.path, "r:*"))
        return self._handle

    def close(self):
        """Close the archive (the next read reopens it)."""
        with self._lock:
            if self._handle is not None:
                self._handle.close()
                self._handle = None

    def has(self, name):
        return self.index.find(name) is not None

    def describe(self):
        return f"{'zip' if self.is_zip else 'tar'} {self.path}"

    def _label(self, name):
        member = self.index.find(name)
        member_name = (member.filename if self.is_zip else member.name) if member else name
        return f"{member_name} in {self.path}"

    def key(self, name):
        member = self.index.find(name)
        if member is None:
            raise self._missing(name)
        if self.is_zip:
            return f"zip:{self._identity}:{member.filename}:{member.file_size}:{member.CRC}"
        return f"tar:{self._identity}:{member.name}:{member.size}:{member.mtime}"

    def _read_order(self, names):
        def position(index):
            member = self.index.find(names[index])
            if member is None:
                return -1
            return member.header_offset if self.is_zip else member.offset_data
        return sorted(range(len(names)), key=position)

    def read_bytes(self, name):
        member = self.index.find(name)
        if member is None:
            raise self._missing(name)
        try:
            with self._lock:
                handle = self._open()
                if self.is_zip:
                    return handle.read(member)
                return handle.extractfile(member).read()
        except (OSError, tarfile.TarError, zipfile.BadZipFile, EOFError) as error:
            raise UsageError(f"cannot read {self._label(name)}: {error} (expected an intact "
                             "archive)") from None


class ArrayStore(ImageStore):
    """Images held in memory as uint8 [N, S, S, 3] (generated shapes); resized on request."""

    def __init__(self, pixels, names, key_prefix, description):
        self.pixels = np.asarray(pixels, np.uint8)
        self.names = list(names)
        self._index = {name: i for i, name in enumerate(self.names)}
        self.key_prefix = key_prefix
        self._description = description

    def __len__(self):
        return len(self.names)

    def has(self, name):
        return name in self._index

    def describe(self):
        return self._description

    def key(self, name):
        if name not in self._index:
            raise self._missing(name)
        return f"{self.key_prefix}:{self._index[name]}:{self.pixels.shape[1]}"

    def read_bytes(self, name):
        if name not in self._index:
            raise self._missing(name)
        from PIL import Image

        buffer = io.BytesIO()
        Image.fromarray(self.pixels[self._index[name]], "RGB").save(buffer, "PNG")
        return buffer.getvalue()

    def _pixels(self, name, size):
        if name not in self._index:
            raise self._missing(name)
        return images_module.resize_pixels(self.pixels[self._index[name]], size)

def open_store(path, what="--images"):
    """An `ImageStore` for a folder or a .tar/.zip of images.

    Raises:
        UsageError: If it is missing, not a folder or archive, or holds no images.
    """
    path = Path(path).expanduser()
    expected = "expected a folder of images or a .tar/.zip of them"
    if not path.exists():
        raise UsageError(f"{what} {path} does not exist ({expected})")
    if path.is_dir():
        store = FolderStore(path)
    elif path.is_file():
        if not (zipfile.is_zipfile(path) or _is_tar(path)):
            raise UsageError(f"{what} {path} is neither a folder nor a .tar/.zip archive "
                             f"({expected})")
        store = ArchiveStore(path)
    else:
        raise UsageError(f"{what} {path} is not a folder or file ({expected})")
    if not len(store):
        raise UsageError(f"{what} {path} holds no images (no files ending in "
                         f"{', '.join(sorted(IMAGE_EXTENSIONS))}; {expected})")
    return store


def _is_tar(path):
    try:
        return tarfile.is_tarfile(path)
    except OSError:
        return False
