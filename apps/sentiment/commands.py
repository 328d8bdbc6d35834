"""`rnn-suite sentiment train|evaluate|predict|export`: the flags, and what each command does.

`train` itself is in `train.py`, the test report and explanations in `evaluation.py`.
TensorFlow is imported inside the commands, not at the top, so that `--help`
and flag errors answer at once.
"""

from pathlib import Path

from apps.common import app_commands
from apps.common import config as config_module
from apps.common import trained_run
from apps.common.errors import UsageError
from apps.sentiment import NAME, serving
from apps.sentiment.config import SentimentConfig
from apps.sentiment.evaluation import (EXPLAIN_EXAMPLES, EXPLAIN_FOLDER, PREDICTIONS,
                                       classify, evaluate_model, explain_texts)
from apps.sentiment.train import train
SUMMARY = "IMDB sentiment: raw review text in, calibrated P(positive) out, with the words that decided it"
EVALUATION_FILE = app_commands.EVALUATION_FILE


def add_commands(parser):
    """Add `train`, `evaluate` and `predict` under the app's parser."""
    commands = app_commands.add_train(
        parser, NAME, SentimentConfig, train,
        "Train a recurrent classifier on movie reviews (IMDB, or your own CSV). Writes "
        "config.json, model.keras (best by validation accuracy, text preprocessing inside, "
        "temperature fitted on the validation split), history.csv, metrics.json, TensorBoard "
        "logs and pictures to the run folder.")
    evaluate = app_commands.add_evaluate(
        commands, NAME, evaluate_command,
        help="test accuracy, precision/recall/F1, ROC AUC, confusion matrix, reliability plot",
        description="Evaluate a run's model on the test split of the data it was trained on "
                    "(IMDB's official 25k test reviews, or the split carved from its CSV), or "
                    "on your own test set: every row of --csv FILE, whose labels must be the "
                    "run's two classes. With --explain, also write an HTML page per review "
                    "for a few right and wrong test reviews, words tinted by attention weight.",
        data_help="folder with the IMDB reviews (default: the run's, then $RNN_SUITE_DATA, "
                  "then tfds)",
        items="test reviews", batch_size=128)
    evaluate.add_argument("--csv", default=None,
                          help="evaluate on every row of this CSV (header row; see --text-col, "
                               "--label-col), labelled with the run's two classes (default: "
                               "the run's test split, carved from its --csv if it was trained "
                               "on one)")
    app_commands.add_column_flags(evaluate, [
        ("--text-col", "the review text", SentimentConfig.text_col),
        ("--label-col", "the label: the run's class names (or 0/1, neg/pos, ... for a "
                        "negative/positive run)", SentimentConfig.label_col)])
    evaluate.add_argument("--explain", action="store_true",
                          help=f"write {EXPLAIN_FOLDER}/*.html: {EXPLAIN_EXAMPLES} right and "
                               f"{EXPLAIN_EXAMPLES} wrong test reviews, words tinted by "
                               "attention weight (attention pooling only)")

    predict = app_commands.add_predict(
        commands, NAME, predict_command, help="classify reviews given as text or in a file",
        description="Classify reviews: each is printed on one line, tab-separated: its "
                    "label, P(positive) and the start of the text (with --explain, a fourth "
                    "column: the words the attention weighted most). Give the texts as "
                    "arguments or --file FILE (UTF-8, one review per line, lines end at \\n "
                    "only): the output has exactly one line per input line, in order; a line "
                    "with no words (empty, spaces, or only punctuation) prints the placeholder "
                    "'-<TAB>-<TAB>(empty line)' (or '(no words: ...)'), with a warning. An "
                    "empty or wordless TEXT argument, or a file with no review at all, is an "
                    "error.")
    predict.add_argument("texts", nargs="*", metavar="TEXT", help="reviews to classify")
    predict.add_argument("--file", default=None,
                         help="a UTF-8 text file, one review per line; one output line per "
                              "input line (a line with no words gets a '-' placeholder)")
    predict.add_argument("--explain", action="store_true",
                         help="also print the words the attention pooling weighted most (a "
                              "fourth column)")
    predict.add_argument("--top", type=config_module.positive_int, default=8,
                         help="how many words --explain prints per review (default: 8)")
    app_commands.add_export(commands, NAME, export_command, serving.SIGNATURE)
    app_commands.add_demo(commands, NAME, SentimentConfig)


