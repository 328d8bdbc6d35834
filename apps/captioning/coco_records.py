"""tfds `coco_captions`, read only when already prepared, and the store reading its images.

The records are indexed once (image name -> file and offset); `TFRecordStore`
then reads each image's encoded JPEG bytes straight from its record, so
nothing is decoded until asked for and nothing is ever downloaded.

The records are framed here (`_read_tfrecords`) rather than read through
`tfds`/`tf.data`: those stream a split from its start, while the feature
cache asks for images in chunks, anywhere in the split; tfds's random access
(`as_data_source`) needs ArrayRecord files, and a prepared `coco_captions` is
TFRecord.
"""

import logging
import struct

from apps.captioning.caption_corpus import CaptionCorpus, CaptionSplit, describe_counts
from apps.captioning.image_stores import ImageStore
from apps.common.errors import UsageError

COCO_SPLITS = {"train": ("train", "restval"), "validation": ("val",), "test": ("test",)}


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
                         f"{builder.data_dir}: {describe_counts(result)}", result["train"],
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
