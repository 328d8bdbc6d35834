"""Scoring a trained MNIST model on a test split: accuracy and loss, and the pictures.

`train` scores the best epoch's model with `evaluate_model`, and so does
`rnn-suite mnist evaluate`: one evaluation for both. `classify_images` is what
`predict` prints for each image, and what the demo page shows.
"""

import csv
from pathlib import Path


GRID_DIGITS = 32


FORMING_DIGITS = 4


# One row per test digit, in order: what a paired test of two runs reads.
PREDICTIONS = "test_predictions.csv"


PICTURES = {
    "confusion_matrix": "confusion_matrix.png",
    "test_predictions": "test_predictions.png",
    "prediction_over_time": "prediction_over_time.png",
}


def evaluate_model(model, digits, out_dir, batch_size):
    """Test accuracy and loss, the pictures, and each digit's prediction in `test_predictions.csv`.

    The pictures: the confusion matrix, a grid of digits, the prediction forming.
    `test_predictions.csv` has `index` (position in the test split), `label` and
    `predicted` (classes), one row per test digit: `benchmarks/mnist_quality.py
    --pair` tests two runs against each other on it.

    Returns:
        {"test_accuracy", "test_loss", "test_examples", "pictures", "predictions"}.
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
    write_predictions(out / PREDICTIONS, truth, predicted)
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
        "predictions": PREDICTIONS,
    }


def write_predictions(path, labels, predicted):
    """Write `test_predictions.csv`: index, label, predicted, one row per digit."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["index", "label", "predicted"])
        writer.writerows((index, int(label), int(guess))
                         for index, (label, guess) in enumerate(zip(labels, predicted)))


def read_predictions(path):
    """(labels int64 [N], predicted int64 [N]) from a `test_predictions.csv`."""
    import numpy as np

    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return (np.array([int(row["label"]) for row in rows], np.int64),
            np.array([int(row["predicted"]) for row in rows], np.int64))


def classify_images(model, images, top=3):
    """The class and top probabilities of each PIL image, as `predict` prints them.

    Each image goes through `data.to_model_input` (MNIST's convention: white on
    black, centred, the model's size).

    Returns:
        A list of (line, class, probabilities [10], model input [size, size] uint8), where
        line is "3  (3: 0.912, 5: 0.051, 8: 0.020)", the `top` most probable classes.
    """
    import numpy as np

    from apps.mnist import data

    size = model.input_shape[1]
    batch = np.stack([data.to_model_input(image, size) for image in images])
    probabilities = model.predict(batch.astype(np.float32), verbose=0)
    results = []
    for pixels, probs in zip(batch, probabilities):
        ranked = np.argsort(probs)[::-1][:top]
        shown = ", ".join(f"{data.CLASS_NAMES[k]}: {probs[k]:.3f}" for k in ranked)
        results.append((f"{data.CLASS_NAMES[ranked[0]]}  ({shown})", int(ranked[0]),
                        [float(p) for p in probs], pixels))
    return results
