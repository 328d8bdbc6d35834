"""The captioned images the commands read: `load` (training and the run's own data) and
`user_test_set` (`evaluate --csv` / `--captions`).

`load` checks that the flags name one source, then reads it
(`caption_sources.py`: flickr8k, csv, karpathy, shapes; `coco_records.py`:
tfds coco_captions) into a `CaptionCorpus` (`caption_corpus.py`), whose
`ImageStore` (`image_stores.py`) turns image names into pixels. With no
source named, it reads Flickr8k from the data folder, else generated shapes.

Bad input is a `UsageError` (one line: the file, the line, what was expected).
`pipeline` makes the tf.data input of training from a split's images (or their
features) and captions.
"""

from dataclasses import dataclass
from pathlib import Path

from apps.captioning import caption_sources, coco_records
from apps.captioning.caption_corpus import CaptionSplit
from apps.captioning.caption_sources import drop_missing, read_csv_captions, read_flickr_tokens
from apps.captioning.image_stores import ImageStore, open_store
from apps.common.errors import UsageError


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
        corpus = caption_sources.from_csv(config)
    elif dataset == "karpathy":
        corpus = caption_sources.from_karpathy(config)
    elif dataset == "coco":
        corpus = coco_records.from_coco()
    elif dataset == "shapes":
        corpus = caption_sources.from_shapes(config)
    elif dataset == "flickr8k":
        corpus = caption_sources.from_flickr8k(config, require=True)
    else:
        corpus = caption_sources.from_flickr8k(config, require=False)
        if isinstance(corpus, str):
            if config.images:
                raise UsageError(f"--images {config.images} needs its captions: --csv FILE, "
                                 "--karpathy-json FILE, or Flickr8k's text files under "
                                 f"--data-dir ({corpus.split(';')[0]})")
            corpus = caption_sources.from_shapes(config, note=corpus)
    return corpus.limited(config.limit)


@dataclass
class UserTestSet:
    """A test set of your own (`evaluate --csv` or `--captions`): every image, and its store."""

    name: str  # "csv" or "captions"
    description: str
    split: CaptionSplit
    store: ImageStore


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
        drop_missing(captions, store, path)
        name, what = "captions", f"captions file {path}"
    split = CaptionSplit(list(captions), list(captions.values()))
    count = sum(map(len, split.captions))
    return UserTestSet(name, f"{what} as the test set, images from {store.describe()}: "
                             f"{len(split):,} images ({count:,} captions)", split, store)


def pipeline(model, array, split, input_name, batch_size, shuffle=False, seed=0):
    """A tf.data pipeline of ({input_name: array rows, "caption": strings}, labels [B, T+1]).

    One example per (image, reference caption) pair; the array (features or
    pixels) is gathered per batch from memory, the labels come from the
    model's own vectoriser, cut as the model cuts captions.
    """
    import numpy as np
    import tensorflow as tf

    from apps.captioning import model as model_module
    from apps.common import teacher_forcing

    parts = model_module.parts_of(model) if "image" in model.input else None
    get = (parts.decoder_model if parts else model).get_layer
    vectorizer, truncate = get("caption_vectorizer"), get("truncate")
    index = [i for i, refs in enumerate(split.captions) for _ in refs]
    captions = [c for refs in split.captions for c in refs]
    dataset = tf.data.Dataset.from_tensor_slices((np.asarray(index, np.int32), captions))
    if shuffle:
        dataset = dataset.shuffle(len(captions), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size)
    row_shape = array.shape[1:]

    def gather(rows):
        return array[rows].astype(np.float32)

    def with_labels(rows, text):
        values = tf.numpy_function(gather, [rows], tf.float32)
        values.set_shape((None, *row_shape))
        labels = teacher_forcing.teacher_forcing_ids(truncate(vectorizer(text)))[1]
        return {input_name: values, "caption": text}, labels

    return dataset.map(with_labels, num_parallel_calls=tf.data.AUTOTUNE).prefetch(
        tf.data.AUTOTUNE)
