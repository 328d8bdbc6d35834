"""Scoring a trained sentiment model on a test set: the metrics, the pictures, the predictions file,
and the words that decided each verdict.

`train` scores the best epoch's model with `evaluate_model`, and so does
`rnn-suite sentiment evaluate`: one evaluation for both.
"""

import csv
from pathlib import Path


EXPLAIN_FOLDER = "explain"
PREDICT_BATCH = 64


EXPLAIN_EXAMPLES = 4  # right and wrong test reviews each


UNKNOWN_ID = 1  # TextVectorization's [UNK]


PICTURES = {
    "confusion_matrix": "confusion_matrix.png",
    "reliability": "reliability.png",
}


# One row per test review, in the test split's order: for error analysis, and for
# paired comparisons with another model scored on the same reviews.
PREDICTIONS = "test_predictions.csv"


def max_length_of(model):
    """The number of words the model reads of a review (its `truncate` layer's)."""
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

    max_length = max_length_of(model)
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


def classify(model, texts):
    """`(label, P(class 1))` for each text (each must have a word): what `predict` prints."""
    from apps.sentiment import data, model as model_module

    names = model_module.class_names(model)
    probabilities = data.predict_probabilities(model, texts, PREDICT_BATCH, max_length_of(model))
    return [(names[int(p >= 0.5)], float(p)) for p in probabilities]


def explain_texts(model, texts):
    """For each text: (P(positive), the words the model read, their attention weights, unknown?).

    `unknown` flags the words outside the vocabulary (the model saw `[UNK]` there).
    """
    import numpy as np
    import tensorflow as tf

    from apps.common import text as text_module
    from apps.sentiment import model as model_module

    explainer = model_module.explainer(model)
    max_length = max_length_of(model)
    results = []
    for text in texts:  # one at a time: no padding, weights align with the words
        probability, ids, weights = explainer.predict_on_batch(tf.constant([text]))
        words = text_module.words([text])[0][:max_length]
        weights = np.asarray(weights)[0][:len(words)]
        unknown = np.asarray(ids)[0][:len(words)] == UNKNOWN_ID
        results.append((float(np.asarray(probability).ravel()[0]), words, weights, unknown))
    return results
