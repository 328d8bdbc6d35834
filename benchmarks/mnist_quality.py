"""MNIST app quality: test accuracy, wall time and training speed, in a time budget you choose.

Runs, each a normal `rnn-suite mnist train` run (its folder lands under
--runs, default runs/benchmarks/mnist/):

- row:    row by row (28 steps of 28 pixels), LSTM 128, up to --row-epochs
          epochs (target: >= 98.5% test accuracy).
- pixel:  pixel by pixel (784 steps of 1 pixel), IRNN, GRU and LSTM, 128 units,
          each trained for --minutes (published marks after long GPU training:
          IRNN 97.0%, LSTM 98.9%, GRU about 96%).
- permuted: the same three on the permuted-pixel task (only with --only permuted).
- --peer: each pixel/permuted run again with the same model built from Keras's
          built-in layers (`--builtin-layers`), in the same budget, and the two paired
          with McNemar's exact test on the test digits.
- digits: the README's main command on the embedded 8x8 digits, timed from
          the shell like a user would (start-up included).

Prints a table (mode, cell, units, epochs, test accuracy, wall time, steps/s)
and writes it, with every run's metrics, to --out as JSON.

    python benchmarks/mnist_quality.py --minutes 10                 # everything
    python benchmarks/mnist_quality.py --minutes 60 --only pixel    # on a GPU
    python benchmarks/mnist_quality.py --minutes 1 --limit 2000     # a smoke run
    # #23's recipe (98.16% in 120 min here, docs/mnist.md): LSTM, chrono biases, Adam
    # 2e-3 with a cosine over 26 epochs, batch 32, beside Keras's LSTM, paired
    python benchmarks/mnist_quality.py --minutes 120 --only pixel --cells lstm \
        --chrono-init --learning-rate-schedule cosine --learning-rate 0.002 \
        --batch-size 32 --pixel-epochs 26 --peer
    # two finished `rnn-suite mnist train` runs, paired on their test digits
    python benchmarks/mnist_quality.py --pair runs/mnist/A runs/mnist/B
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from apps.common import paired_test, tensorflow_env  # noqa: E402
from apps.common.errors import exit_on_usage_error  # noqa: E402

# The README's main command (see the quickstart); timed as a user runs it.
MAIN_COMMAND = ["rnn-suite", "mnist", "train", "--epochs", "30", "--batch-size", "32",
                "--learning-rate", "0.003"]
PIXEL_CELLS = ("rnn", "gru", "lstm")
SUITES = ("row", "pixel", "permuted", "digits")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pair", nargs=2, metavar=("RUN_A", "RUN_B"),
                        help="train nothing: pair two finished MNIST runs' test predictions "
                             "with the exact McNemar test")
    parser.add_argument("--minutes", type=float,
                        help="training budget of each run, in minutes (the row run stops "
                             "earlier if it reaches --row-epochs); required unless --pair")
    parser.add_argument("--only", nargs="+", choices=SUITES, default=["row", "pixel", "digits"],
                        help="which measurements to run (default: row pixel digits)")
    parser.add_argument("--row-epochs", type=int, default=20,
                        help="epochs of the row-by-row LSTM run (default: 20)")
    parser.add_argument("--units", type=int, default=128, help="units (default: 128)")
    parser.add_argument("--batch-size", type=int, default=128, help="batch size (default: 128)")
    parser.add_argument("--irnn-learning-rate", type=float, default=1e-4,
                        help="Adam learning rate of the IRNN runs; ReLU recurrences need a "
                             "smaller step than gated cells (default: 1e-4)")
    parser.add_argument("--learning-rate", type=float, default=1e-3,
                        help="Adam learning rate of the GRU and LSTM runs (default: 1e-3)")
    parser.add_argument("--cells", nargs="+", choices=PIXEL_CELLS, default=list(PIXEL_CELLS),
                        help="cells of the pixel and permuted runs (default: rnn gru lstm)")
    parser.add_argument("--pixel-epochs", type=int, default=1000,
                        help="epochs of the pixel and permuted runs; the budget usually ends "
                             "them first, but a cosine schedule decays over these (default: "
                             "1000)")
    parser.add_argument("--learning-rate-schedule", choices=("constant", "cosine", "slanted"),
                        default="constant",
                        help="schedule of the pixel and permuted runs (default: constant)")
    parser.add_argument("--chrono-init", action="store_true",
                        help="chrono initialization of the gru/lstm gate biases in the pixel "
                             "and permuted runs (layers.ChronoBias; the IRNN has no gates)")
    parser.add_argument("--peer", action="store_true",
                        help="run each pixel/permuted model again on Keras's built-in layers, "
                             "in the same budget")
    parser.add_argument("--precision", choices=("float32", "mixed_bfloat16"), default="float32",
                        help="precision of every run (default: float32)")
    parser.add_argument("--limit", type=int, default=0,
                        help="examples per split, for smoke runs (default: 0, all)")
    parser.add_argument("--data-dir", default=None,
                        help="folder holding MNIST (default: $RNN_SUITE_DATA)")
    parser.add_argument("--jit", action="store_true", help="compile training steps with XLA")
    parser.add_argument("--runs", default="runs/benchmarks/mnist",
                        help="parent folder of the run folders (default: runs/benchmarks/mnist)")
    parser.add_argument("--out", default=None,
                        help="JSON file for the results (default: <runs>/results-<time>.json)")
    args = parser.parse_args(argv)
    if args.minutes is None and not args.pair:
        parser.error("--minutes is required (the training budget of each run), unless --pair")
    return args


def _train(args, name, **settings):
    """One in-process training run; returns its metrics and its folder (`run_dir`)."""
    from apps.mnist.train import train
    from apps.mnist.config import MnistConfig
    from apps.common import config as config_module

    run_dir = Path(args.runs) / f"{time.strftime('%Y%m%d-%H%M%S')}-{name}"
    config = MnistConfig(
        units=args.units, batch_size=args.batch_size, limit=args.limit, jit=args.jit,
        data_dir=args.data_dir, source="files", time_limit=args.minutes,
        precision=args.precision, run_dir=str(run_dir), **settings)
    config_module.validate(config)
    print(f"\n=== {name}: {settings} (budget {args.minutes:g} min) ===", flush=True)
    return {**train(config), "run_dir": str(run_dir)}


def pair_runs(run_a, run_b):
    """Two finished MNIST runs' test accuracies and McNemar's test between them (printed).

    Returns:
        The test's {"ours_only", "peer_only", "p_value"}, the first run as "ours".
    """
    from apps.mnist import evaluation

    return paired_test.pair_runs(run_a, run_b, evaluation.PREDICTIONS,
                                 evaluation.read_predictions, "mnist", "digits",
                                 accuracy_format=".2%")


def _main_command(args):
    """The README's main command, on the embedded digits, timed from outside."""
    executable = shutil.which("rnn-suite") or str(Path(sys.executable).parent / "rnn-suite")
    command = [executable] + MAIN_COMMAND[1:] + ["--source", "digits"]
    workdir = Path(tempfile.mkdtemp(prefix="rnn-suite-main-"))
    env = {k: v for k, v in os.environ.items() if k != "RNN_SUITE_DATA"}
    print(f"\n=== digits: {' '.join(MAIN_COMMAND)} (in {workdir}) ===", flush=True)
    started = time.perf_counter()
    subprocess.run(command, cwd=workdir, env=env, check=True)
    wall = time.perf_counter() - started
    (metrics_file,) = workdir.glob("runs/mnist/*/metrics.json")
    metrics = json.loads(metrics_file.read_text())
    metrics["wall_seconds"] = round(wall, 2)  # shell-to-shell, start-up included
    metrics["command"] = " ".join(MAIN_COMMAND)
    return metrics


