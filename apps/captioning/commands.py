"""`rnn-suite captioning train|evaluate|predict`: the flags, and what each command does.

TensorFlow is imported inside the commands, not at the top, so that `--help`
and flag errors answer at once.

The story of `train`: find the captions and images (data.py) -> resolve the
encoder and image size -> build the caption vocabulary from the training
captions -> build the model (model.py) -> with a frozen pretrained encoder,
compute every image's features once (feature_cache.py) and train the decoder
on them; with the CNN (or --fine-tune-encoder), train on pixels -> keep the
best model by validation loss -> caption the test images, greedy and beam,
and score them beside the two peers (baselines.py) -> pictures.
"""

import dataclasses
import sys
import time
import typing
from pathlib import Path

from apps.common import app_commands
from apps.common import config as config_module
from apps.common import run_dir as run_dir_module
from apps.common.errors import UsageError
from apps.captioning import serving
from apps.captioning.config import CaptioningConfig

NAME = "captioning"
SUMMARY = "image captioning: CNN/EfficientNet features, an attentive LSTM/GRU decoder (Show, Attend and Tell)"
EVALUATION_FILE = app_commands.EVALUATION_FILE
CAPTIONS_FILE = "test_captions.tsv"
GRID_FILE = "captions_grid.png"
ATTENTION_FIGURES = 3
GRID_IMAGES = 12
TEST_IMAGE_CHECK_SIZE = 8


def add_commands(parser):
    """Add `train`, `evaluate` and `predict` under the app's parser."""
    commands = app_commands.add_train(
        parser, NAME, CaptioningConfig, train,
        "Train an image captioner: an image encoder and a decoder that attends over the "
        "image's feature grid at every word. Writes config.json, model.keras (best by "
        "validation loss; vocabulary and image preprocessing inside), history.csv, "
        "metrics.json (BLEU-1..4, ROUGE-L, CIDEr-D, greedy and beam, beside the most-frequent "
        "and nearest-neighbour captions), test_captions.tsv, TensorBoard logs, "
        "captions_grid.png and attention figures.")
    evaluate = app_commands.add_evaluate(
        commands, NAME, evaluate_command,
        help="BLEU-1..4, ROUGE-L, CIDEr-D of a trained run, beside the peers",
        description="Caption the test images of the run's dataset, or of your own test set "
                    "(--csv or --captions, with --images: every image in it), with greedy and "
                    "beam search; score them (pycocoevalcap) against all references, beside "
                    "the most frequent and the nearest-neighbour training caption (the run's "
                    "training data; left out, with a warning, when it cannot be read); write "
                    "evaluation.json, test_captions.tsv, captions_grid.png and attention figures.",
        data_help="folder with the dataset (default: the run's, then $RNN_SUITE_DATA)",
        items="test images", batch_size=64)
    _add_decoding_flags(evaluate)
    evaluate.add_argument("--meteor", choices=("auto", "off"), default=None,
                          help="also score METEOR (needs Java; default: the run's setting)")
    evaluate.add_argument("--csv", default=None,
                          help="evaluate on every image of this CSV instead of the run's test "
                               "split (header row, one row per caption, several rows per "
                               "image: several references; see --image-col, --caption-col); "
                               "needs --images")
    evaluate.add_argument("--captions", default=None, metavar="FILE",
                          help="or a captions file in the Flickr8k.token.txt format "
                               "('<image>#<n><TAB><caption>' lines); needs --images")
    evaluate.add_argument("--images", default=None, metavar="DIR_OR_TAR",
                          help="the folder (or .tar/.zip) holding the images of --csv or "
                               "--captions")
    app_commands.add_column_flags(evaluate, [
        ("--image-col", "the image file name", CaptioningConfig.image_col),
        ("--caption-col", "the caption", CaptioningConfig.caption_col)])

    predict = app_commands.add_predict(
        commands, NAME, predict_command, help="caption image files with a trained run",
        description="Caption image files (PNG, JPEG, ...: any mode and size; converted to RGB "
                    "and resized); prints one caption a line, in the order given.")
    predict.add_argument("images", nargs="+", metavar="IMAGE", help="image files to caption")
    _add_decoding_flags(predict)
    predict.add_argument("--show-attention", default=None, metavar="OUT.png",
                         help="also draw each word's attention over the image (one figure per "
                              "image: OUT.png, OUT_2.png, ...)")
    export = app_commands.add_export(commands, NAME, export_command, serving.SIGNATURE)
    _add_decoding_flags(export)


