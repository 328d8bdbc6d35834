"""Sentiment quality on full IMDB: train from scratch, report test accuracy and wall time.

    nice -n 10 .venv/bin/python benchmarks/sentiment_quality.py --data-dir ../shared/data

Runs the app's own `train` (the same code as `rnn-suite sentiment train`) with
the app's defaults, reading the aclImdb files, under a 38-minute time limit
(any `train` flag overrides them; `--config best.json` runs a tuned
configuration), then trains two linear peers on the same training reviews
(scikit-learn, each one's C picked on the same validation split): the classic
TF-IDF of word 1-2 grams + logistic regression, and the stronger NB-weighted
binarized word 1-3 grams + logistic regression (Wang & Manning 2012, the
"NBSVM" recipe with a logistic loss), and prints one table with all three:
test accuracy, F1, ROC AUC, calibration error, epochs and wall time. The exact
McNemar test pairs ours with the stronger peer on the test reviews.
`--peers-only` trains just the two peers (no recurrent model) and prints their
columns, paired with each other. `--pair RUN_A RUN_B` trains nothing: it pairs two
finished runs' test predictions (`test_predictions.csv`) with the same test, which says
whether one recipe's lead over another is more than chance, and scores the two
classifiers averaged (as ULMFiT averages a forward and a backward one).
No pretrained embeddings. Reference points: the keras-io BiLSTM example reaches
0.843 after 2 epochs and 0.878 after 10; a tuned LSTM from scratch 0.865
(Dai & Le 2015); NB-weighted 1-3 gram LR/SVM 0.912-0.919 (Wang & Manning
2012; Mesnil et al. 2015). Target: at least 0.89.
"""

import argparse
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from apps.common import config as config_module  # noqa: E402
from apps.common.errors import UsageError, exit_on_usage_error  # noqa: E402
from apps.common import paired_test, tensorflow_env  # noqa: E402
from apps.sentiment.config import SentimentConfig  # noqa: E402

TARGET = 0.89
# The model and training settings are the app's own defaults (SentimentConfig).
DEFAULTS = dict(source="files", time_limit=38.0)
# The linear peer's inverse regularisation strengths, tried on the validation split.
PEER_C = (1.0, 4.0, 16.0)
PEER_NAME = "TF-IDF word 1-2 grams + logistic regression"
# The NB peer's, tried the same way. Lower than PEER_C: its rows are not
# length-normalised (hundreds of binary n-grams, each weighted by |r| ~ 0-5,
# against TF-IDF's unit-length rows), so the same C would regularise far less.
# On full IMDB validation accuracy is flat from C 3 to 100 (0.909-0.912), highest at 10.
NB_PEER_C = (0.1, 1.0, 10.0)
NB_PEER_NAME = "NB-weighted binary word 1-3 grams + logistic regression"
# Add-one smoothing of the per-class n-gram counts in the log-count ratio.
NB_ALPHA = 1.0
# The stronger peer's test predictions, written beside the run's own so that `--pair`
# can pair the two runs averaged with the peer as well (same columns as the run's).
PEER_PREDICTIONS = "peer_test_predictions.csv"


