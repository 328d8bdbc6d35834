"""Helpers for the sentiment tests: a generated review corpus and the tiny settings.

Real IMDB reviews from the mirror when `RNN_SUITE_DATA` is set (as CI does),
a small generated corpus (a CSV) otherwise; never the network.
"""

import csv
import os

import numpy as np

MIRROR = os.environ.get("RNN_SUITE_DATA")
POSITIVE = ["great", "wonderful", "moving", "brilliant", "superb", "loved", "funny", "fine"]
NEGATIVE = ["awful", "boring", "waste", "dull", "terrible", "hated", "poor", "mess"]
FILLER = ["the", "movie", "film", "a", "plot", "actors", "was", "and", "it", "story", "of",
          "this", "scenes", "director", "i", "really", "very", "ending", "music", "but"]

# Small enough that every training run takes seconds on two cores.
MODEL_FLAGS = ["--vocab-size", "800", "--max-length", "60", "--embedding-dim", "16",
               "--units", "8", "--attention-units", "8", "--embedding-dropout", "0.1",
               "--batch-size", "32",
               "--learning-rate", "0.01", "--seed", "3"]


def generated_reviews(count=400, seed=0):
    """Reviews of 8-40 words: filler plus sentiment words; the label is the majority side.

    Punctuation, `<br />` and mixed case are sprinkled in, so preprocessing matters.
    """
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for index in range(count):
        label = index % 2
        length = int(rng.integers(8, 41))
        words = list(rng.choice(FILLER, size=length))
        strong = POSITIVE if label else NEGATIVE
        weak = NEGATIVE if label else POSITIVE
        for _ in range(int(rng.integers(2, 5))):
            words.insert(int(rng.integers(0, len(words) + 1)), str(rng.choice(strong)))
        if rng.random() < 0.5:
            words.insert(int(rng.integers(0, len(words) + 1)), str(rng.choice(weak)))
        words[0] = words[0].capitalize()
        text = " ".join(words)
        text = text.replace(" and ", ", and ").replace(" but ", "<br /><br />But ") + "!"
        texts.append(text)
        labels.append("pos" if label else "neg")
    return texts, labels


def write_csv(path, texts, labels, text_col="review", label_col="sentiment"):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", text_col, label_col])
        for index, (text, label) in enumerate(zip(texts, labels)):
            writer.writerow([index, text, label])
    return path


def generated_csv(path, count=400):
    texts, labels = generated_reviews(count)
    return write_csv(path, texts, labels)


def data_flags(tmp_path):
    """Flags that select the test data: a slice of real IMDB, or the generated CSV."""
    if MIRROR:
        return ["--source", "files", "--limit", "300"]
    csv_path = generated_csv(tmp_path / "generated_reviews.csv")
    return ["--csv", str(csv_path), "--text-col", "review", "--label-col", "sentiment"]


def tiny_config(**overrides):
    from apps.sentiment.config import SentimentConfig

    settings = dict(vocab_size=200, max_length=30, embedding_dim=8, units=6, attention_units=5,
                    embedding_dropout=0.2, final_dropout=0.0)
    settings.update(overrides)
    return SentimentConfig(**settings)
