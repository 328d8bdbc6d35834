"""`rnn-suite sentiment train|evaluate|predict`: the flags, and what each command does.

TensorFlow is imported inside the commands, not at the top, so that `--help`
and flag errors answer at once.
"""

import csv
import json
from pathlib import Path

from apps.common import app_commands
from apps.common import config as config_module
from apps.common import run_dir as run_dir_module
from apps.common.errors import UsageError
from apps.sentiment import serving
from apps.sentiment.config import SentimentConfig

NAME = "sentiment"
SUMMARY = "IMDB sentiment: raw review text in, calibrated P(positive) out, with the words that decided it"
EVALUATION_FILE = app_commands.EVALUATION_FILE
EXPLAIN_FOLDER = "explain"
EXPLAIN_EXAMPLES = 4  # right and wrong test reviews each
PREDICT_BATCH = 64
UNKNOWN_ID = 1  # TextVectorization's [UNK]
PICTURES = {
    "confusion_matrix": "confusion_matrix.png",
    "reliability": "reliability.png",
}
# One row per test review, in the test split's order: for error analysis, and for
# paired comparisons with another model scored on the same reviews.
PREDICTIONS = "test_predictions.csv"


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


# ----------------------------------------------------------------- train


def load_reviews(config):
    """The reviews a config names (all bad input fails here, before a run folder exists)."""
    from apps.sentiment import data

    return data.load(config.source, config.data_dir, config.limit, config.csv,
                     config.text_col, config.label_col, config.validation_split)


def load_data(config):
    """The data `build_training` needs: the reviews a config names (see `load_reviews`), and
    with --virtual-adversarial the unlabelled ones."""
    if config.jit:
        raise UsageError("--jit is not available for sentiment: the model reads raw strings "
                         "(its TextVectorization layer cannot be compiled by XLA)")
    if config.virtual_adversarial and not config.unlabelled:
        raise UsageError("--virtual-adversarial needs unlabelled reviews: add --unlabelled "
                         "imdb-unsup (with --data-dir) or --unlabelled FILE")
    if config.unlabelled and not config.virtual_adversarial:
        raise UsageError(f"--unlabelled {config.unlabelled} is only read by virtual adversarial "
                         "training: add --virtual-adversarial EPS (e.g. 1.0), or drop it")
    reviews = load_reviews(config)
    if config.virtual_adversarial:
        import dataclasses

        from apps.sentiment import data

        texts, description = data.load_unlabelled(config.unlabelled, config.data_dir,
                                                  config.limit)
        print(f"unlabelled: {len(texts):,} reviews, {description}", flush=True)
        reviews = dataclasses.replace(reviews, x_unlabelled=texts)
    return reviews


def build_training(config, reviews):
    """The model a config describes, compiled, with its training and validation pipelines.

    The vocabulary (`config.vocab_size` words) comes from the training split
    only. The one place the model is built and compiled for training: `train`
    uses it, and so does `rnn-suite tune`. The test split is not touched.

    Returns:
        A `training.TrainingSetup` (best epoch by validation accuracy).
    """
    from apps.common import training
    from apps.sentiment import data, model as model_module

    import dataclasses

    language_model = None
    if config.encoder_from:
        from apps.common import pretrained_encoder

        config = _with_encoder_architecture(config)
        language_model, vocabulary = pretrained_encoder.load(config.encoder_from)
        config = dataclasses.replace(config, vocab_size=len(vocabulary))  # the embedding's rows
    else:
        vocabulary = data.build_vocabulary(reviews.x_train, config.vocab_size)
    model = model_module.build_model(config, vocabulary, reviews.class_names)
    if language_model is not None:
        pretrained_encoder.copy_encoder(model, language_model, config.layers)
    train_data = data.pipeline(reviews.x_train, reviews.y_train, config.batch_size,
                               config.max_length, shuffle=True, seed=config.seed)
    validation_data = data.pipeline(reviews.x_val, reviews.y_val, config.batch_size,
                                    config.max_length)
    if config.virtual_adversarial:
        train_data = data.with_unlabelled(train_data, reviews.x_unlabelled, config.batch_size,
                                          config.max_length, config.seed)
    optimizer = None
    if language_model is not None:
        from apps.sentiment import fine_tuning

        optimizer = fine_tuning.optimizer(config, train_data)
    trained = model
    if config.adversarial or config.virtual_adversarial:
        from apps.sentiment import adversarial

        trained = adversarial.AdversarialTrainer(model, config.adversarial,
                                                 config.virtual_adversarial)
    training.compile_model(trained, config, loss="binary_crossentropy", metrics=["accuracy"],
                           train_data=train_data, optimizer=optimizer)
    return training.TrainingSetup(trained, train_data, validation_data,
                                  monitor="val_accuracy", mode="max",
                                  saved_model=model if trained is not model else None)


def _with_encoder_architecture(config, reviews=None):
    """With `--encoder-from`: the config with the language model's architecture and vocabulary
    size (what config.json records); otherwise `config`."""
    if not config.encoder_from:
        return config
    import dataclasses

    from apps.common import pretrained_encoder

    settings = pretrained_encoder.read_settings(config.encoder_from)
    return dataclasses.replace(pretrained_encoder.adopt(config, settings),
                               vocab_size=settings["vocabulary_size"])