def main(argv=None):
    tensorflow_env.set_defaults()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    config_module.add_flags(parser, SentimentConfig)
    parser.add_argument("--peers-only", action="store_true",
                        help="train and score only the two linear peers (no recurrent model); "
                             "a quick check of the data and of the peers")
    parser.add_argument("--pair", nargs=2, metavar=("RUN_A", "RUN_B"),
                        help="train nothing: pair two finished sentiment runs' test "
                             "predictions with the exact McNemar test")
    args = parser.parse_args(argv)
    if args.pair:
        return pair_runs(*args.pair)
    flags = {k: v for k, v in vars(args).items()
             if k not in ("config", "peers_only", "pair")}
    config = config_module.build_config(SentimentConfig, {**DEFAULTS, **flags}, args.config)
    if args.peers_only:
        return peers_only(config)
    if config.run_dir is None:
        config.run_dir = f"runs/sentiment/quality-{time.strftime('%Y%m%d-%H%M%S')}"
    from apps.sentiment import evaluation, train as sentiment_train

    started = time.perf_counter()
    metrics = sentiment_train.train(config)
    wall = time.perf_counter() - started
    reviews = sentiment_train.load_reviews(config)
    peers = [linear_peer(reviews), nb_logistic_regression_peer(reviews)]
    config = sentiment_train.with_encoder_architecture(config)  # the sizes the model was built with
    ours = (f"{'Bi' if config.bidirectional else ''}{config.cell.upper()} "
            f"{config.units}x{config.layers}, {config.pooling} pooling, vocab "
            f"{config.vocab_size}, first {config.max_length} words, embedding "
            f"{config.embedding_dim}" + _recipe(config))
    splits = (f"{metrics['train_examples']:,} / {metrics['validation_examples']:,} / "
              f"{metrics['test_examples']:,}")
    ours_cells = {
        "model": ours,
        "parameters": f"{metrics['parameters']:,}",
        "train / validation / test": splits,
        "epochs (best kept by val accuracy)":
            f"{metrics['epochs_done']} of {metrics['epochs_requested']}"
            # The epoch the limit stops is counted, cut short.
            + (" (the last cut short by the time limit)" if metrics['stopped_by_time_limit']
               else ""),
        "best validation accuracy": f"{metrics['best_val_accuracy']:.4f}",
        "**test accuracy**": f"**{metrics['test_accuracy']:.4f}** (target {TARGET})",
        "test precision / recall / F1": _prf(metrics),
        "test ROC AUC": f"{metrics['test_roc_auc']:.4f}",
        "test ECE (10 bins) / Brier":
            f"{metrics['test_ece']:.4f} / {metrics['test_brier']:.4f}",
        "temperature (fitted on validation)": f"{metrics['temperature']:.3f}",
        "training throughput": f"{metrics['train_examples_per_second']:.0f} reviews/s",
        "training wall time": _minutes(metrics["train_seconds"]),
        "total wall time (load, train, calibrate, test)": _minutes(wall),
    }
    labels, probabilities = evaluation.read_predictions(
        Path(config.run_dir) / evaluation.PREDICTIONS)
    # Paired with the stronger peer: beating the weaker one as well then follows
    # from the accuracies, and a win over the stronger one is the claim worth testing.
    strongest = max(peers, key=lambda peer: peer["test_accuracy"])
    evaluation.write_predictions(Path(config.run_dir) / PEER_PREDICTIONS, labels,
                                 strongest["test_probabilities"])
    paired = paired_test.mcnemar(labels, probabilities >= 0.5, strongest["test_predicted"])
    print()
    _print_table(peers, ours_cells)
    print(f"\npaired with the stronger peer by test accuracy ({strongest['name']}, "
          f"{strongest['test_accuracy']:.4f}) on the same {len(labels):,} test reviews: ours "
          f"right where the peer is wrong {paired['ours_only']:,}, the peer right where ours "
          f"is wrong {paired['peer_only']:,}; exact McNemar test p = "
          f"{paired['p_value']:.3g} (the chance of a split at least this uneven if both were "
          "equally good)")
    # An extra row, never the model's figure (the rule): the calibrated probability
    # and the stronger peer's, averaged with equal weights (nothing fitted on test).
    import numpy as np

    blended = (probabilities + strongest["test_probabilities"]) / 2 >= 0.5
    blend_accuracy = float(np.mean(blended == np.asarray(labels).astype(bool)))
    blend_paired = paired_test.mcnemar(labels, blended, strongest["test_predicted"])
    print(f"\nensemble (an extra row, not the model's figure): ours and {strongest['name']}, "
          f"probabilities averaged: test accuracy {blend_accuracy:.4f}; against the peer "
          f"alone {blend_paired['ours_only']:,} / {blend_paired['peer_only']:,}, exact McNemar "
          f"p = {blend_paired['p_value']:.3g}")
    verdicts = "; ".join(
        f"the {label} peer "
        f"{'beaten' if metrics['test_accuracy'] > peer['test_accuracy'] else 'NOT beaten'}"
        for label, peer in zip(("TF-IDF", "NB-weighted"), peers))
    print(f"\ntarget (test accuracy >= {TARGET}): "
          f"{'met' if metrics['test_accuracy'] >= TARGET else 'NOT met'}; {verdicts}; "
          f"run in {config.run_dir}")
    return 0


