"""The bad-input catalogue: every app command against the bad inputs people actually give it.

Each row of `CATALOGUE` is one case: an id, the command line (after `rnn-suite`),
a distinctive part of the expected message, and optionally the names of the
`setup_*` functions that make its bad files (several joined by "+"). Adding a
case is adding one line.

Every case must give, as promised in docs/apps.md ("Bad input"):
- exit status 2, and no traceback anywhere;
- exactly one line on stderr, `rnn-suite ...: error: ...`, holding the expected text;
- no file written: the case runs in a fresh working folder (which holds every
  file it names and every folder it could write, the feature cache included),
  and that folder is the same after the command as before; no `runs/` appears.

The commands run in this process (`apps.cli.main`), so TensorFlow is imported
once for the whole catalogue rather than once per case.
"""

import gzip
import io
import json
import os
import subprocess
import tarfile
import zipfile

import numpy as np
import pytest

from apps import cli
from apps.common.quiet_tensorflow import import_tensorflow_quietly

# A CSV of reviews good enough to train on (two labels, >= 10 rows).
REVIEWS = "text,label\n" + "".join(
    f"{'a great and wonderful film' if i % 2 else 'a dull and awful film'} {i},{i % 2}\n"
    for i in range(20))
LATIN1 = "caf\u00e9 con leche, s\u00ed se\u00f1or".encode("latin-1")  # not UTF-8
PAIRS = "".join(f"Sentence {i}.\tFrase {i}.\n" for i in range(10))
TUNE_SEARCH = ["--tuner", "random", "--max-trials", "1", "--max-epochs", "1"]
DIGITS = ["--source", "digits", "--mode", "row", "--units", "4", "--limit", "50"]
WORKERS = "127.0.0.1:2222,127.0.0.1:2223"  # a --workers list that parses
# A captioner that is quick to build (the data decides whether it trains).
TINY_CAPTIONER = ["--encoder", "cnn", "--image-size", "8", "--units", "2", "--embedding-dim", "2",
                  "--attention-units", "2", "--min-count", "1", "--epochs", "1", "--meteor", "off"]
CAPTIONING_RUN_CONFIG = {"dataset": "shapes", "shapes_images": 30, "encoder": "cnn",
                         "image_size": 16, "meteor": "off"}


# ----------------------------------------------------------------- setups (bad files)
# Each `setup_NAME(work, live_pid)` writes files into the working folder `work`;
# `live_pid()` is the id of a live process that is not this one. A setup may
# return environment variables ({name: value}) that the case runs with.

def _write(path, content):
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


def _png(path, size=16, mode="RGB"):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = (np.arange(size * size * 3).reshape(size, size, 3) % 251).astype(np.uint8)
    image = Image.fromarray(pixels, "RGB")
    (image.convert(mode) if mode != "RGB" else image).save(path)
    return path


def _npz(path, **arrays):
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return _write(path, buffer.getvalue())


def _mnist_arrays(size=28):
    x = np.zeros((20, size, size), np.uint8)
    y = np.arange(20) % 10
    return dict(x_train=x, y_train=y, x_test=x, y_test=y)


def _tar_gz(path, members):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, text in members.items():
            data = text.encode("utf-8")
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return _write(path, buffer.getvalue())


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])


def _run(folder, config, model=b""):
    """A run folder: config.json (None: none), and model.keras holding `model` (None: none)."""
    folder.mkdir(parents=True, exist_ok=True)
    if config is not None:
        _write(folder / "config.json", json.dumps(config))
    if model is not None:
        _write(folder / "model.keras", model)
    return folder


def _random_bytes(count=4096):
    return np.random.default_rng(0).integers(0, 256, count, dtype=np.uint8).tobytes()


def _junk_zip():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("config.json", "{not json")
        archive.writestr("model.weights.h5", _random_bytes(256))
    return buffer.getvalue()


def setup_empty_dir(work, live_pid):
    (work / "empty").mkdir()


def setup_npz_truncated(work, live_pid):
    _truncate(_npz(work / "data" / "mnist.npz", **_mnist_arrays()))


def setup_npz_text(work, live_pid):
    _write(work / "data" / "mnist.npz", "x_train,y_train\n1,2\n")


def setup_npz_wrong_keys(work, live_pid):
    _npz(work / "data" / "mnist.npz", images=np.zeros((4, 28, 28)), labels=np.zeros(4))


def setup_npz_wrong_shape(work, live_pid):
    # Its own folder name: mnist.data caches the arrays it read by path, in this process.
    _npz(work / "data32" / "mnist.npz", **_mnist_arrays(size=32))


def setup_idx_not_gzip(work, live_pid):
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                 "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        _write(work / "data" / f"{name}.gz", "these are not gzipped IDX files")


def setup_imdb_truncated(work, live_pid):
    reviews = {f"aclImdb/{split}/{label}/{i}_7.txt": "a review " * 200
               for split in ("train", "test") for label in ("pos", "neg") for i in range(20)}
    _truncate(_tar_gz(work / "data" / "aclImdb_v1.tar.gz", reviews))