def _add_decoding_flags(parser):
    parser.add_argument("--beam-size", type=config_module.positive_int, default=None,
                        help="beam width (1: greedy; default: the run's)")
    parser.add_argument("--max-output-length", type=config_module.positive_int, default=None,
                        help="at most this many words per caption (default: the run's)")


def warn(message):
    print(f"warning: {message}", file=sys.stderr, flush=True)


# --- train -------------------------------------------------------------------------

def resolved(config, corpus_name):
    """The config with `--dataset auto`, `--encoder auto` and `--image-size 0` made concrete.

    `config.json` keeps these, so `evaluate` reads the same dataset again (or
    says it is missing) rather than falling back to generated shapes.
    """
    from apps.captioning import encoders

    config = dataclasses.replace(config, dataset=corpus_name)
    name, size = encoders.resolve(config)
    return dataclasses.replace(config, encoder=name, image_size=size)


def model_inputs(config, corpus, split, encoder, cache_dir=None):
    """What the trained model reads for a split: cached features (frozen encoder) or pixels.

    Returns:
        `(array, kept split, note)`; images skipped with `--skip-bad-lines`
        are left out of the split.
    """
    from apps.captioning import feature_cache
    from apps.captioning.caption_corpus import CaptionSplit

    names = split.names
    if frozen_encoder(config):
        identity = _frozen_identity(config)
        array, kept, counts = feature_cache.features(
            encoder, identity, corpus.store, names, config.image_size,
            cache_dir or config.cache_dir, skip_bad=config.skip_bad_lines)
        note = (f"features: {counts['cached']} from the cache, {counts['computed']} computed"
                + (f", {counts['skipped']} unreadable images skipped" if counts["skipped"] else ""))
    else:
        array, skipped = corpus.store.load(names, config.image_size,
                                           skip_bad=config.skip_bad_lines)
        kept = [n for n in names if n not in set(skipped)]
        note = f"{len(kept)} images" + (f" ({len(skipped)} unreadable, skipped)" if skipped else "")
    if not kept:
        raise UsageError(f"no readable images in the {split_name(corpus, split)} split "
                         f"({corpus.store.describe()})")
    captions = dict(zip(names, split.captions))
    return array, CaptionSplit(kept, [captions[n] for n in kept]), note


def split_name(corpus, split):
    return next(n for n in ("train", "validation", "test") if corpus.split(n) is split)


def _frozen_identity(config):
    from apps.captioning import encoders

    return encoders.identity(config.encoder, config.image_size, config.encoder_weights)


def frozen_encoder(config):
    from apps.captioning import encoders

    return encoders.is_pretrained(config.encoder) and not config.fine_tune_encoder


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


@dataclasses.dataclass
class CaptionData:
    """What training reads, loaded once (a tuner's trials share it): the corpus and its vocabulary."""

    corpus: typing.Any
    vocabulary: list
    # A frozen encoder's training features, {encoder identity: (array, split)},
    # as `build_training` read them from the cache: the nearest-neighbour peer
    # reuses them instead of reading every file again. One entry at most.
    train_features: dict = dataclasses.field(default_factory=dict, repr=False)

    @property
    def name(self):
        return self.corpus.name

    @property
    def description(self):
        return self.corpus.description


def load_data(config):
    """The corpus the settings ask for (`--limit` applied) and the training captions' vocabulary."""
    from apps.captioning import data
    from apps.captioning import model as model_module
    from apps.common import teacher_forcing

    corpus = data.load(config)
    if not config.skip_bad_lines:
        # The test images are read only after training: an unreadable one must stop the
        # run now, not after every epoch. A tiny size keeps this cheap (JPEG draft mode).
        corpus.store.load(corpus.test.names, TEST_IMAGE_CHECK_SIZE)
    words = model_module.caption_words([c for refs in corpus.train.captions for c in refs])
    return CaptionData(corpus, teacher_forcing.build_vocabulary(words, config.min_count))


