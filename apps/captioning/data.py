"""Captions and their images from any source, in one shape: a `CaptionCorpus`.

Sources (`--dataset`):
- **flickr8k**: the Flickr8k layout under `--data-dir` / `$RNN_SUITE_DATA`
  (`Flickr8k.token.txt`, `Flickr_8k.{train,dev,test}Images.txt`, the images
  as a folder or a .tar/.zip read without extracting). Only the images that
  exist are used (the offline mirror holds 1,000 of the 8,092), and the
  description says how many of each split were found.
- **csv**: `--csv captions.csv --images DIR_OR_TAR`, several rows per image;
  split by image, 80/10/10, with the fixed `SPLIT_SEED` (independent of
  `--seed`, so every run and `evaluate` see the same split).
- **karpathy**: the Karpathy-split JSON (`dataset_flickr8k.json`,
  `dataset_coco.json`) with `--images`; restval joins train.
- **coco**: tfds `coco_captions`, only when already prepared (never a download).
- **shapes**: generated coloured shapes with grammar captions (`shapes.py`);
  the embedded default when no other data is found, which the description says.

Whatever the source, each split is a list of image names and, per image, its
reference captions (raw strings); `CaptionCorpus.store` turns names into
pixels (`ImageStore.load`) and gives each image file a stable identity for the
feature cache (`ImageStore.key`).

Bad input is a `UsageError` (one line: the file, the line, what was expected).
Lines that are malformed are an error unless `--skip-bad-lines` (then counted
in one warning); captions naming images that are not there are counted and
skipped with one warning on stderr, an error only when nothing is left.
"""

import csv
import io
import json
import logging
import os
import struct
import sys
import tarfile
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from apps.captioning import images as images_module
from apps.common import data_mirror
from apps.common import text as text_module
from apps.common.errors import UsageError

SPLITS = ("train", "validation", "test")
SPLIT_SEED = 0  # the CSV split by image: fixed, independent of --seed
SHAPES_SEED = 1234  # generated shapes: the same images for every run
SHAPES_FRACTIONS = (0.8, 0.1)  # train, validation; test is the rest
CSV_HELD_OUT_FRACTION = 0.1  # of the images, for validation and again for test
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif",
                              ".tiff", ".ppm", ".pgm"})

FLICKR_SUBFOLDERS = ("flickr8k", ".")
FLICKR_TEXT_FOLDERS = ("Flickr8k_text", ".")
FLICKR_IMAGE_FOLDERS = ("Flicker8k_Dataset", "Flickr8k_Dataset")
FLICKR_TOKENS = "Flickr8k.token.txt"
FLICKR_SPLIT_FILES = {"train": "Flickr_8k.trainImages.txt",
                      "validation": "Flickr_8k.devImages.txt",
                      "test": "Flickr_8k.testImages.txt"}
KARPATHY_SPLITS = {"train": "train", "restval": "train", "val": "validation",
                   "test": "test"}
COCO_SPLITS = {"train": ("train", "restval"), "validation": ("val",), "test": ("test",)}