def setup_imdb_corrupt(work, live_pid):
    reviews = {f"aclImdb/{split}/{label}/{i}_7.txt": f"review {i} " * 200
               for split in ("train", "test") for label in ("pos", "neg") for i in range(20)}
    path = _tar_gz(work / "data" / "aclImdb_v1.tar.gz", reviews)
    data = bytearray(path.read_bytes())
    data[len(data) // 3:len(data) // 3 + 64] = bytes(64)  # a zeroed block inside the stream
    path.write_bytes(bytes(data))


def setup_imdb_no_pos(work, live_pid):
    _tar_gz(work / "data" / "aclImdb_v1.tar.gz",
            {f"aclImdb/{split}/neg/{i}_2.txt": "a dull film" for split in ("train", "test")
             for i in range(3)})


def setup_reviews_csv(work, live_pid):
    _write(work / "reviews.csv", REVIEWS)


def setup_csv_latin1(work, live_pid):
    _write(work / "reviews.csv", b"text,label\n" + LATIN1 + b",1\n")


def setup_csv_three_labels(work, live_pid):
    _write(work / "reviews.csv", "text,label\n" + "".join(
        f"review number {i},{['pos', 'neg', 'meh'][i % 3]}\n" for i in range(30)))


def setup_csv_no_text_column(work, live_pid):
    _write(work / "reviews.csv", "review,label\n" + "".join(f"film {i},{i % 2}\n"
                                                             for i in range(20)))


def setup_csv_empty(work, live_pid):
    _write(work / "reviews.csv", "")


def setup_csv_few_rows(work, live_pid):
    _write(work / "reviews.csv", "text,label\ngood,1\nbad,0\n")


def setup_csv_empty_label(work, live_pid):
    _write(work / "reviews.csv", "text,label\ngood film,1\nbad film,\n")


def setup_pairs_no_tabs(work, live_pid):
    _write(work / "pairs.txt", "Hello.    Hola.\nThanks.    Gracias.\n")


def setup_pairs_empty(work, live_pid):
    _write(work / "pairs.txt", "")


def setup_pairs_latin1(work, live_pid):
    _write(work / "pairs.txt", b"Coffee with milk.\t" + LATIN1 + b"\n")


def setup_pairs_truncated_gz(work, live_pid):
    path = _write(work / "pairs.txt.gz", gzip.compress((PAIRS * 50).encode()))
    _truncate(path)


def setup_pairs_corrupt_gz(work, live_pid):
    data = bytearray(gzip.compress(("".join(f"Sentence {i}.\tFrase {i}.\n"
                                            for i in range(2000))).encode()))
    data[len(data) // 2:len(data) // 2 + 64] = bytes(64)
    _write(work / "pairs.txt.gz", bytes(data))


def setup_pairs_two(work, live_pid):
    _write(work / "pairs.txt", "Hello.\tHola.\nThanks.\tGracias.\n")


def setup_images(work, live_pid):
    for i in range(4):
        _png(work / "imgs" / f"{i}.png")


def setup_caption_csv_latin1(work, live_pid):
    setup_images(work, live_pid)
    _write(work / "captions.csv", b"image,caption\n0.png," + LATIN1 + b"\n")


def setup_caption_csv_no_caption_column(work, live_pid):
    setup_images(work, live_pid)
    _write(work / "captions.csv", "image,text\n0.png,a dog\n1.png,a cat\n")


def setup_caption_csv_unknown_images(work, live_pid):
    setup_images(work, live_pid)
    _write(work / "captions.csv", "image,caption\nx.png,a dog\ny.png,a cat\nz.png,a cow\n")


def setup_caption_csv(work, live_pid):
    _write(work / "captions.csv", "image,caption\n" + "".join(
        f"{i}.png,a picture number {i}\n" for i in range(4)))


def setup_caption_csv_text_png_train(work, live_pid):
    setup_images(work, live_pid)
    setup_caption_csv(work, live_pid)
    _write(work / "imgs" / "1.png", "I am a text file, not a picture")  # in the train split


def setup_caption_csv_text_png_test(work, live_pid):
    setup_images(work, live_pid)
    setup_caption_csv(work, live_pid)
    _write(work / "imgs" / "2.png", "I am a text file, not a picture")  # in the test split


def setup_flickr_tokens_no_tab(work, live_pid):
    text = work / "data" / "flickr8k" / "Flickr8k_text"
    _write(text / "Flickr8k.token.txt", "0.jpg#0 a dog runs on the grass\n")
    for name in ("trainImages", "devImages", "testImages"):
        _write(text / f"Flickr_8k.{name}.txt", "0.jpg\n")
    _png(work / "data" / "flickr8k" / "Flicker8k_Dataset" / "0.jpg")


def setup_karpathy_not_json(work, live_pid):
    setup_images(work, live_pid)
    _write(work / "karpathy.json", '{"images": [{"filename": "0.png", ')


def setup_caption_csv_empty(work, live_pid):
    setup_images(work, live_pid)
    _write(work / "captions.csv", "")


def setup_captions_tokens(work, live_pid):
    setup_images(work, live_pid)
    _write(work / "tokens.txt", "0.png#0\ta picture\n1.png#0\tanother picture\n")


def setup_captions_tokens_no_tab(work, live_pid):
    setup_images(work, live_pid)
    _write(work / "tokens.txt", "0.png#0 a picture without a tab\n")


def setup_csv_header_only(work, live_pid):
    _write(work / "reviews.csv", "text,label\n")


def setup_csv_other_labels(work, live_pid):
    _write(work / "reviews.csv", "text,label\n" + "".join(
        f"review number {i},{['meh', 'wow'][i % 2]}\n" for i in range(6)))


def setup_sentiment_tiny_run(work, live_pid):
    """A real (untrained) sentiment model whose classes are neg and pos: labels are checked."""
    from apps.sentiment import model as model_module
    from apps.sentiment.config import SentimentConfig

    config = SentimentConfig(vocab_size=4, max_length=4, embedding_dim=2, units=2,
                             attention_units=2, layers=1)
    model = model_module.build_model(config, ["", "[UNK]", "good", "bad"], ("neg", "pos"))
    _run(work / "run", {"text_col": "text", "label_col": "label"}, model=None)
    model.save(work / "run" / "model.keras")


def setup_test_sentences(work, live_pid):
    _write(work / "test.src", "ba ko.\nmi tu.\nze lo.\n")
    _write(work / "test.ref", "ko ba.\ntu mi.\nlo ze.\n")
    _write(work / "short.ref", "ko ba.\ntu mi.\n")
    _write(work / "empty.src", "\n\n")


def setup_text_file(work, live_pid):
    _write(work / "notes.txt", "just some notes\n")


def setup_text_png(work, live_pid):
    _write(work / "digit.png", "I am a text file called digit.png\n")


def setup_bomb_png(work, live_pid):
    # A valid PNG header that claims 20,000 x 20,000 pixels (over Pillow's bomb limit).
    import struct
    import zlib

    def chunk(kind, body):
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", 20000, 20000, 8, 2, 0, 0, 0)
    _write(work / "digit.png", b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
           + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


def setup_truncated_png(work, live_pid):
    path = _png(work / "digit.png", size=64)
    _truncate(path)


def setup_image(work, live_pid):
    _png(work / "digit.png", size=28, mode="L")


def setup_latin1_txt(work, live_pid):
    _write(work / "input.txt", LATIN1 + b"\n")


def setup_empty_txt(work, live_pid):
    _write(work / "input.txt", "\n\n")


def setup_binary_txt(work, live_pid):
    _write(work / "input.txt", b"PK\x03\x04\x00\x00binary\x00")


def setup_reviews_csv_char_lm(work, live_pid):
    setup_reviews_csv(work, live_pid)
    _run(work / "charlm", {"tokenizer": "char", "window": 70, "cell": "gru", "units": 8,
                           "layers": 1, "embedding_dim": 8})


def setup_reviews_csv_mnist_run(work, live_pid):
    setup_reviews_csv(work, live_pid)
    _run(work / "mnistrun", {"mode": "row", "units": 8})


def setup_mnist_run(work, live_pid):
    _run(work / "mnistrun", {"mode": "row", "units": 8})


def setup_reviews_csv_binary_txt(work, live_pid):
    setup_reviews_csv(work, live_pid)
    setup_binary_txt(work, live_pid)


def setup_reviews_csv_empty_dir(work, live_pid):
    setup_reviews_csv(work, live_pid)
    setup_empty_dir(work, live_pid)


def setup_empty_text_dir(work, live_pid):
    (work / "texts").mkdir()
    _write(work / "texts" / "notes.md", "not a .txt file")


def setup_old_export(work, live_pid):
    _write(work / "run" / "export" / "saved_model.pb", _random_bytes(64))


def setup_config_only_run(work, live_pid):
    _run(work / "run", {"units": 8}, model=None)


def setup_mnist_garbage_run(work, live_pid):
    _run(work / "run", {"source": "digits", "mode": "row"}, _random_bytes())


def setup_mnist_junk_zip_run(work, live_pid):
    _run(work / "run", {"source": "digits", "mode": "row"}, _junk_zip())


def setup_sentiment_garbage_run(work, live_pid):
    setup_reviews_csv(work, live_pid)
    _run(work / "run", {"csv": "reviews.csv", "source": "csv"}, _random_bytes())


def setup_translation_garbage_run(work, live_pid):
    _run(work / "run", {"dataset": "generated"}, _random_bytes())


def setup_model_without_config(work, live_pid):
    _run(work / "run", None, _random_bytes())


def setup_captioning_garbage_run(work, live_pid):
    _run(work / "run", CAPTIONING_RUN_CONFIG, _random_bytes())


def setup_captioning_run_bad_config(work, live_pid):
    _run(work / "run", None, _random_bytes())
    _write(work / "run" / "config.json", "{units: 8")


def setup_mnist_run_for_captioning(work, live_pid):
    # Another app's run: its config.json has none of captioning's image settings.
    _run(work / "run", {"source": "digits", "mode": "row", "cell": "gru", "units": 12},
         _random_bytes())


def setup_config_not_json(work, live_pid):
    _write(work / "settings.json", "units = 64\n")


def setup_config_list(work, live_pid):
    _write(work / "settings.json", "[64, 128]")


def setup_config_unknown(work, live_pid):
    _write(work / "settings.json", '{"unitz": 64, "epochs": 2}')


def setup_config_wrong_type(work, live_pid):
    _write(work / "settings.json", '{"units": "many"}')


def setup_config_zero(work, live_pid):
    _write(work / "settings.json", '{"units": 0}')


def setup_config_latin1(work, live_pid):
    _write(work / "settings.json", b'{"source_lang": "' + LATIN1 + b'"}')


def setup_config_distribute_foo(work, live_pid):
    _write(work / "settings.json", '{"distribute": "ring"}')


def setup_config_null(work, live_pid):
    _write(work / "settings.json", '{"epochs": null}')


def setup_locked_run(work, live_pid):
    _run(work / "run", None, model=None)
    _write(work / "run" / "train.lock", str(live_pid()))


def setup_finished_run(work, live_pid):
    _run(work / "run", {}, model=None)
    _write(work / "run" / "metrics.json", "{}")


def setup_interrupted_other_run(work, live_pid):
    _run(work / "run", {"source": "digits", "mode": "pixel", "units": 300}, model=None)


def setup_space_unknown(work, live_pid):
    _write(work / "space.json", '{"unitz": [64, 128]}')


def setup_space_distribute(work, live_pid):
    _write(work / "space.json", '{"distribute": "mirrored"}')


def setup_space_empty_range(work, live_pid):
    _write(work / "space.json", '{"learning_rate": {"min": 0.1, "max": 0.01}}')


def setup_space_list(work, live_pid):
    _write(work / "space.json", '["units", "cell"]')


def setup_space_latin1(work, live_pid):
    _write(work / "space.json", b'{"cell": "' + LATIN1 + b'"}')


def _tf_config(value):
    return {"TF_CONFIG": value if isinstance(value, str) else json.dumps(value)}


def setup_tf_config_not_json(work, live_pid):
    return _tf_config('{"cluster": {"worker": ["a:2222"]}, "task": ')


def setup_tf_config_no_task(work, live_pid):
    return _tf_config({"cluster": {"worker": ["127.0.0.1:2222", "127.0.0.1:2223"]}})


def setup_tf_config_index_out_of_range(work, live_pid):
    return _tf_config({"cluster": {"worker": ["127.0.0.1:2222", "127.0.0.1:2223"]},
                       "task": {"type": "worker", "index": 2}})


def setup_tf_config_no_port(work, live_pid):
    return _tf_config({"cluster": {"worker": ["127.0.0.1", "127.0.0.1:2223"]},
                       "task": {"type": "worker", "index": 0}})


def setup_tf_config_ps(work, live_pid):
    return _tf_config({"cluster": {"worker": ["a:2222"], "ps": ["b:2222"]},
                       "task": {"type": "worker", "index": 0}})


def setup_tf_config_list(work, live_pid):
    return _tf_config(["127.0.0.1:2222"])


def setup_tf_config_valid(work, live_pid):
    return _tf_config({"cluster": {"worker": ["127.0.0.1:2222", "127.0.0.1:2223"]},
                       "task": {"type": "worker", "index": 0}})


# ----------------------------------------------------------------- the catalogue

CATALOGUE = [
    # id, argv, expected part of the message, setup (names joined by "+") or None
    # --- the command line itself
    ("no-app", [], "required: APP", None),
    ("unknown-app", ["speech", "train"], "invalid choice: 'speech'", None),
    ("missing-command", ["mnist"], "required: COMMAND", None),
    ("unknown-command", ["sentiment", "fit"], "invalid choice: 'fit'", None),
    ("unknown-flag", ["mnist", "train", "--unitz", "3"], "unrecognized arguments: --unitz", None),
    ("flag-without-value", ["translation", "train", "--units"], "expected one argument", None),
    ("captioning-no-layers-flag", ["captioning", "train", "--layers", "2"],
     "unrecognized arguments: --layers", None),
    # --- the common training flags (each app, each flag)
    ("units-0", ["mnist", "train", "--units", "0"], "--units must be a positive integer, got 0",
     None),
    ("units-negative", ["sentiment", "train", "--units", "-3"],
     "--units must be a positive integer, got -3", None),
    ("units-abc", ["translation", "train", "--units", "abc"], "expected an integer, got 'abc'",
     None),
    ("units-float", ["captioning", "train", "--units", "1.5"], "expected an integer, got '1.5'",
     None),
    ("layers-0", ["sentiment", "train", "--layers", "0"], "--layers must be a positive integer",
     None),
    ("epochs-0", ["translation", "train", "--epochs", "0"], "--epochs must be a positive integer",
     None),
    ("batch-size-0", ["captioning", "train", "--batch-size", "0"],
     "--batch-size must be a positive integer", None),
    ("learning-rate-0", ["sentiment", "train", "--learning-rate", "0"],
     "--learning-rate must be > 0.0, got 0.0", None),
    ("learning-rate-negative", ["translation", "train", "--learning-rate", "-1"],
     "--learning-rate must be > 0.0, got -1.0", None),
    ("learning-rate-abc", ["mnist", "train", "--learning-rate", "fast"],
     "expected a number, got 'fast'", None),
    ("dropout-1.5", ["captioning", "train", "--dropout", "1.5"], "--dropout must be < 1.0", None),
    ("dropout-negative", ["mnist", "train", "--dropout", "-0.1"], "--dropout must be >= 0.0",
     None),
    ("cell-foo", ["mnist", "train", "--cell", "foo"], "invalid choice: 'foo'", None),
    ("cell-rnn-translation", ["translation", "train", "--cell", "rnn"],
     "invalid choice: 'rnn'", None),
    ("seed-negative", ["sentiment", "train", "--seed", "-1"], "--seed must be >= 0, got -1", None),
    ("limit-negative", ["captioning", "train", "--limit", "-1"], "--limit must be >= 0, got -1",
     None),
    ("clipnorm-0", ["mnist", "train", "--clipnorm", "0"], "--clipnorm must be > 0.0", None),
    ("schedule-foo", ["translation", "train", "--learning-rate-schedule", "step"],
     "invalid choice: 'step'", None),
    ("ema-1", ["sentiment", "train", "--ema-momentum", "1"], "--ema-momentum must be < 1.0",
     None),
    ("mode-foo", ["mnist", "train", "--mode", "spiral"], "invalid choice: 'spiral'", None),
    # --- app-specific sizes: zero and negative
    ("vocab-size-2", ["sentiment", "train", "--vocab-size", "2"], "--vocab-size must be >= 3",
     None),
    ("max-length-0", ["sentiment", "train", "--max-length", "0"],
     "--max-length must be a positive integer", None),
    ("embedding-dim-0", ["translation", "train", "--embedding-dim", "0"],
     "--embedding-dim must be a positive integer", None),
    ("beam-size-0-train", ["translation", "train", "--beam-size", "0"],
     "--beam-size must be a positive integer", None),
    ("subword-vocab-size-100", ["translation", "train", "--vocab-size", "100"],
     "--vocab-size must be >= 300, got 100", None),
    ("label-smoothing-1", ["translation", "train", "--label-smoothing", "1"],
     "--label-smoothing must be < 1.0, got 1.0", None),
    ("tokenizer-bpe", ["translation", "train", "--tokenizer", "bpe"],
     "argument --tokenizer: invalid choice: 'bpe'", None),
    ("image-size-negative", ["captioning", "train", "--image-size", "-1"],
     "--image-size must be >= 0, got -1", None),
    ("shapes-max-4", ["captioning", "train", "--shapes-max", "4"], "--shapes-max must be < 4",
     None),
    ("shapes-images-5", ["captioning", "train", "--shapes-images", "5"],
     "--shapes-images must be >= 10", None),
    ("evaluate-batch-size-0", ["mnist", "evaluate", "--batch-size", "0"],
     "expected a positive integer, got '0'", None),
    ("evaluate-limit-negative", ["sentiment", "evaluate", "--limit", "-1"],
     "expected an integer >= 0, got '-1'", None),
    ("predict-top-0", ["mnist", "predict", "--top", "0", "digit.png"],
     "expected a positive integer, got '0'", None),
    ("predict-beam-size-0", ["translation", "predict", "--beam-size", "0", "hola"],
     "expected a positive integer, got '0'", None),
    ("predict-max-output-0", ["captioning", "predict", "--max-output-length", "0", "a.png"],
     "expected a positive integer, got '0'", None),
    ("evaluate-meteor-foo", ["captioning", "evaluate", "--meteor", "on"],
     "invalid choice: 'on'", None),
    ("predict-length-alpha-negative",
     ["translation", "predict", "--run", "run", "--length-alpha", "-1", "hola"],
     "--length-alpha must be >= 0", "translation_garbage_run"),
    ("evaluate-length-alpha-negative",
     ["translation", "evaluate", "--run", "run", "--length-alpha", "-0.5"],
     "--length-alpha must be >= 0", "translation_garbage_run"),
    # --- --config files
    ("config-missing", ["captioning", "train", "--config", "nowhere.json"],
     "config file nowhere.json does not exist", None),
    ("config-not-json", ["mnist", "train", "--config", "settings.json"],
     "config file settings.json is not valid JSON", "config_not_json"),
    ("config-not-object", ["sentiment", "train", "--config", "settings.json"],
     "must hold a JSON object of settings", "config_list"),
    ("config-unknown-setting", ["translation", "train", "--config", "settings.json"],
     "unknown setting(s) unitz", "config_unknown"),
    ("config-wrong-type", ["mnist", "train", "--config", "settings.json"],
     "--units must be an integer, got 'many'", "config_wrong_type"),
    ("config-zero", ["captioning", "train", "--config", "settings.json"],
     "--units must be a positive integer, got 0", "config_zero"),
    ("config-null", ["sentiment", "train", "--config", "settings.json"],
     "--epochs needs a value", "config_null"),
    ("config-latin1", ["translation", "train", "--config", "settings.json"],
     "config file settings.json is not valid UTF-8", "config_latin1"),
    ("config-folder", ["mnist", "train", "--config", "empty"], "cannot read config file empty",
     "empty_dir"),
    # --- data folders and files: missing, empty, corrupt, wrong format
    ("data-dir-missing", ["mnist", "train", "--data-dir", "nowhere"],
     "--data-dir nowhere is not a folder", None),
    ("data-dir-empty-mnist", ["mnist", "train", "--source", "files", "--data-dir", "empty"],
     "--data-dir empty lacks the data: expected MNIST as mnist.npz", "empty_dir"),
    ("source-files-without-data", ["mnist", "train", "--source", "files"],
     "--source files needs --data-dir", None),
    ("npz-truncated", ["mnist", "train", "--data-dir", "data"], "cannot read MNIST from data",
     "npz_truncated"),
    ("npz-is-text", ["mnist", "train", "--data-dir", "data"], "cannot read MNIST from data",
     "npz_text"),
    ("npz-wrong-keys", ["mnist", "train", "--data-dir", "data"], "cannot read MNIST from data",
     "npz_wrong_keys"),
    ("npz-wrong-shape", ["mnist", "train", "--data-dir", "data32"],
     "expected images of 28x28", "npz_wrong_shape"),
    ("idx-not-gzip", ["mnist", "train", "--data-dir", "data"], "cannot read MNIST from data",
     "idx_not_gzip"),
    ("data-dir-empty-imdb", ["sentiment", "train", "--data-dir", "empty"],
     "--data-dir empty lacks the data: expected aclImdb_v1_labeled.tar.gz", "empty_dir"),
    ("imdb-truncated", ["sentiment", "train", "--data-dir", "data"],
     "cannot read IMDB reviews from data", "imdb_truncated"),
    ("imdb-corrupt", ["sentiment", "train", "--data-dir", "data"],
     "cannot read IMDB reviews from data", "imdb_corrupt"),
    ("imdb-no-positive", ["sentiment", "train", "--data-dir", "data"],
     "no train/pos reviews inside", "imdb_no_pos"),
    ("csv-missing", ["sentiment", "train", "--csv", "nowhere.csv"],
     "--csv nowhere.csv does not exist", None),
    ("csv-latin1", ["sentiment", "train", "--csv", "reviews.csv"],
     "--csv reviews.csv is not valid UTF-8: line 2", "csv_latin1"),
    ("csv-three-labels", ["sentiment", "train", "--csv", "reviews.csv"],
     "must hold exactly two classes, found 3", "csv_three_labels"),
    ("csv-no-text-column", ["sentiment", "train", "--csv", "reviews.csv"],
     "has no column 'text'", "csv_no_text_column"),
    ("csv-empty", ["sentiment", "train", "--csv", "reviews.csv"],
     "the file is empty", "csv_empty"),
    ("csv-few-rows", ["sentiment", "train", "--csv", "reviews.csv"],
     "need at least 10", "csv_few_rows"),
    ("csv-empty-label", ["sentiment", "train", "--csv", "reviews.csv"],
     "line 3 has an empty 'label' label", "csv_empty_label"),
    ("csv-and-source-files", ["sentiment", "train", "--csv", "reviews.csv", "--source", "files"],
     "name two different datasets", "reviews_csv"),
    ("pairs-missing", ["translation", "train", "--pairs", "nowhere.txt"],
     "pairs file nowhere.txt does not exist", None),
    ("pairs-no-tabs", ["translation", "train", "--pairs", "pairs.txt"],
     "line 1: expected English<TAB>Other", "pairs_no_tabs"),
    ("pairs-empty", ["translation", "train", "--pairs", "pairs.txt"],
     "pairs file pairs.txt holds no pairs", "pairs_empty"),
    ("pairs-latin1", ["translation", "train", "--pairs", "pairs.txt"],
     "pairs file pairs.txt is not valid UTF-8", "pairs_latin1"),
    ("pairs-truncated-gz", ["translation", "train", "--pairs", "pairs.txt.gz"],
     "cannot read pairs file pairs.txt.gz", "pairs_truncated_gz"),
    ("pairs-corrupt-gz", ["translation", "train", "--pairs", "pairs.txt.gz"],
     "cannot read pairs file pairs.txt.gz", "pairs_corrupt_gz"),
    ("pairs-too-few", ["translation", "train", "--pairs", "pairs.txt"],
     "has only 2 pairs; need at least 3", "pairs_two"),
    ("pairs-with-multi30k", ["translation", "train", "--pairs", "pairs.txt", "--dataset",
                             "multi30k"], "cannot be combined with --dataset multi30k",
     "pairs_two"),
    ("data-dir-empty-anki", ["translation", "train", "--dataset", "anki", "--data-dir", "empty"],
     "--data-dir empty lacks the data: expected the Anki pairs file spa.txt", "empty_dir"),
    ("same-languages", ["translation", "train", "--source-lang", "en", "--target-lang", "eng"],
     "--source-lang and --target-lang are both eng", None),
    ("multi30k-without-data", ["translation", "train", "--dataset", "multi30k",
                               "--source-lang", "deu"], "Multi30k needs --data-dir", None),
    ("data-dir-empty-flickr", ["captioning", "train", "--dataset", "flickr8k", "--data-dir",
                               "empty"], "--data-dir empty lacks Flickr8k", "empty_dir"),
    ("flickr-tokens-no-tab", ["captioning", "train", "--data-dir", "data"],
     "line 1 has no tab between the image name and the caption", "flickr_tokens_no_tab"),
    ("caption-csv-without-images", ["captioning", "train", "--csv", "captions.csv"],
     "needs --images DIR_OR_TAR", "caption_csv"),
    ("caption-csv-latin1", ["captioning", "train", "--csv", "captions.csv", "--images", "imgs"],
     "--csv captions.csv is not valid UTF-8: line 2", "caption_csv_latin1"),
    ("caption-csv-no-caption-column", ["captioning", "train", "--csv", "captions.csv",
                                       "--images", "imgs"],
     "has no column 'caption'", "caption_csv_no_caption_column"),
    ("caption-csv-unknown-images", ["captioning", "train", "--csv", "captions.csv", "--images",
                                    "imgs"], "none of the 3 images named in captions.csv",
     "caption_csv_unknown_images"),
    ("images-missing", ["captioning", "train", "--csv", "captions.csv", "--images", "nowhere"],
     "--images nowhere does not exist", "caption_csv"),
    ("images-is-text-file", ["captioning", "train", "--csv", "captions.csv", "--images",
                             "notes.txt"], "is neither a folder nor a .tar/.zip archive",
     "caption_csv+text_file"),
    ("images-empty-folder", ["captioning", "train", "--csv", "captions.csv", "--images",
                             "empty"], "--images empty holds no images", "caption_csv+empty_dir"),
    ("karpathy-not-json", ["captioning", "train", "--karpathy-json", "karpathy.json",
                           "--images", "imgs"], "is not valid JSON", "karpathy_not_json"),
    ("training-image-is-text", ["captioning", "train", *TINY_CAPTIONER, "--csv",
                                "captions.csv", "--images", "imgs"],
     "imgs/1.png is not an image Pillow can read", "caption_csv_text_png_train"),
    ("test-image-is-text", ["captioning", "train", *TINY_CAPTIONER, "--csv", "captions.csv",
                            "--images", "imgs"],
     "imgs/2.png is not an image Pillow can read", "caption_csv_text_png_test"),
    # --- evaluate on your own test data: the files, their lines, columns and labels
    ("evaluate-source-without-reference", ["translation", "evaluate", "--run", "run",
                                           "--source-file", "test.src"],
     "--source-file test.src needs --reference-file FILE",
     "translation_garbage_run+test_sentences"),
    ("evaluate-reference-without-source", ["translation", "evaluate", "--run", "run",
                                           "--reference-file", "test.ref"],
     "--reference-file needs --source-file FILE", "translation_garbage_run+test_sentences"),
    ("evaluate-source-file-missing", ["translation", "evaluate", "--run", "run", "--source-file",
                                      "nowhere.src", "--reference-file", "test.ref"],
     "--source-file nowhere.src does not exist", "translation_garbage_run+test_sentences"),
    ("evaluate-reference-file-missing", ["translation", "evaluate", "--run", "run",
                                         "--source-file", "test.src", "--reference-file",
                                         "nowhere.ref"],
     "--reference-file nowhere.ref does not exist", "translation_garbage_run+test_sentences"),
    ("evaluate-source-file-empty", ["translation", "evaluate", "--run", "run", "--source-file",
                                    "empty.src", "--reference-file", "test.ref"],
     "--source-file empty.src is empty", "translation_garbage_run+test_sentences"),
    ("evaluate-reference-file-empty", ["translation", "evaluate", "--run", "run",
                                       "--source-file", "test.src", "--reference-file",
                                       "empty.src"],
     "--reference-file empty.src is empty", "translation_garbage_run+test_sentences"),
    ("evaluate-line-counts-differ", ["translation", "evaluate", "--run", "run", "--source-file",
                                     "test.src", "--reference-file", "test.ref",
                                     "--reference-file", "short.ref"],
     "--source-file test.src has 3 lines but --reference-file short.ref has 2 lines",
     "translation_garbage_run+test_sentences"),
    ("evaluate-source-file-latin1", ["translation", "evaluate", "--run", "run", "--source-file",
                                     "input.txt", "--reference-file", "test.ref"],
     "--source-file input.txt is not valid UTF-8", "translation_garbage_run+test_sentences+"
                                                   "latin1_txt"),
    ("evaluate-source-file-and-data-dir", ["translation", "evaluate", "--run", "run",
                                           "--source-file", "test.src", "--reference-file",
                                           "test.ref", "--data-dir", "empty"],
     "--data-dir and --source-file name two different test sets",
     "translation_garbage_run+test_sentences+empty_dir"),
    ("evaluate-reviews-csv-missing", ["sentiment", "evaluate", "--run", "run", "--csv",
                                      "nowhere.csv"], "--csv nowhere.csv does not exist",
     "sentiment_garbage_run"),
    ("evaluate-reviews-csv-no-text-column", ["sentiment", "evaluate", "--run", "run", "--csv",
                                             "reviews.csv"], "has no column 'text'",
     "sentiment_garbage_run+csv_no_text_column"),
    ("evaluate-reviews-csv-wrong-label-col", ["sentiment", "evaluate", "--run", "run", "--csv",
                                              "reviews.csv", "--label-col", "stars"],
     "--csv reviews.csv has no column 'stars'", "sentiment_garbage_run"),
    ("evaluate-reviews-csv-empty", ["sentiment", "evaluate", "--run", "run", "--csv",
                                    "reviews.csv"], "(the file is empty)",
     "sentiment_garbage_run+csv_empty"),
    ("evaluate-reviews-csv-header-only", ["sentiment", "evaluate", "--run", "run", "--csv",
                                          "reviews.csv"], "--csv reviews.csv has no reviews",
     "sentiment_garbage_run+csv_header_only"),
    ("evaluate-reviews-csv-latin1", ["sentiment", "evaluate", "--run", "run", "--csv",
                                     "reviews.csv"], "--csv reviews.csv is not valid UTF-8",
     "sentiment_garbage_run+csv_latin1"),
    ("evaluate-reviews-csv-and-data-dir", ["sentiment", "evaluate", "--run", "run", "--csv",
                                           "reviews.csv", "--data-dir", "empty"],
     "--csv and --data-dir name two different test sets", "sentiment_garbage_run+empty_dir"),
    ("evaluate-text-col-without-csv", ["sentiment", "evaluate", "--run", "run", "--text-col",
                                       "review"], "name the columns of --csv FILE",
     "sentiment_garbage_run"),
    ("evaluate-reviews-csv-other-labels", ["sentiment", "evaluate", "--run", "run", "--csv",
                                           "reviews.csv"],
     "column 'label' holds 'meh', 'wow', not the run's classes 'neg' and 'pos'",
     "sentiment_tiny_run+csv_other_labels"),
    ("evaluate-caption-csv-without-images", ["captioning", "evaluate", "--run", "run", "--csv",
                                             "captions.csv"],
     "--csv captions.csv needs --images DIR_OR_TAR", "captioning_garbage_run+caption_csv"),
    ("evaluate-images-without-captions", ["captioning", "evaluate", "--run", "run", "--images",
                                          "imgs"], "--images imgs needs its captions",
     "captioning_garbage_run+images"),
    ("evaluate-caption-csv-and-captions", ["captioning", "evaluate", "--run", "run", "--csv",
                                           "captions.csv", "--captions", "tokens.txt",
                                           "--images", "imgs"],
     "--csv and --captions name two different test sets",
     "captioning_garbage_run+caption_csv+captions_tokens"),
    ("evaluate-caption-csv-no-caption-column", ["captioning", "evaluate", "--run", "run",
                                                "--csv", "captions.csv", "--images", "imgs"],
     "has no column 'caption'", "captioning_garbage_run+caption_csv_no_caption_column"),
    ("evaluate-caption-csv-wrong-image-col", ["captioning", "evaluate", "--run", "run", "--csv",
                                              "captions.csv", "--images", "imgs",
                                              "--image-col", "photo"],
     "--csv captions.csv has no column 'photo'", "captioning_garbage_run+caption_csv+images"),
    ("evaluate-caption-csv-unknown-images", ["captioning", "evaluate", "--run", "run", "--csv",
                                             "captions.csv", "--images", "imgs"],
     "none of the 3 images named in captions.csv",
     "captioning_garbage_run+caption_csv_unknown_images"),
    ("evaluate-caption-csv-empty", ["captioning", "evaluate", "--run", "run", "--csv",
                                    "captions.csv", "--images", "imgs"],
     "--csv captions.csv is empty", "captioning_garbage_run+caption_csv_empty"),
    ("evaluate-test-images-missing", ["captioning", "evaluate", "--run", "run", "--csv",
                                      "captions.csv", "--images", "nowhere"],
     "--images nowhere does not exist", "captioning_garbage_run+caption_csv"),
    ("evaluate-captions-missing", ["captioning", "evaluate", "--run", "run", "--captions",
                                   "nowhere.txt", "--images", "imgs"],
     "--captions nowhere.txt does not exist", "captioning_garbage_run+images"),
    ("evaluate-captions-no-tab", ["captioning", "evaluate", "--run", "run", "--captions",
                                  "tokens.txt", "--images", "imgs"],
     "--captions tokens.txt: line 1 has no tab", "captioning_garbage_run+captions_tokens_no_tab"),
    ("evaluate-image-col-without-csv", ["captioning", "evaluate", "--run", "run",
                                        "--image-col", "photo"],
     "name the columns of --csv FILE", "captioning_garbage_run"),
    # --- a run folder to train into that cannot be used
    ("run-dir-locked", ["mnist", "train", *DIGITS, "--run-dir", "run"],
     "--run-dir run is being trained by process", "locked_run"),
    ("run-dir-finished", ["mnist", "train", *DIGITS, "--run-dir", "run"],
     "already holds a finished run", "finished_run"),
    ("run-dir-other-settings", ["mnist", "train", *DIGITS, "--run-dir", "run"],
     "holds an interrupted run with other settings", "interrupted_other_run"),
    ("run-dir-is-file", ["mnist", "train", *DIGITS, "--run-dir", "notes.txt"],
     "--run-dir notes.txt is a file", "text_file"),
    # --- runs without models, garbage models
    ("no-runs-yet", ["mnist", "evaluate"], "no trained run under runs/mnist/", None),
    ("run-missing", ["mnist", "evaluate", "--run", "nowhere"], "--run nowhere does not exist",
     None),
    ("run-without-model-sentiment", ["sentiment", "predict", "--run", "run", "good film"],
     "--run run has no model.keras", "config_only_run"),
    ("run-without-model-translation", ["translation", "evaluate", "--run", "run"],
     "--run run has no model.keras", "config_only_run"),
    ("run-without-model-captioning", ["captioning", "predict", "--run", "run", "digit.png"],
     "--run run has no model.keras", "config_only_run+image"),
    ("garbage-model-mnist-predict", ["mnist", "predict", "--run", "run", "digit.png"],
     "cannot load run/model.keras: it is not a Keras model file", "mnist_garbage_run+image"),
    ("garbage-model-mnist-evaluate", ["mnist", "evaluate", "--run", "run"],
     "it is not a Keras model file", "mnist_garbage_run"),
    ("junk-zip-model-mnist", ["mnist", "evaluate", "--run", "run/model.keras"],
     "it is not a valid Keras model file", "mnist_junk_zip_run"),
    ("garbage-model-sentiment-predict", ["sentiment", "predict", "--run", "run", "good film"],
     "it is not a Keras model file", "sentiment_garbage_run"),
    ("garbage-model-sentiment-evaluate", ["sentiment", "evaluate", "--run", "run"],
     "it is not a Keras model file", "sentiment_garbage_run"),
    ("garbage-model-translation-predict", ["translation", "predict", "--run", "run", "hola"],
     "it is not a Keras model file", "translation_garbage_run"),
    ("garbage-model-translation-evaluate", ["translation", "evaluate", "--run", "run"],
     "it is not a Keras model file", "translation_garbage_run"),
    ("model-without-config-translation", ["translation", "evaluate", "--run", "run"],
     "run has no config.json", "model_without_config"),
    ("garbage-model-captioning-predict", ["captioning", "predict", "--run", "run", "digit.png"],
     "it is not a Keras model file", "captioning_garbage_run+image"),
    ("garbage-model-captioning-evaluate", ["captioning", "evaluate", "--run", "run"],
     "it is not a Keras model file", "captioning_garbage_run"),
    ("run-config-not-json-captioning", ["captioning", "predict", "--run", "run", "digit.png"],
     "config file run/config.json is not valid JSON", "captioning_run_bad_config+image"),
    ("other-apps-run-captioning", ["captioning", "predict", "--run", "run", "digit.png"],
     "is not the config.json of a captioning run", "mnist_run_for_captioning+image"),
    # --- export: a run without a usable model, an output folder that is taken
    ("export-no-runs-yet", ["sentiment", "export"], "no trained run under runs/sentiment/",
     None),
    ("export-run-without-model", ["mnist", "export", "--run", "run"],
     "--run run has no model.keras", "config_only_run"),
    ("export-garbage-model", ["captioning", "export", "--run", "run", "--output", "out"],
     "it is not a Keras model file", "captioning_garbage_run"),
    ("export-output-not-empty", ["translation", "export", "--run", "run", "--output", "run"],
     "--output run is not empty", "translation_garbage_run"),
    ("export-default-output-not-empty", ["mnist", "export", "--run", "run"],
     "the export folder run/export is not empty", "mnist_garbage_run+old_export"),
    ("export-output-is-a-file", ["sentiment", "export", "--run", "run", "--output", "notes.txt"],
     "--output notes.txt is a file", "sentiment_garbage_run+text_file"),
    ("export-beam-size-0", ["translation", "export", "--beam-size", "0"],
     "expected a positive integer, got '0'", None),
    # --- what predict reads: images that are not images, undecodable or empty text
    ("image-missing-mnist", ["mnist", "predict", "--run", "run", "nowhere.png"],
     "image nowhere.png does not exist", "mnist_garbage_run"),
    ("text-png-mnist", ["mnist", "predict", "--run", "run", "digit.png"],
     "digit.png is not an image Pillow can read", "mnist_garbage_run+text_png"),
    ("truncated-png-mnist", ["mnist", "predict", "--run", "run", "digit.png"],
     "digit.png is not an image Pillow can read", "mnist_garbage_run+truncated_png"),
    ("bomb-png-mnist", ["mnist", "predict", "--run", "run", "digit.png"],
     "image digit.png is too large to decode safely", "mnist_garbage_run+bomb_png"),
    ("bomb-png-captioning", ["captioning", "predict", "--run", "run", "digit.png"],
     "image digit.png is too large to decode safely", "captioning_garbage_run+bomb_png"),
    ("text-png-captioning", ["captioning", "predict", "--run", "run", "digit.png"],
     "image digit.png is not an image Pillow can read", "captioning_garbage_run+text_png"),
    ("truncated-png-captioning", ["captioning", "predict", "--run", "run", "digit.png"],
     "image digit.png is truncated or corrupt", "captioning_garbage_run+truncated_png"),
    ("folder-as-image-captioning", ["captioning", "predict", "--run", "run", "empty"],
     "image empty is a folder", "captioning_garbage_run+empty_dir"),
    ("show-attention-not-png", ["captioning", "predict", "--run", "run", "--show-attention",
                                "out.jpg", "digit.png"], "expected a .png file name",
     "captioning_garbage_run+image"),
    ("latin1-file-sentiment", ["sentiment", "predict", "--run", "run", "--file", "input.txt"],
     "--file input.txt is not valid UTF-8: line 1", "sentiment_garbage_run+latin1_txt"),
    ("empty-file-sentiment", ["sentiment", "predict", "--run", "run", "--file", "input.txt"],
     "--file input.txt has no reviews", "sentiment_garbage_run+empty_txt"),
    ("missing-file-sentiment", ["sentiment", "predict", "--run", "run", "--file", "nowhere.txt"],
     "--file nowhere.txt does not exist", "sentiment_garbage_run"),
    ("no-reviews", ["sentiment", "predict", "--run", "run"], "no reviews to classify",
     "sentiment_garbage_run"),
    ("empty-review", ["sentiment", "predict", "--run", "run", "  "], "review 1 is empty",
     "sentiment_garbage_run"),
    ("punctuation-review", ["sentiment", "predict", "--run", "run", "!!! ???"],
     "review 1 has no words", "sentiment_garbage_run"),
    ("text-and-file", ["sentiment", "predict", "--run", "run", "--file", "input.txt", "good"],
     "either as arguments or with --file", "sentiment_garbage_run+empty_txt"),
    ("latin1-file-translation", ["translation", "predict", "--run", "run", "--file",
                                 "input.txt"], "sentences file input.txt is not valid UTF-8",
     "translation_garbage_run+latin1_txt"),
    ("no-sentences", ["translation", "predict", "--run", "run"], "give sentences to translate",
     "translation_garbage_run"),
    ("show-attention-not-png-translation", ["translation", "predict", "--run", "run",
                                            "--show-attention", "map.pdf", "hola"],
     "expected a .png file name", "translation_garbage_run"),
    # --- training on many devices: --distribute, --devices, --workers, TF_CONFIG
    ("distribute-foo", ["mnist", "train", "--distribute", "ring"], "invalid choice: 'ring'", None),
    ("devices-negative", ["mnist", "train", "--distribute", "mirrored", "--devices", "-1"],
     "--devices must be >= 0, got -1", None),
    ("devices-without-mirrored", ["sentiment", "train", "--devices", "2"],
     "--devices needs --distribute mirrored (got --distribute none", None),
    ("devices-with-multi-worker", ["mnist", "train", "--distribute", "multi-worker", "--devices",
                                   "2", "--workers", WORKERS, "--worker-index", "0"],
     "--devices needs --distribute mirrored (got --distribute multi-worker", None),
    ("workers-without-multi-worker", ["translation", "train", "--distribute", "mirrored",
                                      "--workers", WORKERS, "--worker-index", "0"],
     "--workers needs --distribute multi-worker", None),
    ("worker-index-without-multi-worker", ["mnist", "train", "--worker-index", "1"],
     "--worker-index needs --distribute multi-worker", None),
    ("multi-worker-without-cluster", ["captioning", "train", "--distribute", "multi-worker"],
     "--distribute multi-worker needs the cluster: set TF_CONFIG", None),
    ("workers-without-index", ["mnist", "train", "--distribute", "multi-worker", "--workers",
                               WORKERS], "--workers needs --worker-index", None),
    ("worker-index-without-workers", ["mnist", "train", "--distribute", "multi-worker",
                                      "--worker-index", "1"], "--worker-index needs --workers",
     "tf_config_valid"),
    ("worker-index-out-of-range", ["sentiment", "train", "--distribute", "multi-worker",
                                   "--workers", WORKERS, "--worker-index", "2"],
     "--worker-index 2 is out of range: --workers lists 2 worker(s) (0 to 1)", None),
    ("worker-index-negative", ["mnist", "train", "--distribute", "multi-worker", "--workers",
                               WORKERS, "--worker-index", "-1"], "--worker-index must be >= 0",
     None),
    ("workers-no-port", ["mnist", "train", "--distribute", "multi-worker", "--workers",
                         "10.0.0.5,10.0.0.6:2222", "--worker-index", "0"],
     "--workers: '10.0.0.5': expected HOST:PORT", None),
    ("workers-port-too-big", ["translation", "train", "--distribute", "multi-worker", "--workers",
                              "a:2222,b:70000", "--worker-index", "1"],
     "--workers: 'b:70000': expected HOST:PORT", None),
    ("workers-empty-entry", ["mnist", "train", "--distribute", "multi-worker", "--workers",
                             "a:2222,,b:2222", "--worker-index", "0"],
     "--workers: '': expected HOST:PORT", None),
    ("workers-twice", ["mnist", "train", "--distribute", "multi-worker", "--workers",
                       "a:2222,a:2222", "--worker-index", "0"], "a:2222 is listed twice", None),
    ("tf-config-and-workers", ["mnist", "train", "--distribute", "multi-worker", "--workers",
                               WORKERS, "--worker-index", "0"],
     "TF_CONFIG is set and --workers is given", "tf_config_valid"),
    ("tf-config-not-json", ["mnist", "train", "--distribute", "multi-worker"],
     "TF_CONFIG is not valid JSON", "tf_config_not_json"),
    ("tf-config-not-object", ["sentiment", "train", "--distribute", "multi-worker"],
     'TF_CONFIG must be a JSON object with "cluster" and "task"', "tf_config_list"),
    ("tf-config-no-task", ["translation", "train", "--distribute", "multi-worker"],
     'TF_CONFIG has no "task"', "tf_config_no_task"),
    ("tf-config-index-out-of-range", ["mnist", "train", "--distribute", "multi-worker"],
     "TF_CONFIG's task index 2 is out of range: its cluster lists 2 worker task(s)",
     "tf_config_index_out_of_range"),
    ("tf-config-no-port", ["captioning", "train", "--distribute", "multi-worker"],
     "TF_CONFIG's worker list: '127.0.0.1': expected HOST:PORT", "tf_config_no_port"),
    ("tf-config-parameter-server", ["mnist", "train", "--distribute", "multi-worker"],
     "TF_CONFIG's cluster has a 'ps' job", "tf_config_ps"),
    ("distribute-in-config-file", ["mnist", "train", "--config", "settings.json"],
     "--distribute must be one of none, mirrored, multi-worker", "config_distribute_foo"),
    # --- rnn-suite tune
    ("tune-no-app", ["tune"], "required: APP", None),
    ("tune-unknown-tuner", ["tune", "mnist", "--tuner", "grid"], "invalid choice: 'grid'", None),
    ("tune-max-trials-0", ["tune", "mnist", "--max-trials", "0"],
     "expected a positive integer, got '0'", None),
    ("tune-model-flag", ["tune", "mnist", "--units", "64"], "unrecognized arguments: --units",
     None),
    ("tune-space-file-unknown", ["tune", "mnist", "--space", "space.json"],
     "--space: unknown setting 'unitz'", "space_unknown"),
    ("tune-space-distribute", ["tune", "mnist", "--space", "space.json"],
     "--space distribute: a search sets it itself; use keras-tuner's chief/worker mode",
     "space_distribute"),
    ("tune-space-empty-range", ["tune", "mnist", "--space", "space.json"],
     "--space learning_rate: empty range", "space_empty_range"),
    ("tune-space-not-object", ["tune", "mnist", "--space", "space.json"],
     "must hold a JSON object", "space_list"),
    ("tune-space-latin1", ["tune", "mnist", "--space", "space.json"],
     "is not valid UTF-8", "space_latin1"),
    ("tune-space-missing", ["tune", "sentiment", "--space", "nowhere.json"],
     "--space nowhere.json: no such file", None),
    ("tune-worker-without-chief", ["tune", "mnist", "--role", "worker", "--worker-id", "1"],
     "--role worker needs --chief HOST:PORT", None),
    ("tune-chief-no-port", ["tune", "mnist", "--role", "worker", "--worker-id", "1", "--chief",
                            "10.0.0.5"], "'10.0.0.5': expected HOST:PORT", None),
    ("tune-chief-bad-port", ["tune", "mnist", "--role", "chief", "--chief", "0.0.0.0:99999"],
     "'0.0.0.0:99999': expected HOST:PORT", None),
    ("tune-chief-port-abc", ["tune", "translation", "--role", "worker", "--worker-id", "1",
                             "--chief", "host:http"], "'host:http': expected HOST:PORT", None),
    ("tune-data-dir-missing", ["tune", "mnist", "--data-dir", "nowhere", *TUNE_SEARCH],
     "--data-dir nowhere is not a folder", None),
    ("tune-csv-latin1", ["tune", "sentiment", "--csv", "reviews.csv", *TUNE_SEARCH],
     "--csv reviews.csv is not valid UTF-8", "csv_latin1"),
    ("tune-pairs-no-tabs", ["tune", "translation", "--pairs", "pairs.txt", *TUNE_SEARCH],
     "line 1: expected English<TAB>Other", "pairs_no_tabs"),
    ("tune-flickr-empty", ["tune", "captioning", "--dataset", "flickr8k", "--data-dir", "empty",
                           *TUNE_SEARCH], "--data-dir empty lacks Flickr8k", "empty_dir"),
    # --- lm
    ("lm-learning-rate-nan", ["lm", "train", "--learning-rate", "nan"],
     "--learning-rate must be a finite number, got nan", None),
    ("lm-clipnorm-inf", ["lm", "train", "--clipnorm", "inf"],
     "--clipnorm must be a finite number, got inf", None),
    ("lm-text-missing", ["lm", "train", "--text", "nowhere.txt"],
     "--text nowhere.txt does not exist", None),
    ("lm-text-empty", ["lm", "train", "--text", "input.txt"], "has no text", "empty_txt"),
    ("lm-text-binary", ["lm", "train", "--text", "input.txt"], "looks binary", "binary_txt"),
    ("lm-text-latin1", ["lm", "train", "--text", "input.txt"], "is not valid UTF-8: line 1",
     "latin1_txt"),
    ("lm-text-dir-no-txt", ["lm", "train", "--text", "texts"], "holds no .txt files",
     "empty_text_dir"),
    ("lm-text-and-dataset", ["lm", "train", "--text", "input.txt", "--dataset", "embedded"],
     "name two corpora", "latin1_txt"),
    ("lm-bidirectional", ["lm", "train", "--bidirectional", "--dataset", "embedded"],
     "--bidirectional cannot be used by a language model", None),
    ("lm-vocab-3", ["lm", "train", "--vocab-size", "3"], "--vocab-size must be >= 4", None),
    ("lm-window-1", ["lm", "train", "--window", "1"], "--window must be >= 2", None),
    ("lm-init-from-missing", ["lm", "train", "--init-from", "nowhere", "--dataset", "embedded"],
     "--init-from nowhere does not exist", None),
    ("lm-init-from-mnist-run", ["lm", "train", "--init-from", "mnistrun", "--dataset",
                                "embedded"], "--init-from mnistrun is not a run of `rnn-suite lm "
     "train`", "mnist_run"),
    ("lm-subword-vocab-too-small", ["lm", "train", "--tokenizer", "subword", "--vocab-size",
                                    "100", "--dataset", "embedded"],
     "--vocab-size 100 is too small for --tokenizer subword: 260 ids are reserved", None),
    ("lm-unsup-missing", ["lm", "train", "--dataset", "imdb-unsup", "--data-dir", "empty"],
     "aclImdb_v1_unsup.tar.gz", "empty_dir"),
    ("lm-top-k-0", ["lm", "generate", "hello", "--top-k", "0"], "--top-k must be at least 1",
     None),
    ("lm-temperature-negative", ["lm", "generate", "hello", "--temperature", "-1"],
     "--temperature must be a number >= 0", None),
    ("lm-top-p-0", ["lm", "generate", "--top-p", "0"], "--top-p must be in (0, 1]", None),
    ("lm-no-run", ["lm", "generate", "hello"], "no trained run under runs/lm/", None),
    ("sentiment-encoder-from-missing", ["sentiment", "train", "--csv", "reviews.csv",
                                        "--encoder-from", "nowhere"],
     "--encoder-from nowhere does not exist", "reviews_csv"),
    ("lm-evaluate-no-run", ["lm", "evaluate", "--run", "nowhere"], "--run nowhere does not exist",
     None),
    ("lm-export-no-run", ["lm", "export", "--run", "nowhere"], "--run nowhere does not exist",
     None),
    ("lm-init-from-folder-without-model", ["lm", "train", "--init-from", "empty", "--dataset",
                                           "embedded"],
     "--init-from empty has no model.keras", "empty_dir"),
    ("sentiment-encoder-from-folder-without-model", ["sentiment", "train", "--csv",
                                                     "reviews.csv", "--encoder-from", "empty"],
     "--encoder-from empty has no model.keras", "reviews_csv_empty_dir"),
    ("sentiment-encoder-from-char-lm", ["sentiment", "train", "--csv", "reviews.csv",
                                        "--encoder-from", "charlm"],
     "is a char language model; a classifier of words needs one trained with --tokenizer word",
     "reviews_csv_char_lm"),
    ("sentiment-encoder-from-mnist-run", ["sentiment", "train", "--csv", "reviews.csv",
                                          "--encoder-from", "mnistrun"],
     "is not a run of `rnn-suite lm train`", "reviews_csv_mnist_run"),
    ("lm-freeze-embedding-without-init-from", ["lm", "train", "--freeze-embedding",
                                                "--dataset", "embedded"],
     "--freeze-embedding keeps the embedding of the language model training starts from", None),
    ("sentiment-backward-encoder-without-forward", ["sentiment", "train", "--csv", "reviews.csv",
                                                    "--backward-encoder-from", "empty"],
     "give that one with --encoder-from FORWARD_LM_RUN", "reviews_csv_empty_dir"),
    ("sentiment-vat-without-unlabelled", ["sentiment", "train", "--csv", "reviews.csv",
                                          "--virtual-adversarial", "1"],
     "--virtual-adversarial needs unlabelled reviews", "reviews_csv"),
    ("sentiment-unlabelled-without-vat", ["sentiment", "train", "--csv", "reviews.csv",
                                          "--unlabelled", "input.txt"],
     "is only read by virtual adversarial training", "reviews_csv"),
    ("sentiment-unlabelled-missing", ["sentiment", "train", "--csv", "reviews.csv",
                                      "--virtual-adversarial", "1", "--unlabelled", "nowhere.txt"],
     "--unlabelled nowhere.txt does not exist", "reviews_csv"),
    ("sentiment-unlabelled-binary", ["sentiment", "train", "--csv", "reviews.csv",
                                     "--virtual-adversarial", "1", "--unlabelled", "input.txt"],
     "--unlabelled input.txt looks binary", "reviews_csv_binary_txt"),
    ("sentiment-unlabelled-imdb-missing", ["sentiment", "train", "--csv", "reviews.csv",
                                           "--virtual-adversarial", "1", "--unlabelled",
                                           "imdb-unsup", "--data-dir", "empty"],
     "aclImdb_v1_unsup.tar.gz", "reviews_csv_empty_dir"),
    ("sentiment-adversarial-negative", ["sentiment", "train", "--adversarial", "-1"],
     "--adversarial must be >= 0.0", None),
    ("sentiment-discriminative-decay-below-1", ["sentiment", "train",
                                                "--discriminative-decay", "0.5"],
     "--discriminative-decay must be >= 1.0", None),
    ("sentiment-schedule-unknown", ["sentiment", "train", "--learning-rate-schedule", "warm"],
     "invalid choice: 'warm'", None),
]


def _rows():
    return [pytest.param(*row[1:], id=row[0]) for row in CATALOGUE]


# ----------------------------------------------------------------- the test

@pytest.fixture(scope="module", autouse=True)
def quiet_tensorflow():
    """TensorFlow started as the command does it: its start-up lines are not the command's."""
    import_tensorflow_quietly()
    import tensorflow as tf

    tf.config.list_physical_devices("GPU")  # logs a cuInit error once, on machines without GPU


@pytest.fixture(scope="module")
def live_process():
    """A live process that is not this one (its id goes into a train.lock)."""
    process = []

    def pid():
        if not process:
            process.append(subprocess.Popen(["sleep", "600"]))
        return process[0].pid

    yield pid
    for running in process:
        running.kill()
        running.wait()


def _snapshot(folder):
    """Every file and folder under `folder`: path -> (size, mtime) for files, None for folders."""
    found = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs:
            found[os.path.relpath(os.path.join(root, name), folder)] = None
        for name in files:
            stat = os.stat(os.path.join(root, name))
            found[os.path.relpath(os.path.join(root, name), folder)] = (stat.st_size,
                                                                        stat.st_mtime_ns)
    return found


@pytest.fixture
def work(tmp_path, monkeypatch):
    """A fresh working folder with nothing outside it to write to (no data mirror, cache inside)."""
    folder = tmp_path / "work"
    folder.mkdir()
    monkeypatch.chdir(folder)
    monkeypatch.delenv("RNN_SUITE_DATA", raising=False)
    monkeypatch.setenv("RNN_SUITE_CACHE", str(folder / "cache"))
    for name in ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT",
                 "TF_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    return folder


def test_catalogue_is_large_and_ids_unique():
    rows = _rows()
    ids = [row.id for row in rows]
    assert len(ids) >= 60
    assert len(set(ids)) == len(ids)
    setups = {name for row in rows for name in (row.values[2] or "").split("+") if name}
    assert all(f"setup_{name}" in globals() for name in setups), setups


@pytest.mark.parametrize("argv, expected, setup", _rows())
def test_bad_input(work, live_process, capfd, monkeypatch, argv, expected, setup):
    for name in (setup or "").split("+"):
        if name:
            environment = globals()[f"setup_{name}"](work, live_process)
            for key, value in (environment or {}).items():
                monkeypatch.setenv(key, value)
    before = _snapshot(work)
    capfd.readouterr()
    try:
        status = cli.main(list(argv))
    except SystemExit as exit_:  # pragma: no cover - main catches it; this guards the test
        status = exit_.code
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err, err
    assert status == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got:\n{err}"
    assert lines[0].startswith("rnn-suite") and ": error: " in lines[0], lines[0]
    assert expected in lines[0], lines[0]
    assert _snapshot(work) == before, "bad input changed the working folder"
    assert not (work / "runs").exists()