def build_training(config, caption_data):
    """The captioner a config describes, compiled, with its training and validation pipelines.

    The one place the model is built and compiled for training: `train` uses
    it, and so does `rnn-suite tune`. With a frozen pretrained encoder the
    model trained is the decoder, on cached features, and the model saved is
    the whole captioner (`TrainingSetup.saved_model`). The test split is not touched.
    """
    import numpy as np

    from apps.captioning import encoders
    from apps.captioning import model as model_module
    from apps.common import teacher_forcing, training

    corpus = caption_data.corpus
    config = resolved(config, corpus.name)
    encoder = encoders.build_encoder(config.encoder, config.image_size, _cache(config),
                                     config.encoder_weights, config.seed)
    model, decoder = model_module.build_model(config, caption_data.vocabulary, encoder)
    frozen = frozen_encoder(config)
    if encoders.is_pretrained(config.encoder):
        encoders.set_trainable(encoder, not frozen)
    trained, input_name = (decoder, "features") if frozen else (model, "image")
    pipelines = []
    for name in ("train", "validation"):
        array, split, note = model_inputs(config, corpus, corpus.split(name), encoder)
        print(f"{name}: {note}", flush=True)
        if frozen and name == "train":
            caption_data.train_features.clear()
            caption_data.train_features[_frozen_identity(config)] = (array, split)
        pipelines.append(pipeline(trained, array, split, input_name, config.batch_size,
                                  shuffle=name == "train", seed=config.seed))
    training.compile_model(trained, config, loss=model_module.loss(),
                           metrics=[teacher_forcing.MaskedAccuracy()], train_data=pipelines[0])
    sizes = {"trainable_parameters": int(sum(int(np.prod(w.shape))
                                             for w in trained.trainable_weights)),
             "train_images": len(corpus.train),
             "train_captions": sum(map(len, corpus.train.captions)),
             "vocabulary": len(caption_data.vocabulary) + teacher_forcing.SPECIAL_TOKENS}
    return training.TrainingSetup(trained, *pipelines, monitor="val_loss", mode="min",
                                  saved_model=model if frozen else None, sizes=sizes)


def train(config, extra_callbacks=()):
    """Train from a validated `CaptioningConfig`; returns the metrics written to `metrics.json`."""
    from apps.common import training

    return training.run_training(training.TrainingStory(
        NAME, load_data, build_training, evaluate=_evaluate_run, settings=_settings,
        headline=lambda metrics: (f"test CIDEr-D (beam {metrics['beam_size']})",
                                  metrics["beam"]["CIDEr-D"]),
        describe=_describe, resolve=lambda config, data: resolved(config, data.name),
        curves=("loss", "masked_accuracy")), config, extra_callbacks)


def _describe(config, caption_data):
    from apps.common import teacher_forcing

    return (f"encoder: {config.encoder} at {config.image_size} px "
            f"({'frozen, features cached' if frozen_encoder(config) else 'trained'}); "
            f"vocabulary {len(caption_data.vocabulary) + teacher_forcing.SPECIAL_TOKENS:,} "
            f"words (seen at least {config.min_count} times in the training captions)")


def _settings(config, caption_data):
    return {"encoder": config.encoder, "image_size": config.image_size,
            "encoder_frozen": frozen_encoder(config), "cell": config.cell,
            "units": config.units, "embedding_dim": config.embedding_dim}


