"""Helpers for the tuning tests: tiny data and spaces per app, a CLI runner, file readers.

Always the small offline data (scikit-learn's 8x8 digits, a generated review
CSV, the generated translation task), so a trial takes seconds and the tests
never need the network or the data mirror.
"""

import csv
import json

import numpy as np

from cli_testutils import run_cli  # noqa: F401 - the tests import it from here

MNIST_DATA = ["--source", "digits", "--mode", "row", "--limit", "200", "--seed", "3"]
MNIST_SPACE = {"cell": "gru", "units": [4, 8], "layers": 1, "bidirectional": False,
               "batch_size": 32, "learning_rate": {"min": 0.005, "max": 0.02}}
SENTIMENT_SPACE = {"cell": "gru", "units": [4, 6], "layers": 1, "bidirectional": False,
                   "vocab_size": 300,
                   "max_length": 40, "embedding_dim": 8, "batch_size": 32,
                   "pooling": ["max", "attention"], "attention_units": 4,
                   "learning_rate": 0.01}
TRANSLATION_DATA = ["--dataset", "generated", "--limit", "160", "--min-count", "1",
                    "--max-length", "10", "--seed", "3"]
TRANSLATION_SPACE = {"cell": "gru", "units": [8, 12], "layers": 1, "embedding_dim": 8,
                     "attention_units": 8, "batch_size": 32, "readout": False,
                     "learning_rate": 0.01, "dropout": 0.0, "bidirectional": False}
# Generated shapes, one per 32-pixel image, and the small CNN encoder trained with the decoder.
CAPTIONING_DATA = ["--dataset", "shapes", "--shapes-images", "200", "--shapes-max", "1",
                   "--image-size", "32", "--seed", "3"]
CAPTIONING_SPACE = {"cell": "lstm", "units": [16, 24], "embedding_dim": 16,
                    "attention_units": 16, "batch_size": 32, "learning_rate": 0.003}
POSITIVE = ["great", "wonderful", "superb", "loved", "brilliant"]
NEGATIVE = ["awful", "boring", "dull", "hated", "terrible"]
FILLER = ["the", "movie", "plot", "was", "and", "it", "a", "story", "actors", "music"]


def space(values):
    """A `--space` argument (inline JSON)."""
    return json.dumps(values)


def review_csv(path, count=160, seed=0):
    """A CSV of short generated reviews (text,label): the label is the side with more words."""
    rng = np.random.default_rng(seed)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        for index in range(count):
            label = index % 2
            words = list(rng.choice(FILLER, size=int(rng.integers(6, 20))))
            for _ in range(3):
                words.insert(int(rng.integers(0, len(words) + 1)),
                             str(rng.choice(POSITIVE if label else NEGATIVE)))
            writer.writerow([" ".join(words), "pos" if label else "neg"])
    return path


def read_trials(project):
    with open(project / "trials.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def read_json(path):
    return json.loads(path.read_text())