def _warn(message):
    print(f"warning: {message}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------- the result

@dataclass
class CaptionSplit:
    """One split: image names (as the captions file gives them) and their reference captions."""

    names: list  # one entry per image
    captions: list  # one list of raw reference captions per image, same order

    def __len__(self):
        return len(self.names)

    def limited(self, limit):
        """The first `limit` images (all if `limit` is 0)."""
        if not limit:
            return self
        return CaptionSplit(list(self.names[:limit]), list(self.captions[:limit]))


@dataclass
class CaptionCorpus:
    """Three splits of captioned images, what they are, and where their pixels come from."""

    name: str  # "flickr8k", "csv", "karpathy", "coco", "shapes"
    description: str  # what was found, per split, for printing
    train: CaptionSplit
    validation: CaptionSplit
    test: CaptionSplit
    store: "ImageStore"
    # Where the test images are when they are not in `store` (a test set of your own).
    test_store: "ImageStore" = None

    def limited(self, limit):
        """At most `limit` images of each split (all if `limit` is 0)."""
        if not limit:
            return self
        return CaptionCorpus(self.name, f"{self.description}; --limit {limit} images per split",
                             self.train.limited(limit), self.validation.limited(limit),
                             self.test.limited(limit), self.store, self.test_store)

    def test_images(self):
        """The `ImageStore` holding the test split's images."""
        return self.test_store or self.store

    def split(self, which):
        """The split called "train", "validation" or "test"."""
        if which not in SPLITS:
            raise ValueError(f"unknown split {which!r}; expected one of {', '.join(SPLITS)}")
        return getattr(self, which)


# ----------------------------------------------------------------- image stores

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


class TFRecordStore(ImageStore):
    """Encoded images inside TFRecord files (a prepared tfds dataset), read at known offsets."""

    def __init__(self, locations, feature, identity, description):
        self.locations = locations  # name -> (file, offset, length)
        self.feature = feature
        self.identity = identity
        self._description = description

    def __len__(self):
        return len(self.locations)

    def has(self, name):
        return name in self.locations

    def describe(self):
        return self._description

    def key(self, name):
        if name not in self.locations:
            raise self._missing(name)
        return f"tfds:{self.identity}:{name}"

    def _read_order(self, names):
        return sorted(range(len(names)), key=lambda i: self.locations.get(names[i], ("", 0))[:2])

    def read_bytes(self, name):
        if name not in self.locations:
            raise self._missing(name)
        file, offset, length = self.locations[name]
        try:
            with open(file, "rb") as handle:
                handle.seek(offset)
                record = handle.read(length)
        except OSError as error:
            raise UsageError(f"cannot read {file}: {error.strerror or error}") from None
        example = _parse_example(record)
        values = example.features.feature[self.feature].bytes_list.value
        if not values:
            raise UsageError(f"the record of {name} in {file} holds no {self.feature!r}")
        return values[0]


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


# ----------------------------------------------------------------- choosing the source

def load(config):
    """The captioned images the settings (`CaptioningConfig`) ask for, `--limit` applied.

    Raises:
        UsageError: If the requested source is missing or malformed, saying
            what was expected where.
    """
    dataset = config.dataset
    if config.csv and config.karpathy_json:
        raise UsageError("--csv and --karpathy-json name two different datasets; give one")
    if dataset == "auto":
        dataset = "csv" if config.csv else "karpathy" if config.karpathy_json else "auto"
    if config.csv and dataset != "csv":
        raise UsageError(f"--csv and --dataset {dataset} name two different datasets; drop one "
                         "(--dataset csv or auto reads the CSV)")
    if config.karpathy_json and dataset != "karpathy":
        raise UsageError(f"--karpathy-json and --dataset {dataset} name two different datasets; "
                         "drop one (--dataset karpathy or auto reads the JSON)")
    if config.images and dataset in ("coco", "shapes"):
        raise UsageError(f"--images is not used by --dataset {dataset}; drop it (it names the "
                         "images of --csv, --karpathy-json or --dataset flickr8k)")

    if dataset == "csv":
        corpus = from_csv(config)
    elif dataset == "karpathy":
        corpus = from_karpathy(config)
    elif dataset == "coco":
        corpus = from_coco()
    elif dataset == "shapes":
        corpus = from_shapes(config)
    elif dataset == "flickr8k":
        corpus = from_flickr8k(config, require=True)
    else:
        corpus = from_flickr8k(config, require=False)
        if isinstance(corpus, str):
            if config.images:
                raise UsageError(f"--images {config.images} needs its captions: --csv FILE, "
                                 "--karpathy-json FILE, or Flickr8k's text files under "
                                 f"--data-dir ({corpus.split(';')[0]})")
            corpus = from_shapes(config, note=corpus)
    return corpus.limited(config.limit)


# ----------------------------------------------------------------- Flickr8k

def _flickr_places(root):
    bases = [root.path / sub if sub != "." else root.path for sub in FLICKR_SUBFOLDERS]
    text_dirs = [base / folder if folder != "." else base
                 for base in bases for folder in FLICKR_TEXT_FOLDERS]
    return bases, text_dirs


def find_flickr8k(root):
    """(text folder or None, images folder/archive or None) of the Flickr8k layout under `root`."""
    bases, text_dirs = _flickr_places(root)
    wanted = [FLICKR_TOKENS, *FLICKR_SPLIT_FILES.values()]
    text_dir = next((d for d in text_dirs if all((d / n).is_file() for n in wanted)), None)
    image_places = list(dict.fromkeys(
        bases + ([text_dir, text_dir.parent] if text_dir is not None else [])))
    for base in image_places:
        for folder in FLICKR_IMAGE_FOLDERS:
            if (base / folder).is_dir():
                return text_dir, base / folder
    for base in image_places:
        if not base.is_dir():
            continue
        for archive in sorted(base.iterdir()):
            if archive.is_file() and _flickr_archive(archive):
                return text_dir, archive
    return text_dir, None


def _flickr_archive(path):
    """Whether `path` is a .tar/.zip whose first members lie in a Flickr8k images folder."""
    name = path.name.lower()
    try:
        if name.endswith(".zip"):
            with zipfile.ZipFile(path) as archive:
                members = archive.namelist()[:5]
        elif name.endswith((".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")):
            with tarfile.open(path, "r:*") as archive:
                members = []
                for member in archive:
                    members.append(member.name)
                    if len(members) == 5:
                        break
        else:
            return False
    except (OSError, tarfile.TarError, zipfile.BadZipFile, EOFError):
        return False
    return any(part in FLICKR_IMAGE_FOLDERS for m in members for part in PurePosixPath(m).parts)


def _flickr_wanted(root):
    bases, text_dirs = _flickr_places(root)
    files = ", ".join([FLICKR_TOKENS, *FLICKR_SPLIT_FILES.values()])
    folders = " or ".join(f"{f}/" for f in FLICKR_IMAGE_FOLDERS)
    return (f"the captions files ({files}) in one of: {', '.join(str(d) for d in text_dirs)}; "
            f"and the images as a folder {folders} or a .tar/.zip holding them in one of: "
            f"{', '.join(str(b) for b in bases)}")


def from_flickr8k(config, require=True):
    """Flickr8k from the data folder; with `require=False`, a note (str) when it is not there."""
    root = data_mirror.data_root(config.data_dir)
    if root is None:
        if require:
            raise UsageError(
                f"--dataset flickr8k needs --data-dir or ${data_mirror.ENV_VAR}: a folder holding "
                f"flickr8k/Flickr8k_text/{FLICKR_TOKENS}, the Flickr_8k.*Images.txt split files "
                f"and the images (flickr8k/{FLICKR_IMAGE_FOLDERS[0]}/ or a .tar of it)")
        return (f"no captioning data found (no --data-dir or ${data_mirror.ENV_VAR}); using "
                "generated shapes")
    text_dir, images = find_flickr8k(root)
    if config.images:
        images = config.images
    if text_dir is None or images is None:
        if require:
            lacking = "Flickr8k" if text_dir is None else "the Flickr8k images"
            raise UsageError(f"{root.describe()} lacks {lacking}: expected {_flickr_wanted(root)}")
        found = ("" if text_dir is None
                 else f" (Flickr8k captions in {text_dir}, but no images)")
        return (f"no captioning data found under {root.describe()}{found}; using generated "
                "shapes")
    store = open_store(images, "--images" if config.images else "the Flickr8k images")
    captions = read_flickr_tokens(text_dir / FLICKR_TOKENS, config.skip_bad_lines)
    _drop_missing(captions, store, text_dir / FLICKR_TOKENS)
    splits, found = {}, []
    for split, file in FLICKR_SPLIT_FILES.items():
        listed = list(dict.fromkeys(
            n.strip() for n in text_module.read_lines(text_dir / file, "split file") if n.strip()))
        present = [n for n in listed if store.has(n)]
        names = [n for n in present if n in captions]
        if not names:
            raise UsageError(
                f"the {split} split has no images: none of the {len(listed):,} images listed in "
                f"{text_dir / file} is in {store.describe()} with captions (expected "
                f"{listed[0] if listed else 'their files'} and the others there)")
        splits[split] = CaptionSplit(names, [captions[n] for n in names])
        note = (f", {len(present) - len(names):,} without captions skipped"
                if len(present) > len(names) else "")
        found.append(f"{split} {len(names):,} of {len(listed):,} listed images{note}")
    total = sum(len(c) for s in splits.values() for c in s.captions)
    images_used = sum(len(s) for s in splits.values())
    description = (f"Flickr8k from {text_dir} ({root.origin}), images from {store.describe()}: "
                   f"{'; '.join(found)} ({total:,} captions, "
                   f"{total / images_used:.1f} per image)")
    return CaptionCorpus("flickr8k", description, splits["train"], splits["validation"],
                         splits["test"], store)


def read_flickr_tokens(path, skip_bad_lines=False, what="captions file"):
    """{image name: [captions]} from a `Flickr8k.token.txt` (`name.jpg#k<TAB>caption`).

    Raises:
        UsageError: A line without a tab or with an empty caption or name
            (file and line number), unless `skip_bad_lines` (then counted in
            one warning).
    """
    captions, bad = {}, []
    for number, line in enumerate(text_module.read_lines(path, what), 1):
        if not line.strip():
            continue
        key, tab, caption = line.partition("\t")
        name = key.rpartition("#")[0] if "#" in key else key
        name, caption = name.strip(), caption.strip()
        problem = ("has no tab between the image name and the caption" if not tab
                   else "has an empty image name" if not name
                   else "has an empty caption" if not caption else None)
        if problem:
            bad.append(f"line {number} {problem}")
            if not skip_bad_lines:
                raise UsageError(f"{what} {path}: line {number} {problem} (expected "
                                 "'<image>.jpg#<n><TAB><caption>'; --skip-bad-lines skips such "
                                 "lines)")
            continue
        captions.setdefault(name, []).append(caption)
    _warn_bad_lines(bad, path)
    if not captions:
        raise UsageError(f"{what} {path} holds no captions (expected lines "
                         "'<image>.jpg#<n><TAB><caption>')")
    return captions


def _warn_bad_lines(bad, path, unit="lines"):
    if bad:
        _warn(f"skipped {len(bad):,} malformed {unit} of {path} (first: {bad[0]})")


def _drop_missing(captions, store, source):
    """Drop (in place) the images `store` lacks: one warning with the count; error if none left."""
    missing = [name for name in captions if not store.has(name)]
    if len(missing) == len(captions):
        example = next(iter(captions), "")
        raise UsageError(f"none of the {len(captions):,} images named in {source} is in "
                         f"{store.describe()} (e.g. {example}; expected the image files there)")
    if missing:
        count = sum(len(captions[name]) for name in missing)
        _warn(f"{count:,} captions name images not found in {store.describe()} "
              f"({len(missing):,} images, e.g. {missing[0]}); skipped")
        for name in missing:
            del captions[name]


# ----------------------------------------------------------------- CSV

def from_csv(config):
    """Captions from `--csv` (columns `--image-col`, `--caption-col`), images from `--images`.

    Raises:
        UsageError: Missing file, `--images` or columns, an empty file, rows with
            an empty image or caption (line numbers; `--skip-bad-lines`), bad
            UTF-8, or fewer than 3 images to split.
    """
    if not config.csv:
        raise UsageError("--dataset csv needs --csv FILE (a CSV with a header row and columns "
                         f"{config.image_col!r} and {config.caption_col!r}) and --images "
                         "DIR_OR_TAR")
    path = Path(config.csv).expanduser()
    captions, store = read_csv_captions(path, config.images, config.image_col,
                                        config.caption_col, config.skip_bad_lines)
    names = list(captions)
    if len(names) < 3:
        raise UsageError(f"--csv {path} names {len(names)} image(s) found in "
                         f"{store.describe()}; need at least 3 to split train, validation and "
                         "test by image")
    splits = dict(zip(SPLITS, split_by_image(names)))
    result = {s: CaptionSplit(n, [captions[i] for i in n]) for s, n in splits.items()}
    return CaptionCorpus("csv", f"CSV {path}, images from {store.describe()}: "
                         f"{_counts(result)} (split by image, seed {SPLIT_SEED})",
                         result["train"], result["validation"], result["test"], store)


def read_csv_captions(path, images, image_col="image", caption_col="caption",
                      skip_bad_lines=False):
    """`({image name: [captions]}, store)` from a CSV (several rows per image) and its images.

    Images the store lacks are left out with one warning (`_drop_missing`).

    Raises:
        UsageError: Missing `images` or columns, an empty file, rows with an
            empty image or caption (line numbers; `skip_bad_lines`), bad UTF-8,
            or no image left.
    """
    path = Path(path).expanduser()
    if not images:
        raise UsageError(f"--csv {path} needs --images DIR_OR_TAR: the folder (or .tar/.zip) "
                         "holding the images it names")
    columns = f"columns {image_col!r} and {caption_col!r}"
    text = text_module.read_text(path, "--csv")
    store = open_store(images)
    if not text.strip():
        raise UsageError(f"--csv {path} is empty (expected a header row with {columns}, then "
                         "one row per caption)")
    captions, bad = {}, []
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        header = [h.strip() for h in reader.fieldnames or []]
        reader.fieldnames = header
        missing = [c for c in (image_col, caption_col) if c not in header]
        if missing:
            shown = ", ".join(repr(h) for h in header[:10])
            looks_like_data = any(PurePosixPath(h).suffix.lower() in IMAGE_EXTENSIONS
                                  for h in header)
            hint = ("; its first line looks like data: add a header row" if looks_like_data
                    else "; name them with --image-col and --caption-col")
            raise UsageError(f"--csv {path} has no column "
                             f"{' or '.join(repr(m) for m in missing)} (its columns: {shown})"
                             f"{hint}")
        for row in reader:
            image = (row.get(image_col) or "").strip()
            caption = (row.get(caption_col) or "").strip()
            if not image and not caption and not any((v or "").strip() for v in row.values()
                                                     if isinstance(v, str)):
                continue  # a blank line
            problem = (f"has an empty {image_col!r}" if not image
                       else f"has an empty {caption_col!r}" if not caption else None)
            if problem:
                bad.append(f"line {reader.line_num} {problem}")
                if not skip_bad_lines:
                    raise UsageError(f"--csv {path}: line {reader.line_num} {problem} (every "
                                     f"row needs an image and a caption; --skip-bad-lines "
                                     "skips such rows)")
                continue
            captions.setdefault(image, []).append(caption)
    except csv.Error as error:
        raise UsageError(f"--csv {path} is not a valid CSV file (line {reader.line_num}: "
                         f"{error})") from None
    _warn_bad_lines(bad, path, "rows")
    if not captions:
        raise UsageError(f"--csv {path} has no rows with an image and a caption (expected a "
                         f"header row with {columns}, then one row per caption)")
    _drop_missing(captions, store, path)
    return captions, store


@dataclass
class UserTestSet:
    """A test set of your own (`evaluate --csv` or `--captions`): every image, and its store."""

    name: str  # "csv" or "captions"
    description: str
    split: CaptionSplit
    store: "ImageStore"


def user_test_set(images, csv_path=None, captions_path=None, image_col="image",
                  caption_col="caption", skip_bad_lines=False):
    """Every captioned image of a CSV or a Flickr8k-style captions file, as one test split.

    Args:
        images: The folder or .tar/.zip of the images (`--images`).
        csv_path: A CSV with a header row, one row per caption (`--csv`).
        captions_path: Or lines `<image>#<n><TAB><caption>` (`--captions`,
            the format of Flickr8k.token.txt).

    Raises:
        UsageError: As `read_csv_captions` and `read_flickr_tokens`; both
            files or neither, or no `--images`.
    """
    if csv_path and captions_path:
        raise UsageError("--csv and --captions name two different test sets; give one")
    if not csv_path and not captions_path:
        raise UsageError(f"--images {images} needs its captions: --csv FILE or --captions FILE")
    if csv_path:
        path = Path(csv_path).expanduser()
        captions, store = read_csv_captions(path, images, image_col, caption_col,
                                            skip_bad_lines)
        name, what = "csv", f"CSV {path}"
    else:
        path = Path(captions_path).expanduser()
        if not images:
            raise UsageError(f"--captions {path} needs --images DIR_OR_TAR: the folder (or "
                             ".tar/.zip) holding the images it names")
        captions = read_flickr_tokens(path, skip_bad_lines, what="--captions")
        store = open_store(images)
        _drop_missing(captions, store, path)
        name, what = "captions", f"captions file {path}"
    split = CaptionSplit(list(captions), list(captions.values()))
    count = sum(map(len, split.captions))
    return UserTestSet(name, f"{what} as the test set, images from {store.describe()}: "
                             f"{len(split):,} images ({count:,} captions)", split, store)


def split_by_image(names):
    """(train, validation, test) lists of names: 80/10/10 with `SPLIT_SEED`, >= 1 each for >= 3."""
    order = np.random.default_rng(SPLIT_SEED).permutation(len(names))
    held_out = max(1, int(round(len(names) * CSV_HELD_OUT_FRACTION)))
    test, validation, train = np.split(order, [held_out, 2 * held_out])
    return tuple([names[i] for i in part] for part in (train, validation, test))


def _counts(splits):
    return ", ".join(f"{s} {len(splits[s]):,} images ({sum(map(len, splits[s].captions)):,} "
                     "captions)" for s in SPLITS)


# ----------------------------------------------------------------- Karpathy JSON

def from_karpathy(config):
    """Captions and splits from a Karpathy JSON (`restval` joins train), images from `--images`.

    Raises:
        UsageError: Missing `--images`, bad JSON, missing keys, unknown splits,
            empty captions (`--skip-bad-lines`), or a split without images.
    """
    path = Path(config.karpathy_json).expanduser()
    if not config.images:
        raise UsageError(f"--karpathy-json {path} needs --images DIR_OR_TAR: the folder (or "
                         ".tar/.zip) holding the images it names")
    text = text_module.read_text(path, "--karpathy-json")
    store = open_store(config.images)
    expected = ('expected {"images": [{"filename": ..., "split": "train"|"val"|"test"|'
                '"restval", "sentences": [{"raw": ...}, ...]}, ...]}')
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise UsageError(f"--karpathy-json {path} is not valid JSON: {error.msg} at line "
                         f"{error.lineno} column {error.colno} ({expected})") from None
    entries = document.get("images") if isinstance(document, dict) else None
    if not isinstance(entries, list) or not entries:
        raise UsageError(f"--karpathy-json {path} has no list under \"images\" ({expected})")
    captions, split_of, bad = {}, {}, []
    for number, entry in enumerate(entries):
        where = f"--karpathy-json {path}: images[{number}]"
        if not isinstance(entry, dict):
            raise UsageError(f"{where} is not an object ({expected})")
        for key in ("filename", "split", "sentences"):
            if key not in entry:
                raise UsageError(f"{where} has no {key!r} ({expected})")
        if entry["split"] not in KARPATHY_SPLITS:
            raise UsageError(f"{where} has split {entry['split']!r} (expected one of "
                             f"{', '.join(KARPATHY_SPLITS)})")
        if not isinstance(entry["sentences"], list):
            raise UsageError(f"{where}: 'sentences' is not a list ({expected})")
        name = str(entry["filename"])
        if entry.get("filepath"):  # COCO: val2014/COCO_val2014_....jpg
            name = f"{entry['filepath']}/{name}"
        texts = []
        for index, sentence in enumerate(entry["sentences"]):
            if not isinstance(sentence, dict) or "raw" not in sentence:
                raise UsageError(f"{where}.sentences[{index}] has no 'raw' ({expected})")
            raw = str(sentence["raw"]).strip()
            if not raw:
                bad.append(f"images[{number}].sentences[{index}] is empty")
                if not config.skip_bad_lines:
                    raise UsageError(f"{where}.sentences[{index}] has an empty 'raw' caption "
                                     "(--skip-bad-lines skips such captions)")
                continue
            texts.append(raw)
        if texts:
            captions.setdefault(name, []).extend(texts)
            split_of[name] = KARPATHY_SPLITS[entry["split"]]
    _warn_bad_lines(bad, path, "captions")
    if not captions:
        raise UsageError(f"--karpathy-json {path} holds no captions ({expected})")
    _drop_missing(captions, store, path)
    result = {}
    for split in SPLITS:
        names = [n for n in captions if split_of[n] == split]
        if not names:
            raise UsageError(f"the {split} split of --karpathy-json {path} has no images in "
                             f"{store.describe()} (expected the files its entries name there)")
        result[split] = CaptionSplit(names, [captions[n] for n in names])
    return CaptionCorpus("karpathy", f"Karpathy JSON {path}, images from {store.describe()}: "
                         f"{_counts(result)}", result["train"], result["validation"],
                         result["test"], store)


# ----------------------------------------------------------------- tfds coco_captions

def _coco_builder():
    import tensorflow_datasets as tfds

    return tfds.builder("coco_captions")


def from_coco():
    """tfds `coco_captions` (Karpathy splits; restval joins train), only if already prepared.

    The records are indexed once (image name -> file and offset); `store.load`
    then reads each image's encoded JPEG bytes straight from its record, so
    nothing is decoded until asked for and nothing is ever downloaded.

    Raises:
        UsageError: If it is not prepared (saying how to prepare it).
    """
    absl_logger = logging.getLogger("absl")
    previous_level = absl_logger.level
    absl_logger.setLevel(logging.ERROR)
    try:
        try:
            builder = _coco_builder()
            prepared = builder.is_prepared()
        except Exception as error:  # noqa: BLE001 - a broken tfds install is the user's to fix
            raise UsageError(f"--dataset coco: tensorflow-datasets cannot open 'coco_captions' "
                             f"({error})") from None
        if not prepared:
            raise UsageError(
                f"--dataset coco: tfds 'coco_captions' is not prepared in {builder.data_dir} "
                "(this app never starts its ~20 GB download); prepare it once with `tfds build "
                "coco_captions`, or use --dataset flickr8k, --csv or --karpathy-json")
        file_format = str(getattr(builder.info, "file_format", "tfrecord")).lower()
        if "tfrecord" not in file_format:
            raise UsageError(f"--dataset coco: 'coco_captions' in {builder.data_dir} is stored "
                             f"as {file_format}; this app reads tfrecord (rebuild it with "
                             "`tfds build coco_captions --file_format tfrecord`)")
        locations, result = {}, {}
        for split, tfds_splits in COCO_SPLITS.items():
            names, captions = [], []
            for tfds_split in tfds_splits:
                for file in builder.info.splits[tfds_split].filepaths:
                    for offset, record in _read_tfrecords(str(file)):
                        feature = _parse_example(record).features.feature
                        name = feature["image/filename"].bytes_list.value[0].decode("utf-8")
                        texts = [t.decode("utf-8").strip()
                                 for t in feature["captions/text"].bytes_list.value]
                        texts = [t for t in texts if t]
                        if name in locations or not texts:
                            continue
                        locations[name] = (str(file), offset, len(record))
                        names.append(name)
                        captions.append(texts)
            result[split] = CaptionSplit(names, captions)
    finally:
        absl_logger.setLevel(previous_level)
    identity = f"coco_captions:{builder.info.version}:{builder.data_dir}"
    store = TFRecordStore(locations, "image", identity, f"tfds coco_captions records in "
                          f"{builder.data_dir}")
    return CaptionCorpus("coco", f"COCO captions (tfds, Karpathy splits) from "
                         f"{builder.data_dir}: {_counts(result)}", result["train"],
                         result["validation"], result["test"], store)


def _read_tfrecords(path):
    """(offset, record bytes) for each record of an uncompressed TFRecord file (CRCs unchecked)."""
    with open(path, "rb") as handle:
        while True:
            header = handle.read(12)  # uint64 length, uint32 masked CRC of the length
            if not header:
                return
            if len(header) < 12:
                raise UsageError(f"TFRecord file {path} is truncated (rebuild the dataset)")
            (length,) = struct.unpack("<Q", header[:8])
            offset = handle.tell()
            record = handle.read(length)
            if len(record) < length or len(handle.read(4)) < 4:
                raise UsageError(f"TFRecord file {path} is truncated (rebuild the dataset)")
            yield offset, record


def _parse_example(record):
    from tensorflow.core.example import example_pb2

    return example_pb2.Example.FromString(record)


# ----------------------------------------------------------------- generated shapes

def from_shapes(config, note=None):
    """`config.shapes_images` generated images (seed `SHAPES_SEED`), split 80/10/10 in order."""
    from apps.captioning import shapes

    count = config.shapes_images
    size = config.image_size or 64
    most = config.shapes_max
    pixels, references = shapes.generate(count, image_size=size, max_shapes=most,
                                         seed=SHAPES_SEED)
    names = [f"shape_{i:05d}.png" for i in range(count)]
    version = getattr(shapes, "VERSION", 1)
    store = ArrayStore(pixels, names, f"shapes:v{version}:{SHAPES_SEED}:{count}:{most}",
                       f"{count:,} generated shapes images ({size}x{size})")
    n_train = int(count * SHAPES_FRACTIONS[0])
    n_val = int(count * SHAPES_FRACTIONS[1])
    bounds = [(0, n_train), (n_train, n_train + n_val), (n_train + n_val, count)]
    # Training and validation keep the canonical wording only (left to right, top to
    # bottom): taught both ends at once, the decoder's first look splits between the two
    # end shapes and mixes their colours and kinds. The test split keeps every correct
    # wording as a reference.
    result = {split: CaptionSplit(names[a:b], [list(r) if split == "test" else [r[0]]
                                               for r in references[a:b]])
              for split, (a, b) in zip(SPLITS, bounds)}
    description = (f"{note or 'generated shapes'} (seed {SHAPES_SEED}, {size}x{size}): "
                   f"{_counts(result)}")
    return CaptionCorpus("shapes", description, result["train"], result["validation"],
                         result["test"], store)
