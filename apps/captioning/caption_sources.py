"""The caption datasets (`--dataset`), each read into a `CaptionCorpus`.

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
- **shapes**: generated coloured shapes with grammar captions (`shapes.py`);
  the embedded default when no other data is found, which the description says.
- (**coco**, tfds `coco_captions`, is in `coco_records.py`.)

Also the two caption file readers that `evaluate --csv` / `--captions` share
(`read_csv_captions`, `read_flickr_tokens`).

Lines that are malformed are a `UsageError` (the file, the line, what was
expected) unless `--skip-bad-lines` (then counted in one warning); captions
naming images that are not there are counted and skipped with one warning on
stderr, an error only when nothing is left (`drop_missing`).
"""

import csv
import io
import json
import sys
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

import numpy as np

from apps.captioning.caption_corpus import SPLITS, CaptionCorpus, CaptionSplit, describe_counts
from apps.captioning.image_stores import IMAGE_EXTENSIONS, ArrayStore, open_store
from apps.common import data_mirror
from apps.common import text as text_module
from apps.common.errors import UsageError

SPLIT_SEED = 0  # the CSV split by image: fixed, independent of --seed
SHAPES_SEED = 1234  # generated shapes: the same images for every run
SHAPES_FRACTIONS = (0.8, 0.1)  # train, validation; test is the rest
CSV_HELD_OUT_FRACTION = 0.1  # of the images, for validation and again for test

FLICKR_SUBFOLDERS = ("flickr8k", ".")
FLICKR_TEXT_FOLDERS = ("Flickr8k_text", ".")
FLICKR_IMAGE_FOLDERS = ("Flicker8k_Dataset", "Flickr8k_Dataset")
FLICKR_TOKENS = "Flickr8k.token.txt"
FLICKR_SPLIT_FILES = {"train": "Flickr_8k.trainImages.txt",
                      "validation": "Flickr_8k.devImages.txt",
                      "test": "Flickr_8k.testImages.txt"}
KARPATHY_SPLITS = {"train": "train", "restval": "train", "val": "validation",
                   "test": "test"}


def _warn(message):
    print(f"warning: {message}", file=sys.stderr, flush=True)


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
    drop_missing(captions, store, text_dir / FLICKR_TOKENS)
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


def drop_missing(captions, store, source):
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
                         f"{describe_counts(result)} (split by image, seed {SPLIT_SEED})",
                         result["train"], result["validation"], result["test"], store)


def read_csv_captions(path, images, image_col="image", caption_col="caption",
                      skip_bad_lines=False):
    """`({image name: [captions]}, store)` from a CSV (several rows per image) and its images.

    Images the store lacks are left out with one warning (`drop_missing`).

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
    drop_missing(captions, store, path)
    return captions, store


def split_by_image(names):
    """(train, validation, test) lists of names: 80/10/10 with `SPLIT_SEED`, >= 1 each for >= 3."""
    order = np.random.default_rng(SPLIT_SEED).permutation(len(names))
    held_out = max(1, int(round(len(names) * CSV_HELD_OUT_FRACTION)))
    test, validation, train = np.split(order, [held_out, 2 * held_out])
    return tuple([names[i] for i in part] for part in (train, validation, test))


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
    drop_missing(captions, store, path)
    result = {}
    for split in SPLITS:
        names = [n for n in captions if split_of[n] == split]
        if not names:
            raise UsageError(f"the {split} split of --karpathy-json {path} has no images in "
                             f"{store.describe()} (expected the files its entries name there)")
        result[split] = CaptionSplit(names, [captions[n] for n in names])
    return CaptionCorpus("karpathy", f"Karpathy JSON {path}, images from {store.describe()}: "
                         f"{describe_counts(result)}", result["train"], result["validation"],
                         result["test"], store)


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
                   f"{describe_counts(result)}")
    return CaptionCorpus("shapes", description, result["train"], result["validation"],
                         result["test"], store)
