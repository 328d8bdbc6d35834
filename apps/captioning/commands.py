"""`rnn-suite captioning train|evaluate|predict|export`: the flags, and what each command does.

TensorFlow is imported inside the commands, not at the top, so that `--help`
and flag errors answer at once.

`train` itself is in `train.py` (its docstring tells the story), the test
report and pictures in `evaluation.py`, the input pipeline in `data.py`.
"""

import dataclasses
import sys
from pathlib import Path

from apps.common import app_commands
from apps.common import config as config_module
from apps.common import run_dir as run_dir_module
from apps.common import trained_run
from apps.common.errors import UsageError
from apps.captioning import NAME, serving
from apps.captioning.config import CaptioningConfig
from apps.captioning.evaluation import CAPTIONS_FILE, evaluate_model
from apps.captioning.train import train

SUMMARY = "image captioning: CNN/EfficientNet features, an attentive LSTM/GRU decoder (Show, Attend and Tell)"
EVALUATION_FILE = app_commands.EVALUATION_FILE


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
    app_commands.add_demo(commands, NAME, CaptioningConfig, beam_size=True)
    export = app_commands.add_export(commands, NAME, export_command, serving.SIGNATURE)
    _add_decoding_flags(export)


def _add_decoding_flags(parser):
    parser.add_argument("--beam-size", type=config_module.positive_int, default=None,
                        help="beam width (1: greedy; default: the run's)")
    parser.add_argument("--max-output-length", type=config_module.positive_int, default=None,
                        help="at most this many words per caption (default: the run's)")


# --- train -------------------------------------------------------------------------


# --- evaluate ----------------------------------------------------------------------


def _open_run(run):
    """The run (`trained_run.TrainedRun`) with its resolved config; the model loads later."""
    trained = trained_run.open_run(NAME, run, CaptioningConfig, needs_config=True)
    if trained.config.encoder == "auto" or trained.config.image_size < 1:  # train resolves both
        raise UsageError(f"{trained.path.parent / run_dir_module.CONFIG_FILE} is not the "
                         f"config.json of a {NAME} run (it names no encoder and image size; "
                         f"expected a run folder written by `rnn-suite {NAME} train`)")
    return trained


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

    trained = _open_run(args.run)
    path, config = trained.path, trained.config
    config = dataclasses.replace(config, data_dir=args.data_dir or config.data_dir,
                                 meteor=args.meteor or config.meteor)
    own = user_test_set(args, config)
    model = trained.model
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
            app_commands.warn(f"the run's training data cannot be read, so the peers (most frequent and "
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
    from apps.captioning import evaluation
    from apps.captioning import model as model_module
    from apps.captioning import pictures

    if args.show_attention and not str(args.show_attention).lower().endswith(".png"):
        raise UsageError(f"--show-attention {args.show_attention}: expected a .png file name")
    trained = _open_run(args.run)
    path, config = trained.path, trained.config
    # Every image is read before the model loads: a bad file fails at once.
    pixels = evaluation.read_images(args.images, config)
    model = trained.model
    captioner = model_module.Captioner(model)
    results, warnings = evaluation.caption_pixels(captioner, pixels, config, args.beam_size,
                                                  args.max_output_length)
    for warning in warnings:
        app_commands.warn(warning)
    for result in results:
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

    trained = _open_run(args.run)
    path, config = trained.path, trained.config
    beam = args.beam_size or config.beam_size
    length = args.max_output_length or config.max_output_length
    return common_serving.export_run(
        NAME, str(path), args.output,
        lambda model, model_path: serving.endpoints(model, model_path, config.image_size, beam,
                                                    length, config.length_alpha))