def _row(metrics):
    return {
        "mode": metrics["mode"] if metrics["dataset"] == "mnist" else "pixel (8x8 digits)",
        "cell": {"rnn": "irnn"}.get(metrics["cell"], metrics["cell"]),
        "layers": "Keras built-in" if metrics.get("builtin_layers") else "ours",
        "units": metrics["units"],
        "epochs": metrics["epochs_done"] if not metrics["stopped_by_time_limit"]
        else f"{metrics['epochs_done']} (time limit)",
        "test accuracy": f"{metrics['test_accuracy']:.2%}",
        "wall time": _format_seconds(metrics["wall_seconds"]),
        "steps/s": f"{metrics['train_steps_per_second']:.2f}",
    }


def _format_seconds(seconds):
    minutes, seconds = divmod(int(round(seconds)), 60)
    return f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s"


def print_table(rows):
    """A Markdown table, ready for the README."""
    if not rows:
        return
    headers = list(rows[0])
    widths = [max(len(h), *(len(str(r[h])) for r in rows)) for h in headers]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"
    print(line(headers))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print(line([row[h] for h in headers]))


def main(argv=None):
    args = parse_args(argv)
    if args.pair:
        pair_runs(*args.pair)
        return 0
    tensorflow_env.set_defaults()
    results = []
    pairs = []
    if "row" in args.only:
        results.append(_train(args, "row-lstm", mode="row", cell="lstm", epochs=args.row_epochs,
                              learning_rate=args.learning_rate))
    for mode in ("pixel", "permuted"):
        if mode not in args.only:
            continue
        for cell in args.cells:
            rate = args.irnn_learning_rate if cell == "rnn" else args.learning_rate
            recipe = dict(mode=mode, cell=cell, epochs=args.pixel_epochs, learning_rate=rate,
                          learning_rate_schedule=args.learning_rate_schedule,
                          chrono_init=args.chrono_init and cell != "rnn")
            results.append(_train(args, f"{mode}-{cell}", **recipe))
            if args.peer:
                results.append(_train(args, f"{mode}-{cell}-keras", builtin_layers=True, **recipe))
                print(f"\n=== {mode}-{cell}: ours against Keras's layers ===")
                pairs.append({"mode": mode, "cell": cell, **pair_runs(
                    results[-2]["run_dir"], results[-1]["run_dir"])})
    if "digits" in args.only:
        results.append(_main_command(args))
    rows = [_row(m) for m in results]
    print(f"\nbudget: {args.minutes:g} min per run; {os.cpu_count()} CPU cores"
          + (f"; limit {args.limit} examples per split" if args.limit else ""))
    print_table(rows)
    for pair in pairs:
        print(f"{pair['mode']} {pair['cell']}, ours against Keras's built-in layers on the same "
              f"test digits: ours alone right {pair['ours_only']:,}, Keras's alone "
              f"{pair['peer_only']:,}; exact McNemar test p = {pair['p_value']:.3g}")
    out = Path(args.out) if args.out else Path(args.runs) / f"results-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"args": vars(args), "table": rows, "runs": results,
                               "paired": pairs}, indent=2))
    print(f"results written to {out}")
    return 0


if __name__ == "__main__":
    exit_on_usage_error(main)