def _evaluate_run(model, config, caption_data, run):
    corpus = caption_data.corpus
    test = corpus.test.limited(config.eval_limit) if config.eval_limit else corpus.test
    # The nearest-neighbour peer reads the training images' features: those training
    # read when the encoder is frozen, else from the trained encoder (in evaluate_model).
    train_inputs = None
    if frozen_encoder(config):
        train_inputs = caption_data.train_features.get(_frozen_identity(config))
        if train_inputs is None:
            train_inputs = model_inputs(config, corpus, corpus.train, image_encoder(model))[:2]
    return evaluate_model(model, dataclasses.replace(corpus, test=test), config, run.path,
                          batch_size=64, train_inputs=train_inputs)


def image_encoder(model):
    """The image encoder inside a captioning model."""
    from apps.captioning import encoders

    return model.get_layer(encoders.NAME)


def _cache(config):
    from apps.captioning import feature_cache

    return feature_cache.cache_root(config.cache_dir)


# --- evaluate ----------------------------------------------------------------------

def evaluate_model(model, corpus, config, out_dir, batch_size=64, beam_size=None,
                   max_output_length=None, train_inputs=None):
    """Caption the test split greedy and beam; score both and the two peers; write the files.

    Args:
        model: A trained captioning model.
        corpus: The data (its `test` split is captioned; `train` feeds the peers).
        config: The run's (resolved) `CaptioningConfig`.
        out_dir: Where evaluation files and pictures go.
        train_inputs: `(features, split)` of the training images when already
            at hand (a frozen encoder's cached features); computed otherwise.

    Returns:
        A dict: `greedy`, `beam`, `most_frequent`, `nearest_neighbour` (each a
        dict of scores), `exact_match_*` for generated shapes, `test_images`,
        `images_per_second_*`, `pictures`.
    """
    from apps.captioning import baselines, pictures, scoring
    from apps.captioning import model as model_module

    beam_size = beam_size or config.beam_size
    max_length = max_output_length or config.max_output_length
    captioner = model_module.Captioner(model)
    test = corpus.test
    if not len(test):
        raise UsageError("the test split is empty; nothing to evaluate")
    pixels, skipped = corpus.test_images().load(test.names, config.image_size,
                                                skip_bad=config.skip_bad_lines)
    if skipped:
        warn(f"{len(skipped)} test images could not be read and are left out")
        kept = [i for i, n in enumerate(test.names) if n not in set(skipped)]
        test = type(test)([test.names[i] for i in kept], [test.captions[i] for i in kept])
    features = captioner.encode(pixels)
    search = dict(max_length=max_length, length_alpha=config.length_alpha, batch_size=batch_size)
    captioner.caption_features(features[:2], **search)  # trace first: tracing is not speed
    timed = time.perf_counter()
    greedy = captioner.caption_features(features, beam_size=1, **search)
    greedy_speed = len(features) / max(time.perf_counter() - timed, 1e-9)
    captioner.caption_features(features[:2], beam_size=beam_size, greedy=False, **search)
    timed = time.perf_counter()
    beam = captioner.caption_features(features, beam_size=beam_size, greedy=False, **search)
    beam_speed = len(features) / max(time.perf_counter() - timed, 1e-9)

    if not len(corpus.train):
        train_features, train_split = None, None  # no training data at hand: no peers
    elif train_inputs is None:
        train_pixels, _ = corpus.store.load(corpus.train.names, config.image_size,
                                            skip_bad=True)
        train_features, train_split = captioner.encode(train_pixels), corpus.train
        if len(train_features) != len(train_split):
            train_split = None  # unreadable training images: no neighbour peer
    else:
        train_features, train_split = train_inputs
    peers = ({"most_frequent": [baselines.most_frequent_caption(corpus.train.captions)]
              * len(test)} if len(corpus.train) else {})
    if train_split is not None:
        peers["nearest_neighbour"] = baselines.nearest_neighbour_captions(
            train_features, train_split.captions, features)
    report = {"test_images": len(test), "beam_size": beam_size, "max_output_length": max_length}
    for label, captions in [("greedy", [r["caption"] for r in greedy]),
                            ("beam", [r["caption"] for r in beam])] + list(peers.items()):
        report[label] = scoring.caption_scores(captions, test.captions,
                                               meteor="auto" if config.meteor == "auto" else False)
        print(f"{label:>17}: {scoring.format_scores(report[label])}", flush=True)
    if corpus.name == "shapes":
        from apps.captioning import shapes

        for label, results in (("greedy", greedy), ("beam", beam)):
            right = sum(shapes.is_correct(r["caption"], refs)
                        for r, refs in zip(results, test.captions))
            report[f"exact_match_{label}"] = right / len(test)
        print(f"exactly right: greedy {report['exact_match_greedy']:.1%}, beam "
              f"{report['exact_match_beam']:.1%} of {len(test)} test images", flush=True)
    report["images_per_second_greedy"] = round(greedy_speed, 2)
    report["images_per_second_beam"] = round(beam_speed, 2)

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / CAPTIONS_FILE, "w", encoding="utf-8") as handle:
        handle.write("image\tgreedy\tbeam\treferences\n")
        for name, g, b, refs in zip(test.names, greedy, beam, test.captions):
            cells = [name, g["caption"], b["caption"], " | ".join(refs)]
            handle.write("\t".join(c.replace("\t", " ") for c in cells) + "\n")
    shown = min(GRID_IMAGES, len(test))
    names = [pictures.captions_grid(pixels[:shown], [r["caption"] for r in beam[:shown]],
                                    [refs[0] for refs in test.captions[:shown]], out / GRID_FILE,
                                    title=f"{corpus.name} test images: beam {beam_size} caption "
                                          "and one reference").name]
    for index in range(min(ATTENTION_FIGURES, len(test))):
        path = out / f"attention_{index + 1}.png"
        pictures.attention_overlay(pixels[index], beam[index]["words"], beam[index]["attention"],
                                   captioner.grid, path, finished=beam[index]["finished"],
                                   title=test.names[index])
        names.append(path.name)
    report["pictures"] = names
    report["captions_file"] = CAPTIONS_FILE
    return report