def train(config, extra_callbacks=()):
    """Train from a validated `SentimentConfig`; returns the metrics written to `metrics.json`."""
    from apps.common import training

    return training.run_training(training.TrainingStory(
        NAME, load_data, build_training, evaluate=_calibrate_and_evaluate, settings=_settings,
        headline=lambda metrics: ("test accuracy", metrics["test_accuracy"]),
        resolve=_with_encoder_architecture,
        describe=lambda config, reviews: (
            f"using {len(reviews.x_train):,} train / {len(reviews.x_val):,} validation / "
            f"{len(reviews.x_test):,} test reviews, the first {config.max_length} words of "
            "each")), config, extra_callbacks)


def _settings(config, reviews):
    return {"cell": config.cell, "units": config.units, "layers": config.layers,
            "bidirectional": config.bidirectional, "pooling": config.pooling,
            "vocab_size": config.vocab_size, "max_length": config.max_length,
            "embedding_dim": config.embedding_dim,
            "train_examples": len(reviews.x_train), "validation_examples": len(reviews.x_val)}


def _calibrate_and_evaluate(model, config, reviews, run):
    """The best model's temperature, fitted and saved into `model.keras`, then its test report."""
    calibration = calibrate(model, reviews, config)
    model.save(run.model_path)
    return {**calibration, **evaluate_model(model, reviews, run.path, config.batch_size)}


def calibrate(model, reviews, config):
    """Fit the output temperature on the validation split (temperature scaling); sets it in `model`.

    Returns:
        {"temperature", "val_log_loss_before", "val_log_loss_after"}.
    """
    from apps.sentiment import data, model as model_module

    logits = data.predict_probabilities(model_module.logits_model(model), reviews.x_val,
                                        config.batch_size, config.max_length)
    temperature = model_module.fit_temperature(logits, reviews.y_val)
    model_module.set_temperature(model, temperature)
    before = model_module.log_loss(logits, reviews.y_val)
    after = model_module.log_loss(logits, reviews.y_val, temperature)
    print(f"calibration: temperature {temperature:.3f} fitted on the validation split "
          f"(log loss {before:.4f} -> {after:.4f})", flush=True)
    return {"temperature": round(temperature, 4),
            "val_log_loss_before_calibration": round(before, 5),
            "val_log_loss_after_calibration": round(after, 5)}


# ----------------------------------------------------------------- evaluate

def _max_length(model):
    return model.get_layer("truncate").max_length


def evaluate_model(model, reviews, out_dir, batch_size, explain=False):
    """Test metrics, the confusion matrix, the reliability plot and `test_predictions.csv`.

    `test_predictions.csv` has one row per test review, in order: `index`
    (position in the test split), `label` (0/1) and `probability`
    (P(label 1)). With `explain`, HTML pages too.

    Returns:
        {"test_accuracy", "test_loss", "test_precision", "test_recall", "test_f1",
         "test_roc_auc", "test_ece", "test_brier", "confusion_matrix", "test_examples",
         "pictures", "predictions", ["explanations"]}.
    """
    import numpy as np
    from sklearn import metrics as skm

    from apps.common import plots
    from apps.sentiment import data, model as model_module, pictures

    max_length = _max_length(model)
    probabilities = data.predict_probabilities(model, reviews.x_test, batch_size, max_length)
    truth = np.asarray(reviews.y_test, np.int64)
    predicted = (probabilities >= 0.5).astype(np.int64)
    names = model_module.class_names(model)
    clipped = np.clip(probabilities.astype(np.float64), 1e-7, 1 - 1e-7)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    plots.confusion_matrix(truth, predicted, list(names), out / PICTURES["confusion_matrix"],
                           title=f"{reviews.name} test")
    write_predictions(out / PREDICTIONS, truth, probabilities)
    temperature = model_module.temperature(model)
    uncalibrated = None
    if abs(temperature - 1.0) > 1e-6:
        logit = np.log(clipped / (1 - clipped)) * temperature
        uncalibrated = 1 / (1 + np.exp(-logit))
    _, ece = pictures.reliability_plot(
        probabilities, truth, out / PICTURES["reliability"],
        title=f"Reliability on the {reviews.name} test split (n={len(truth):,})",
        uncalibrated=uncalibrated)
    two_classes = len(np.unique(truth)) == 2
    report = {
        "test_accuracy": float((predicted == truth).mean()),
        "test_loss": float(skm.log_loss(truth, clipped, labels=[0, 1])),
        "test_precision": float(skm.precision_score(truth, predicted, zero_division=0)),
        "test_recall": float(skm.recall_score(truth, predicted, zero_division=0)),
        "test_f1": float(skm.f1_score(truth, predicted, zero_division=0)),
        "test_roc_auc": float(skm.roc_auc_score(truth, probabilities)) if two_classes else None,
        "test_ece": ece,
        "test_brier": float(np.mean((probabilities - truth) ** 2)),
        "confusion_matrix": skm.confusion_matrix(truth, predicted, labels=[0, 1]).tolist(),
        "class_names": list(names),
        "test_examples": int(len(truth)),
        "pictures": [PICTURES["confusion_matrix"], PICTURES["reliability"]],
        "predictions": PREDICTIONS,
    }
    if explain:
        report["explanations"] = write_explanations(model, reviews, probabilities, out)
    return report


