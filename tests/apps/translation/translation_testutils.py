"""Helpers for the translation tests: the data, the tiny settings, a trained run.

Real Anki spa->eng pairs from the mirror when `RNN_SUITE_DATA` is set (as CI
does), the generated reverse-and-rename task otherwise; never the network.
"""

import os

MIRROR = os.environ.get("RNN_SUITE_DATA")
DATA = (["--dataset", "anki", "--source-lang", "spa", "--target-lang", "eng"] if MIRROR
        else ["--dataset", "generated"])
DATASET = "anki" if MIRROR else "generated"
# A sentence of the training language, for predict.
SENTENCE = "Me gusta el café." if MIRROR else "ba ko mi."
OTHER_SENTENCES = (["Tom está aquí.", "¿Dónde está el gato?", "Hace frío."] if MIRROR
                   else ["ko ze.", "mi tu lo pa ri.", "ba ba ko."])

# Small enough that training takes seconds on two cores.
TINY = [*DATA, "--cell", "gru", "--units", "16", "--embedding-dim", "16",
        "--attention-units", "8", "--batch-size", "32", "--limit", "400",
        "--learning-rate", "0.01", "--min-count", "1", "--max-length", "10",
        "--eval-limit", "40", "--beam-size", "3", "--seed", "3", "--dropout", "0.0"]
