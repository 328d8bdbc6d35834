"""`rnn-suite mnist train|evaluate|predict|export|demo`: the flags, and what each command does.

`train` itself is in `train.py`, the test report and pictures in `evaluation.py`.

TensorFlow is imported inside the commands, not at the top, so that `--help`
and flag errors answer at once.
"""

from apps.common import app_commands
from apps.common import config as config_module
from apps.common import trained_run
from apps.mnist import NAME, serving
from apps.mnist.config import MnistConfig
from apps.mnist.evaluation import PREDICTIONS, evaluate_model
from apps.mnist.train import train
SUMMARY = "pixel-by-pixel MNIST: classify a digit read one pixel (or one row) per step"
EVALUATION_FILE = app_commands.EVALUATION_FILE


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
    app_commands.add_demo(commands, NAME, MnistConfig)


def evaluate_command(args):
    """`evaluate --run DIR`: metrics and pictures for a trained run."""
    trained = trained_run.open_run(NAME, args.run, MnistConfig)
    path, model = trained.path, trained.model
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
        f"{digits.name} test images (loss {report['test_loss']:.4f})", [PREDICTIONS, "pictures"])


def predict_command(args):
    """`predict --run DIR image.png ...`: the class and top probabilities of each image."""
    from apps.common import images as images_module
    from apps.mnist.evaluation import classify_images

    opened = [images_module.open_image(p) for p in args.images]  # bad files fail before TF
    model = trained_run.open_run(NAME, args.run, MnistConfig).model
    results = []
    for name, (line, label, probabilities, _) in zip(
            args.images, classify_images(model, opened, args.top)):
        print(f"{name}: {line}", flush=True)
        results.append({"image": str(name), "class": label, "probabilities": probabilities})
    return results


def export_command(args):
    """`export --run DIR [--output DIR]`: a SavedModel classifying image bytes (see serving.py)."""
    from apps.common import serving as common_serving

    return common_serving.export_run(NAME, args.run, args.output, serving.endpoints)