def _run_config(run):
    """The run's model file and its (resolved) config, without loading the model."""
    path = run_dir_module.find_model(NAME, run)
    config_path = path.parent / run_dir_module.CONFIG_FILE
    if not config_path.is_file():
        raise UsageError(f"{path.parent} has no {run_dir_module.CONFIG_FILE} (expected a run "
                         f"folder written by `rnn-suite {NAME} train`)")
    config = config_module.load_config(CaptioningConfig, config_path)
    if config.encoder == "auto" or config.image_size < 1:  # train writes both, resolved
        raise UsageError(f"{config_path} is not the config.json of a {NAME} run (it names no "
                         f"encoder and image size; expected a run folder written by "
                         f"`rnn-suite {NAME} train`)")
    return path, config


def _load_model(path):
    from apps.captioning import model as model_module  # noqa: F401 - registers its layers
    from apps.common import model_files

    return model_files.load_model(path, NAME)


def user_test_set(args, config):
    """Your own test set (`--csv` or `--captions`, with `--images`), or None; bad input fails."""
    from apps.captioning import data

    if not (args.csv or args.captions or args.images):
        if args.image_col or args.caption_col:
            raise UsageError("--image-col and --caption-col name the columns of --csv FILE; "
                             "give --csv and --images too")
        return None
    if (args.image_col or args.caption_col) and not args.csv:
        raise UsageError("--image-col and --caption-col name the columns of --csv FILE, not of "
                         "--captions; drop them")
    return data.user_test_set(args.images, csv_path=args.csv, captions_path=args.captions,
                              image_col=args.image_col or config.image_col,
                              caption_col=args.caption_col or config.caption_col,
                              skip_bad_lines=config.skip_bad_lines)


