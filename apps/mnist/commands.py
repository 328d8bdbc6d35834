"""`rnn-suite mnist train|evaluate|predict`: the flags, and what each command does.

TensorFlow is imported inside the commands, not at the top, so that `--help`
and flag errors answer at once.
"""

from pathlib import Path

from apps.common import app_commands
from apps.common import config as config_module
from apps.common import run_dir as run_dir_module
from apps.mnist import serving
from apps.mnist.config import MnistConfig

NAME = "mnist"
SUMMARY = "pixel-by-pixel MNIST: classify a digit read one pixel (or one row) per step"
GRID_DIGITS = 32
FORMING_DIGITS = 4
EVALUATION_FILE = app_commands.EVALUATION_FILE
PICTURES = {
    "confusion_matrix": "confusion_matrix.png",
    "test_predictions": "test_predictions.png",
    "prediction_over_time": "prediction_over_time.png",
}


def add_commands(parser):
    """Add `train`, `evaluate` and `predict` under the app's parser."""
    commands = app_commands.add_train(
        parser, NAME, MnistConfig, train,
        "Train a recurrent classifier on digits read pixel by pixel (or row by row). Writes "
        "config.json, model.keras (best by validation accuracy), history.csv, metrics.json, "
        "TensorBoard logs and pictures to the run folder.")
    app_commands.add_evaluate(
        commands, NAME, evaluate_command,
        help="test accuracy, confusion matrix and pictures of a trained run",
        description="Evaluate a run's model on the test split of the dataset it was trained on "
                    "(MNIST or the 8x8 digits) and draw the confusion matrix, a grid of test "
                    "digits with predicted and true labels, and how the prediction forms "
                    "while the pixels arrive.",
        data_help="folder with MNIST (default: $RNN_SUITE_DATA, then tfds)",
        items="test images", batch_size=256)
    predict = app_commands.add_predict(
        commands, NAME, predict_command, help="classify image files with a trained run",
        description="Classify image files (PNG, JPEG, ...; grayscale or colour, any size). "
                    "Each is turned into the MNIST convention (white digit on black, inverted "
                    "if the background is light, centred, resized to the model's 28x28 or "
                    "8x8) and the class and top probabilities are printed.")
    predict.add_argument("images", nargs="+", metavar="IMAGE",
                         help="image files to classify")
    predict.add_argument("--top", type=config_module.positive_int, default=3,
                         help="how many of the most probable classes to print (default: 3)")
    app_commands.add_export(commands, NAME, export_command, serving.SIGNATURE)


def load_data(config):
    """The digits a config names (`--source`, `--data-dir`, `--limit`); bad input fails here.

    Returns:
        A `data.Digits` (train, validation and test splits).
    """
    from apps.mnist import data

    return data.load(config.source, config.data_dir, config.limit)


def build_training(config, digits):
    """The model a config describes, compiled, with its training and validation pipelines.

    The one place the model is built and compiled for training: `train` uses
    it, and so does `rnn-suite tune`. The test split is not touched.

    Returns:
        A `training.TrainingSetup` (best epoch by validation accuracy).
    """
    from apps.common import training
    from apps.mnist import data, model as model_module

    model = model_module.build_model(config, digits.image_size)
    train_data = data.pipeline(digits.x_train, digits.y_train, config.batch_size,
                               shuffle=True, seed=config.seed)
    validation_data = data.pipeline(digits.x_val, digits.y_val, config.batch_size)
    training.compile_model(model, config, loss="sparse_categorical_crossentropy",
                           metrics=["accuracy"], train_data=train_data)
    return training.TrainingSetup(model, train_data, validation_data,
                                  monitor="val_accuracy", mode="max")


def train(config, extra_callbacks=()):
    """Train from a validated `MnistConfig`; returns the metrics written to `metrics.json`."""
    from apps.common import training

    return training.run_training(training.TrainingStory(
        NAME, load_data, build_training, evaluate=_evaluate_run, settings=_settings,
        headline=lambda metrics: ("test accuracy", metrics["test_accuracy"]),
        describe=_describe), config, extra_callbacks)


def _describe(config, digits):
    steps, features = _sequence_shape(config.mode, digits.image_size)
    return (f"using {len(digits.x_train):,} train / {len(digits.x_val):,} validation / "
            f"{len(digits.x_test):,} test images, as sequences of {steps} steps x {features} "
            f"({config.mode} mode)")


def _settings(config, digits):
    return {"mode": config.mode, "cell": config.cell, "units": config.units,
            "layers": config.layers, "bidirectional": config.bidirectional,
            "train_examples": len(digits.x_train)}


