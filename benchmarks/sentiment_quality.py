"""Sentiment quality on full IMDB: train from scratch, report test accuracy and wall time.

    nice -n 10 .venv/bin/python benchmarks/sentiment_quality.py --data-dir ../shared/data

Runs the app's own `train` (the same code as `rnn-suite sentiment train`) with
the app's defaults, reading the aclImdb files, under a 38-minute time limit
(any `train` flag overrides them), then prints
one table: test accuracy, F1, ROC AUC, calibration error, epochs and wall time.
No pretrained embeddings. Reference points: the keras-io BiLSTM example reaches
0.843 after 2 epochs and 0.878 after 10; a tuned LSTM from scratch 0.865
(Dai & Le 2015). Target: at least 0.89.
"""

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from apps.common import config as config_module  # noqa: E402
from apps.sentiment.config import SentimentConfig  # noqa: E402

TARGET = 0.89
# The model and training settings are the app's own defaults (SentimentConfig).
DEFAULTS = dict(source="files", time_limit=38.0)


def main(argv=None):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    config_module.add_flags(parser, SentimentConfig)
    args = parser.parse_args(argv)
    flags = {k: v for k, v in vars(args).items() if k != "config"}
    config = config_module.build_config(SentimentConfig, {**DEFAULTS, **flags}, args.config)
    if config.run_dir is None:
        config.run_dir = f"runs/sentiment/quality-{time.strftime('%Y%m%d-%H%M%S')}"
    from apps.sentiment import commands

    started = time.perf_counter()
    metrics = commands.train(config)
    wall = time.perf_counter() - started
    rows = [
        ("model", f"{'Bi' if config.bidirectional else ''}{config.cell.upper()} "
                  f"{config.units}x{config.layers}, {config.pooling} pooling, vocab "
                  f"{config.vocab_size}, first {config.max_length} words, embedding "
                  f"{config.embedding_dim}"),
        ("parameters", f"{metrics['parameters']:,}"),
        ("train / validation / test", f"{metrics['train_examples']:,} / "
                                      f"{metrics['validation_examples']:,} / "
                                      f"{metrics['test_examples']:,}"),
        ("epochs (best kept by val accuracy)", f"{metrics['epochs_done']} of "
                                               f"{metrics['epochs_requested']}"
                                               + (" (time limit)" if metrics[
                                                   'stopped_by_time_limit'] else "")),
        ("best validation accuracy", f"{metrics['best_val_accuracy']:.4f}"),
        ("**test accuracy**", f"**{metrics['test_accuracy']:.4f}** (target {TARGET})"),
        ("test precision / recall / F1", f"{metrics['test_precision']:.4f} / "
                                         f"{metrics['test_recall']:.4f} / "
                                         f"{metrics['test_f1']:.4f}"),
        ("test ROC AUC", f"{metrics['test_roc_auc']:.4f}"),
        ("test ECE (10 bins) / Brier", f"{metrics['test_ece']:.4f} / "
                                       f"{metrics['test_brier']:.4f}"),
        ("temperature (fitted on validation)", f"{metrics['temperature']:.3f}"),
        ("training throughput", f"{metrics['train_examples_per_second']:.0f} reviews/s"),
        ("training wall time", _minutes(metrics["train_seconds"])),
        ("total wall time (load, train, calibrate, test)", _minutes(wall)),
    ]
    print()
    print("| measure | value |")
    print("|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")
    print(f"\ntarget (test accuracy >= {TARGET}): "
          f"{'met' if metrics['test_accuracy'] >= TARGET else 'NOT met'}; run in {config.run_dir}")
    return 0


def _minutes(seconds):
    return f"{seconds / 60:.1f} min"


if __name__ == "__main__":
    sys.exit(main())