def evaluate_command(args):
    """`evaluate --run DIR`: scores of greedy and beam captions on the run's test split.

    With `--csv` or `--captions` (and `--images`), every image of that file is
    the test split instead (read before the model loads); the peers still come
    from the run's training data, and are left out with a warning if it
    cannot be read.
    """
    from apps.captioning import data
    from apps.captioning.caption_corpus import CaptionCorpus, CaptionSplit

    path, config = _run_config(args.run)
    config = dataclasses.replace(config, data_dir=args.data_dir or config.data_dir,
                                 meteor=args.meteor or config.meteor)
    own = user_test_set(args, config)
    model = _load_model(path)
    if own is None:
        # The run's own data (its --limit included), so the peers see what the model saw.
        corpus = data.load(config)
        corpus = dataclasses.replace(corpus, test=corpus.test.limited(args.limit))
        label, test_data = f"{corpus.name} test", app_commands.split_test_data(
            corpus.description)
    else:
        try:
            run_corpus = data.load(config)
            train, store = run_corpus.train, run_corpus.store
        except UsageError as error:
            warn(f"the run's training data cannot be read, so the peers (most frequent and "
                 f"nearest-neighbour training caption) are left out: {error}")
            train, store = CaptionSplit([], []), own.store
        corpus = CaptionCorpus(own.name, own.description, train, CaptionSplit([], []),
                               own.split.limited(args.limit), store, own.store)
        label = Path(args.csv or args.captions).name
        test_data = app_commands.file_test_data(
            own.description, {"csv": args.csv, "captions": args.captions, "images": args.images},
            {"image_col": args.image_col or config.image_col,
             "caption_col": args.caption_col or config.caption_col} if args.csv else None)
    print(f"data: {corpus.description}", flush=True)
    out = app_commands.evaluation_folder(args, path)
    report = evaluate_model(model, corpus, config, out, batch_size=args.batch_size,
                            beam_size=args.beam_size, max_output_length=args.max_output_length)
    return app_commands.write_evaluation(
        out, report, path, corpus.name, test_data,
        f"{NAME}: test CIDEr-D {report['beam']['CIDEr-D']:.1f} (beam {report['beam_size']}), "
        f"BLEU-4 {report['beam']['BLEU-4']:.1f} on {report['test_images']:,} {label} images",
        [CAPTIONS_FILE, "pictures"])


# --- predict -----------------------------------------------------------------------

def predict_command(args):
    """`predict --run DIR photo.jpg ...`: one caption a line."""
    import numpy as np

    from apps.captioning import images as images_module
    from apps.captioning import model as model_module
    from apps.captioning import pictures

    if args.show_attention and not str(args.show_attention).lower().endswith(".png"):
        raise UsageError(f"--show-attention {args.show_attention}: expected a .png file name")
    path, config = _run_config(args.run)
    # Every image is read before the model loads: a bad file fails at once.
    pixels = np.stack([images_module.read_image_file(p, config.image_size) for p in args.images])
    model = _load_model(path)
    captioner = model_module.Captioner(model)
    beam = args.beam_size or config.beam_size
    results = captioner.caption_images(
        pixels, beam_size=beam, max_length=args.max_output_length or config.max_output_length,
        length_alpha=config.length_alpha)
    for number, result in enumerate(results, 1):
        if not result["finished"]:
            warn(f"image {number}: the caption stopped at --max-output-length before the end "
                 "token")
        print(result["caption"], flush=True)
    if args.show_attention:
        target = Path(args.show_attention)
        for number, (image, result, name) in enumerate(zip(pixels, results, args.images), 1):
            path = target if number == 1 else target.with_name(
                f"{target.stem}_{number}{target.suffix}")
            pictures.attention_overlay(image, result["words"], result["attention"],
                                       captioner.grid, path, finished=result["finished"],
                                       title=Path(name).name)
            print(f"attention figure written to {path}", file=sys.stderr, flush=True)
    return results


# --- export ------------------------------------------------------------------------

def export_command(args):
    """`export --run DIR [--output DIR]`: a SavedModel captioning image bytes (see serving.py).

    Images are made the run's `--image-size`; the search uses the run's
    decoding settings, or the flags (as `predict`).
    """
    from apps.common import serving as common_serving

    path, config = _run_config(args.run)
    beam = args.beam_size or config.beam_size
    length = args.max_output_length or config.max_output_length
    return common_serving.export_run(
        NAME, str(path), args.output, _load_model,
        lambda model, model_path: serving.endpoints(model, model_path, config.image_size, beam,
                                                    length, config.length_alpha))