def pair_runs(run_a, run_b):
    """`--pair`: two finished sentiment runs' test accuracies and McNemar's test between them.

    Then the two classifiers averaged, as ULMFiT averages its forward and backward
    ones: their probabilities with equal weights (nothing fitted on the test split),
    paired with each run alone, and with the stronger linear peer where a run's folder
    has the peer's predictions (`peer_test_predictions.csv`, which this script writes
    since 2026-12-07).
    """
    import numpy as np

    from apps.sentiment import evaluation

    scored = []  # each run's (labels, probabilities), in order, as pair_runs reads them

    def read_decisions(path):
        labels, probabilities = evaluation.read_predictions(path)
        scored.append((labels, probabilities))
        return labels, probabilities >= 0.5

    paired_test.pair_runs(run_a, run_b, evaluation.PREDICTIONS, read_decisions, "sentiment",
                          "reviews")
    (labels, a), (_, b) = scored
    averaged = (a + b) / 2 >= 0.5
    accuracy = float(np.mean(averaged.astype(np.int64) == labels))
    first, second = (paired_test.mcnemar(labels, averaged, alone >= 0.5) for alone in (a, b))
    print(f"the two runs' probabilities averaged: test accuracy {accuracy:.4f}; against the "
          f"first alone {first['ours_only']:,} / {first['peer_only']:,} (p = "
          f"{first['p_value']:.3g}), against the second alone {second['ours_only']:,} / "
          f"{second['peer_only']:,} (p = {second['p_value']:.3g})")
    peer_files = [Path(run) / PEER_PREDICTIONS for run in (run_a, run_b)
                  if (Path(run) / PEER_PREDICTIONS).exists()]
    if not peer_files:
        print(f"the peer is not paired: neither run has {PEER_PREDICTIONS} (runs of this "
              "script before 2026-12-07 did not write it)")
        return 0
    peer_labels, peer = evaluation.read_predictions(peer_files[0])
    if not np.array_equal(peer_labels, labels):
        raise UsageError(f"{peer_files[0]} was not scored on the same test reviews as the "
                         "runs (its labels differ): pair runs of the same test split")
    with_peer = paired_test.mcnemar(labels, averaged, peer >= 0.5)
    peer_accuracy = float(np.mean((peer >= 0.5).astype(np.int64) == labels))
    print(f"against the stronger linear peer ({peer_files[0]}: test accuracy "
          f"{peer_accuracy:.4f}): the average right where the peer is wrong "
          f"{with_peer['ours_only']:,}, the peer right where the average is wrong "
          f"{with_peer['peer_only']:,}, exact McNemar p = {with_peer['p_value']:.3g}")
    return 0


def _recipe(config):
    """What of the semi-supervised recipe a run used, for the model's row of the table."""
    parts = []
    if config.encoder_from:
        backward = (f" and the backward one {config.backward_encoder_from}"
                    if config.backward_encoder_from else "")
        parts.append(f"from the language model {config.encoder_from}{backward} ("
                     + ("gradual unfreezing, " if config.gradual_unfreezing else "")
                     + f"learning rates / {config.discriminative_decay:g} per layer down)")
    if config.learning_rate_schedule != "constant":
        parts.append(f"{config.learning_rate_schedule} learning rate from "
                     f"{config.learning_rate:g}")
    if config.adversarial:
        parts.append(f"adversarial training, norm {config.adversarial:g}")
    if config.virtual_adversarial:
        parts.append(f"virtual adversarial training on {config.unlabelled}, norm "
                     f"{config.virtual_adversarial:g}")
    return "".join(f"; {part}" for part in parts)