# ----------------------------------------------------------------- train


# ----------------------------------------------------------------- evaluate


def evaluate_command(args):
    """`evaluate --run DIR`: metrics and pictures for a trained run (nothing written on bad input).

    On the test split of the run's own data, or with `--csv FILE` on every row
    of that file (read before the model loads; its labels are checked against
    the model's class names once it has).
    """
    trained = trained_run.open_run(NAME, args.run, SentimentConfig)
    saved = trained.config.to_dict() if trained.config else {}
    from apps.sentiment import data

    own = None
    if args.csv:
        if args.data_dir:
            raise UsageError("--csv and --data-dir name two different test sets; drop one")
        text_col = args.text_col or saved.get("text_col") or "text"
        label_col = args.label_col or saved.get("label_col") or "label"
        own = data.read_test_csv(args.csv, text_col, label_col)
    elif args.text_col or args.label_col:
        raise UsageError("--text-col and --label-col name the columns of --csv FILE; give "
                         "--csv too")
    else:
        if args.data_dir:
            source, data_dir, csv_path = "auto", args.data_dir, None
        elif saved.get("csv"):
            source, data_dir, csv_path = "csv", None, saved["csv"]
        else:
            source = saved.get("source") if saved.get("source") in ("files", "tfds") else "auto"
            data_dir, csv_path = saved.get("data_dir"), None
        reviews = data.load(source, data_dir=data_dir, limit=args.limit, csv_path=csv_path,
                            text_col=saved.get("text_col", "text"),
                            label_col=saved.get("label_col", "label"))
    path, model = trained.path, trained.model
    from apps.sentiment import model as model_module

    if args.explain and not model_module.has_attention(model):
        raise UsageError(f"--explain needs a model with attention pooling; {path} was trained "
                         "with --pooling last or max")
    if own is None:
        label, test_data = f"{reviews.name} test", app_commands.split_test_data(
            reviews.description)
    else:
        reviews = data.reviews_from_test_csv(args.csv, *own, model_module.class_names(model),
                                    label_col, limit=args.limit)
        label = Path(args.csv).name
        test_data = app_commands.file_test_data(reviews.description, {"csv": args.csv},
                                                {"text_col": text_col, "label_col": label_col})
    print(f"data: {reviews.description}", flush=True)
    out = app_commands.evaluation_folder(args, path)
    report = evaluate_model(model, reviews, out, args.batch_size, explain=args.explain)
    return app_commands.write_evaluation(
        out, report, path, reviews.name, test_data,
        f"{NAME}: test accuracy {report['test_accuracy']:.4f} on {report['test_examples']:,} "
        f"{label} reviews (F1 {report['test_f1']:.4f}, ROC AUC "
        f"{_fmt(report['test_roc_auc'])}, ECE {report['test_ece']:.4f})",
        [PREDICTIONS, "pictures"])


def _fmt(value):
    return "n/a" if value is None else f"{value:.4f}"


# ----------------------------------------------------------------- predict

def read_reviews(args):
    """The reviews to classify, as (where, text) pairs; bad input fails here, before TensorFlow work.

    Every line of `--file` is one review, kept in order, so that `predict`
    prints exactly one line per input line: a line with no words (empty,
    only spaces, or only punctuation and symbols) stays in the list, and
    `predict` prints a placeholder for it. On the command line such a text is
    an error instead (it can only be a slip).

    Raises:
        UsageError: No reviews (no arguments, or a file with no line holding
            a word), both arguments and a file, an empty or wordless
            argument, a missing or non-UTF-8 file.
    """
    from apps.common import text as text_module

    if args.file and args.texts:
        raise UsageError("give reviews either as arguments or with --file, not both")
    if args.file:
        lines = text_module.read_lines(args.file, what="--file")
        reviews = [(f"{args.file}:{n}", line) for n, line in enumerate(lines, 1)]
        if not any(_word_counts(reviews)):
            raise UsageError(f"--file {args.file} has no reviews (expected one review per line)")
        return reviews
    if not args.texts:
        raise UsageError("no reviews to classify: give the text as an argument "
                         "(in quotes) or --file FILE")
    reviews = [(f"review {n}", text) for n, text in enumerate(args.texts, 1)]
    for where, text in reviews:
        if not text.strip():
            raise UsageError(f"{where} is empty: nothing to classify")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # undecodable bytes on the command line
            raise UsageError(f"{where} is not valid UTF-8 text") from None
    for (where, text), count in zip(reviews, _word_counts(reviews)):
        if count == 0:
            raise UsageError(f"{where} has no words, only punctuation or symbols "
                             f"({_short(text, 30)!r}): nothing to classify")
    return reviews