def _evaluate_run(model, config, digits, run):
    return evaluate_model(model, digits, run.path, config.batch_size)


def _sequence_shape(mode, size):
    return (size, size) if mode == "row" else (size * size, 1)


def evaluate_model(model, digits, out_dir, batch_size):
    """Test accuracy and loss, plus the confusion matrix, a grid of digits, the forming picture.

    Returns:
        {"test_accuracy", "test_loss", "test_examples", "pictures"}.
    """
    import numpy as np

    from apps.common import plots
    from apps.mnist import data, pictures

    probabilities = model.predict(data.pipeline(digits.x_test, digits.y_test, batch_size),
                                  verbose=0)
    predicted = probabilities.argmax(axis=1)
    truth = digits.y_test
    picked = np.clip(probabilities[np.arange(len(truth)), truth], 1e-7, 1.0)
    accuracy = float((predicted == truth).mean())
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    plots.confusion_matrix(truth, predicted, data.CLASS_NAMES, out / PICTURES["confusion_matrix"],
                           title=f"{digits.name} test")
    shown = min(GRID_DIGITS, len(truth))
    plots.image_grid(
        digits.x_test[:shown],
        [f"{predicted[i]} (true {truth[i]})" for i in range(shown)],
        out / PICTURES["test_predictions"],
        title_colors=["tab:green" if predicted[i] == truth[i] else "tab:red"
                      for i in range(shown)],
        suptitle="Test digits: predicted (true); red = wrong")
    # Different classes make the picture more telling than the first few digits.
    _, first_of_class = np.unique(truth, return_index=True)
    chosen = np.sort(first_of_class)[:FORMING_DIGITS]
    pictures.prediction_forming(model, digits.x_test[chosen], truth[chosen],
                                out / PICTURES["prediction_over_time"], data.CLASS_NAMES)
    return {
        "test_accuracy": accuracy,
        "test_loss": float(-np.log(picked).mean()),
        "test_examples": int(len(truth)),
        "pictures": [PICTURES[k] for k in ("confusion_matrix", "test_predictions",
                                          "prediction_over_time")],
    }


def _load_run_model(run):
    path = run_dir_module.find_model(NAME, run)
    from apps.common import model_files
    from apps.mnist import model as model_module  # noqa: F401 - registers ImageToSequence

    return path, model_files.load_model(path, NAME)


def evaluate_command(args):
    """`evaluate --run DIR`: metrics and pictures for a trained run."""
    path, model = _load_run_model(args.run)
    from apps.mnist import data

    size = model.input_shape[1]
    # The model's input size says which dataset it was trained on.
    digits = data.load(data_dir=args.data_dir, limit=args.limit,
                       want="digits" if size == 8 else "mnist")
    print(f"data: {digits.description}", flush=True)
    out = app_commands.evaluation_folder(args, path)
    report = evaluate_model(model, digits, out, args.batch_size)
    return app_commands.write_evaluation(
        out, report, path, digits.name, app_commands.split_test_data(digits.description),
        f"{NAME}: test accuracy {report['test_accuracy']:.4f} on {report['test_examples']:,} "
        f"{digits.name} test images (loss {report['test_loss']:.4f})", ["pictures"])


def predict_command(args):
    """`predict --run DIR image.png ...`: the class and top probabilities of each image."""
    import numpy as np

    from apps.common import images as images_module

    opened = [images_module.open_image(p) for p in args.images]  # bad files fail before TF
    path, model = _load_run_model(args.run)
    from apps.mnist import data

    size = model.input_shape[1]
    batch = np.stack([data.to_model_input(image, size) for image in opened]).astype(np.float32)
    probabilities = model.predict(batch, verbose=0)
    results = []
    for name, probs in zip(args.images, probabilities):
        ranked = np.argsort(probs)[::-1][:args.top]
        top = ", ".join(f"{data.CLASS_NAMES[k]}: {probs[k]:.3f}" for k in ranked)
        print(f"{name}: {data.CLASS_NAMES[ranked[0]]}  ({top})", flush=True)
        results.append({"image": str(name), "class": int(ranked[0]),
                        "probabilities": [float(p) for p in probs]})
    return results


def export_command(args):
    """`export --run DIR [--output DIR]`: a SavedModel classifying image bytes (see serving.py)."""
    from apps.common import serving as common_serving

    return common_serving.export_run(NAME, args.run, args.output,
                                     lambda path: _load_run_model(str(path))[1],
                                     serving.endpoints)