def peers_only(config):
    """`--peers-only`: the two linear peers on the reviews `config` names, no recurrent model.

    Prints their table columns, McNemar's exact test of the two on the test
    reviews, and each one's wall time in seconds.
    """
    from apps.sentiment import train as sentiment_train

    reviews = sentiment_train.load_reviews(config)
    peers = [linear_peer(reviews), nb_logistic_regression_peer(reviews)]
    tfidf, nb = peers
    paired = paired_test.mcnemar(reviews.y_test, nb["test_predicted"], tfidf["test_predicted"])
    print()
    _print_table(peers)
    print(f"\npaired on the same {len(reviews.y_test):,} test reviews: the NB-weighted peer "
          f"right where the TF-IDF peer is wrong {paired['ours_only']:,}, the TF-IDF peer "
          f"right where the NB-weighted is wrong {paired['peer_only']:,}; exact McNemar test "
          f"p = {paired['p_value']:.3g}")
    # The table's minutes are too coarse for a peer alone; seconds here.
    print("wall time (vectorise, fit each C, score): "
          + ", ".join(f"{peer['name']} {peer['seconds']:.1f} s" for peer in peers))
    return 0


def _print_table(peers, ours_cells=None):
    """The markdown table: one column per peer, after ours unless `ours_cells` is None.

    A row whose peers have no value (n/a) is left out when ours is not shown.
    """
    header = ["measure"] + (["ours"] if ours_cells is not None else [])
    print(f"| {' | '.join(header + [peer['name'] for peer in peers])} |")
    print("|---" * (len(header) + len(peers)) + "|")
    for name, cell in _PEER_ROWS:
        if ours_cells is None and cell is None:
            continue
        cells = [name] + ([ours_cells[name]] if ours_cells is not None else [])
        cells += ["n/a" if cell is None else cell(peer) for peer in peers]
        print(f"| {' | '.join(cells)} |")


# Each table row's name and how a peer's column reads (None: n/a for a linear peer).
_PEER_ROWS = [
    ("model", lambda p: f"{p['name']} (C {p['C']:g}, {p['features']:,} n-grams)"),
    ("parameters", lambda p: f"{p['features'] + 1:,}"),
    ("train / validation / test", lambda p: p["splits"]),
    ("epochs (best kept by val accuracy)", None),
    ("best validation accuracy", lambda p: f"{p['val_accuracy']:.4f}"),
    ("**test accuracy**", lambda p: f"**{p['test_accuracy']:.4f}**"),
    ("test precision / recall / F1", lambda p: _prf(p)),
    ("test ROC AUC", lambda p: f"{p['test_roc_auc']:.4f}"),
    ("test ECE (10 bins) / Brier", lambda p: f"{p['test_ece']:.4f} / {p['test_brier']:.4f}"),
    ("temperature (fitted on validation)", None),
    ("training throughput", None),
    ("training wall time", lambda p: _minutes(p["seconds"])),
    ("total wall time (load, train, calibrate, test)", lambda p: _minutes(p["seconds"])),
]


def _prf(metrics):
    return (f"{metrics['test_precision']:.4f} / {metrics['test_recall']:.4f} / "
            f"{metrics['test_f1']:.4f}")


def _clean(text):
    # IMDB reviews carry HTML line breaks; the recurrent model strips them too.
    return re.sub(r"<br\s*/?>", " ", text.lower())


def linear_peer(reviews):
    """The classic linear baseline on the same reviews: TF-IDF word 1-2 grams + logistic regression.

    Fitted on the training reviews the recurrent model trained on; C is
    picked by accuracy on the same validation split; scored on the test split.

    Returns:
        A dict: `name`, `C`, `features`, `splits`, `val_accuracy`, `test_accuracy`,
        `test_precision`, `test_recall`, `test_f1`, `test_roc_auc`, `test_ece`,
        `test_brier`, `test_predicted` (0/1 per test review, in order), `seconds` (fit,
        selection and scoring).
    """
    from sklearn.feature_extraction.text import TfidfVectorizer

    started = time.perf_counter()
    vectorizer = TfidfVectorizer(preprocessor=_clean, ngram_range=(1, 2), min_df=2,
                                 sublinear_tf=True)
    x_train = vectorizer.fit_transform(reviews.x_train)
    x_val, x_test = vectorizer.transform(reviews.x_val), vectorizer.transform(reviews.x_test)
    return _fit_and_score(PEER_NAME, x_train, x_val, x_test, reviews, PEER_C,
                          len(vectorizer.vocabulary_), started)