def _word_counts(reviews):
    """How many words the model would read in each (where, text) review."""
    from apps.common import text as text_module

    if not reviews:
        return []
    return [len(words) for words in text_module.words([t for _, t in reviews])]


def _short(text, width=60):
    """`text` on one line (every kind of line break and space run becomes one space), cut."""
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 3] + "..."


def _placeholder(text):
    """What stands in the text column for a review line with no words."""
    return "(empty line)" if not text.strip() else f"(no words: {_short(text, 30)!r})"


def predict_command(args):
    """`predict --run DIR "text" ...` or `--file FILE`: label and P(positive) of each review.

    One output line per review, in order (so per line of `--file`): label,
    P(positive), the start of the text, tab-separated (with `--explain` a
    fourth column of weighted words). A file line with no words prints
    `-<TAB>-<TAB>(empty line)` or `-<TAB>-<TAB>(no words: '...')` instead, and
    one warning on stderr names those lines.
    """
    import sys

    trained = trained_run.open_run(NAME, args.run, SentimentConfig)
    reviews = read_reviews(args)
    path, model = trained.path, trained.model
    from apps.sentiment import model as model_module

    if args.explain and not model_module.has_attention(model):
        raise UsageError(f"--explain needs a model with attention pooling; {path} was trained "
                         "with --pooling last or max")
    names = model_module.class_names(model)
    has_words = [count > 0 for count in _word_counts(reviews)]
    if not all(has_words):
        numbers = [str(n) for n, ok in enumerate(has_words, 1) if not ok]
        shown = ", ".join(numbers[:10]) + (f" and {len(numbers) - 10} more"
                                           if len(numbers) > 10 else "")
        print(f"warning: --file {args.file}: line(s) {shown} have no words (empty, or only "
              "punctuation); each got a placeholder line starting with '-'", file=sys.stderr,
              flush=True)
    texts = [t for (_, t), ok in zip(reviews, has_words) if ok]
    verdicts = iter(classify(model, texts))
    explained = iter(explain_texts(model, texts) if args.explain else [None] * len(texts))
    results = []
    for (where, text), ok in zip(reviews, has_words):
        if not ok:
            print(f"-\t-\t{_placeholder(text)}" + ("\t-" if args.explain else ""), flush=True)
            results.append({"where": where, "text": text, "label": None,
                            "probability": None})
            continue
        (label, probability), explanation = next(verdicts), next(explained)
        line = f"{label}\tP({names[1]})={probability:.3f}\t{_short(text)}"
        result = {"where": where, "text": text, "label": label,
                  "probability": float(probability)}
        if explanation is not None:
            _, words, weights, _ = explanation
            ranked = sorted(range(len(words)), key=lambda i: -weights[i])[:args.top]
            line += "\twords: " + ", ".join(f"{words[i]} {weights[i]:.2f}" for i in ranked)
            result["words"] = [(words[i], float(weights[i])) for i in ranked]
        print(line, flush=True)
        results.append(result)
    return results


# ----------------------------------------------------------------- export

def export_command(args):
    """`export --run DIR [--output DIR]`: the run's model as a SavedModel (see serving.py)."""
    from apps.common import serving as common_serving

    return common_serving.export_run(NAME, args.run, args.output, serving.endpoints)