def write_predictions(path, labels, probabilities):
    """Write `test_predictions.csv`: index, label, probability, one row per review."""
    import numpy as np

    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["index", "label", "probability"])
        for index, (label, probability) in enumerate(
                zip(np.ravel(labels), np.ravel(probabilities))):
            # 9 significant digits give a float32 back exactly, so a decision read
            # back from the file (probability >= 0.5) is the one the model made.
            writer.writerow([index, int(label), f"{float(probability):.9g}"])


def read_predictions(path):
    """(labels int64 [N], probabilities float64 [N]) from a `test_predictions.csv`."""
    import numpy as np

    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return (np.array([int(row["label"]) for row in rows], np.int64),
            np.array([float(row["probability"]) for row in rows], np.float64))


def write_explanations(model, reviews, probabilities, out):
    """HTML pages for the first few right and wrong test reviews; returns their file names."""
    import numpy as np

    truth = np.asarray(reviews.y_test)
    predicted = (probabilities >= 0.5).astype(np.int64)
    right = np.flatnonzero(predicted == truth)[:EXPLAIN_EXAMPLES]
    wrong = np.flatnonzero(predicted != truth)[:EXPLAIN_EXAMPLES]
    chosen = [("right", i) for i in right] + [("wrong", i) for i in wrong]
    folder = out / EXPLAIN_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    explained = explain_texts(model, [reviews.x_test[i] for _, i in chosen])
    from apps.sentiment import model as model_module, pictures

    names = model_module.class_names(model)
    written = []
    for (kind, index), (probability, words, weights, unknown) in zip(chosen, explained):
        number = sum(1 for k, _ in chosen[:len(written) + 1] if k == kind)
        name = f"{kind}_{number}_test{index}.html"
        page = pictures.explanation_html(words, weights, probability, names, unknown=unknown,
                                         truth=int(truth[index]),
                                         title=f"Test review {index} ({kind})")
        (folder / name).write_text(page, encoding="utf-8")
        written.append(f"{EXPLAIN_FOLDER}/{name}")
    return written


def explain_texts(model, texts):
    """For each text: (P(positive), the words the model read, their attention weights, unknown?).

    `unknown` flags the words outside the vocabulary (the model saw `[UNK]` there).
    """
    import numpy as np
    import tensorflow as tf

    from apps.common import text as text_module
    from apps.sentiment import model as model_module

    explainer = model_module.explainer(model)
    max_length = _max_length(model)
    results = []
    for text in texts:  # one at a time: no padding, weights align with the words
        probability, ids, weights = explainer.predict_on_batch(tf.constant([text]))
        words = text_module.words([text])[0][:max_length]
        weights = np.asarray(weights)[0][:len(words)]
        unknown = np.asarray(ids)[0][:len(words)] == UNKNOWN_ID
        results.append((float(np.asarray(probability).ravel()[0]), words, weights, unknown))
    return results


def _run_data_settings(model_path):
    """The data settings in the run's config.json (next to the model), if there is one."""
    config_file = model_path.parent / run_dir_module.CONFIG_FILE
    if not config_file.is_file():
        return {}
    try:
        return json.loads(config_file.read_text())
    except (OSError, ValueError):
        return {}


def _load_run_model(run):
    path = run_dir_module.find_model(NAME, run)
    from apps.common import model_files
    from apps.sentiment import model as model_module  # noqa: F401 - registers the layers

    return path, model_files.load_model(path, NAME)


def evaluate_command(args):
    """`evaluate --run DIR`: metrics and pictures for a trained run (nothing written on bad input).

    On the test split of the run's own data, or with `--csv FILE` on every row
    of that file (read before the model loads; its labels are checked against
    the model's class names once it has).
    """
    path = run_dir_module.find_model(NAME, args.run)
    saved = _run_data_settings(path)
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
    path, model = _load_run_model(args.run)
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

    path = run_dir_module.find_model(NAME, args.run)
    reviews = read_reviews(args)
    path, model = _load_run_model(args.run)
    from apps.sentiment import data, model as model_module

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
    probabilities = iter(data.predict_probabilities(model, texts, PREDICT_BATCH,
                                                    _max_length(model)))
    explained = iter(explain_texts(model, texts) if args.explain else [None] * len(texts))
    results = []
    for (where, text), ok in zip(reviews, has_words):
        if not ok:
            print(f"-\t-\t{_placeholder(text)}" + ("\t-" if args.explain else ""), flush=True)
            results.append({"where": where, "text": text, "label": None,
                            "probability": None})
            continue
        probability, explanation = next(probabilities), next(explained)
        label = names[int(probability >= 0.5)]
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

    return common_serving.export_run(NAME, args.run, args.output,
                                     lambda path: _load_run_model(str(path))[1],
                                     serving.endpoints)