def nb_logistic_regression_peer(reviews):
    """The stronger linear baseline: NB-weighted binarized word 1-3 grams + logistic regression.

    Wang & Manning (2012)'s NBSVM recipe with a logistic loss: each review is
    the set of word 1-3 grams in it (0/1, the TF-IDF peer's lower-casing,
    `<br />` stripping and tokens), each n-gram scaled by its log-count ratio
    r = log((p / |p|_1) / (q / |q|_1)), p (q) being NB_ALPHA plus the number of
    positive (negative) training reviews holding it. The ratio and the
    vocabulary come from the training split only; C is picked by accuracy on
    the validation split, as for the TF-IDF peer; scored on the test split.

    Every n-gram seen in training is kept (min_df 1, no max_features): about
    5M of them on 22,500 reviews, a few GB at the peak, which fits this
    machine; a cap would cost accuracy.

    Returns:
        A dict with the same keys as `linear_peer`'s.
    """
    import numpy as np
    from sklearn.feature_extraction.text import CountVectorizer

    started = time.perf_counter()
    vectorizer = CountVectorizer(preprocessor=_clean, ngram_range=(1, 3), binary=True)
    x_train = vectorizer.fit_transform(reviews.x_train)
    positive = np.asarray(reviews.y_train) == 1
    p = NB_ALPHA + np.asarray(x_train[positive].sum(axis=0), np.float64).ravel()
    q = NB_ALPHA + np.asarray(x_train[~positive].sum(axis=0), np.float64).ravel()
    ratio = np.log((p / p.sum()) / (q / q.sum()))

    def weighted(x):
        # A sparse matrix times a dense row comes back as COO (scipy 1.17); liblinear and
        # row slicing want CSR.
        return x.multiply(ratio).tocsr()

    x_val, x_test = vectorizer.transform(reviews.x_val), vectorizer.transform(reviews.x_test)
    return _fit_and_score(NB_PEER_NAME, weighted(x_train), weighted(x_val), weighted(x_test),
                          reviews, NB_PEER_C, len(vectorizer.vocabulary_), started)


def _fit_and_score(name, x_train, x_val, x_test, reviews, grid, features, started):
    """Logistic regression on a peer's features: C picked on validation, scored on test.

    The scoring both peers share, so that their table columns mean the same.

    Args:
        name: The peer's name, for the table.
        x_train, x_val, x_test: Each split's feature rows (sparse), in `reviews`' order.
        reviews: The splits (labels from here).
        grid: The C values tried; the best by validation accuracy is kept
            (the first of equals).
        features: The number of features (n-grams) the rows have.
        started: `time.perf_counter()` when the peer began (vectorising counts).

    Returns:
        The dict `linear_peer` describes.
    """
    import numpy as np
    from sklearn import metrics as skm
    from sklearn.linear_model import LogisticRegression

    from apps.sentiment import pictures

    fitted = [(c, LogisticRegression(C=c, max_iter=2000, solver="liblinear").fit(
        x_train, reviews.y_train)) for c in grid]
    c, model = max(fitted, key=lambda item: item[1].score(x_val, reviews.y_val))
    probabilities = model.predict_proba(x_test)[:, 1]
    truth = np.asarray(reviews.y_test, np.int64)
    predicted = (probabilities >= 0.5).astype(np.int64)
    return {
        "name": name,
        "C": c,
        "features": features,
        "splits": (f"{len(reviews.y_train):,} / {len(reviews.y_val):,} / "
                   f"{len(reviews.y_test):,}"),
        "val_accuracy": float(model.score(x_val, reviews.y_val)),
        "test_accuracy": float((predicted == truth).mean()),
        "test_precision": float(skm.precision_score(truth, predicted, zero_division=0)),
        "test_recall": float(skm.recall_score(truth, predicted, zero_division=0)),
        "test_f1": float(skm.f1_score(truth, predicted, zero_division=0)),
        "test_roc_auc": float(skm.roc_auc_score(truth, probabilities)),
        "test_ece": pictures.reliability(probabilities, truth)[-1],
        "test_brier": float(np.mean((probabilities - truth) ** 2)),
        "test_predicted": predicted,
        "test_probabilities": probabilities,
        "seconds": time.perf_counter() - started,
    }


def _minutes(seconds):
    return f"{seconds / 60:.1f} min"


if __name__ == "__main__":
    exit_on_usage_error(main)
