"""Captioning app quality: BLEU-1..4, ROUGE-L, CIDEr-D (and METEOR) beside the two peers, per dataset.

Each measurement is a normal `rnn-suite captioning train` run (its folder
lands under --runs, default runs/benchmarks/captioning/); the app's own
evaluation scores, on the same test images and in the same run, the model's
greedy and beam captions and the two peers a user could pick instead: the
single most frequent training caption for every image, and the caption of
the nearest training image by the encoder's features.

- shapes:      generated coloured shapes (1-3 per image); also the share of
               test captions that are exactly right (the target: >= 95%).
- flickr-lite0: Flickr8k as the data mirror has it (753 train / 113 dev / 125
               test images, 5 captions each), EfficientNet-Lite0 ImageNet
               features (frozen, cached).
- flickr-cnn:  the same images, the small CNN trained from scratch with the decoder.

    RNN_SUITE_DATA=../shared/data python benchmarks/captioning_quality.py --only shapes
    RNN_SUITE_DATA=../shared/data python benchmarks/captioning_quality.py --only flickr-lite0 flickr-cnn
"""

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from apps.common import tensorflow_env  # noqa: E402

tensorflow_env.set_defaults()

SUITES = {
    "shapes": dict(dataset="shapes", encoder="cnn", shapes_images=4000, shapes_max=3,
                   image_size=64, units=128, embedding_dim=64, attention_units=64,
                   dropout=0.1, epochs=12, early_stopping=0, learning_rate_schedule="cosine"),
    "flickr-lite0": dict(dataset="flickr8k", encoder="efficientnet_lite0", units=256,
                         embedding_dim=256, dropout=0.5, epochs=30, early_stopping=4),
    "flickr-cnn": dict(dataset="flickr8k", encoder="cnn", image_size=128, units=256,
                       embedding_dim=256, dropout=0.5, epochs=30, early_stopping=4),
}
SCORES = ("BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "ROUGE-L", "CIDEr-D", "METEOR")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", choices=tuple(SUITES), default=list(SUITES),
                        help="which measurements to run (default: all)")
    parser.add_argument("--minutes", type=float, default=0,
                        help="training time limit of each run (default: 0, none)")
    parser.add_argument("--epochs", type=int, default=0,
                        help="override the suites' epochs (default: 0, keep)")
    parser.add_argument("--limit", type=int, default=0, help="images per split, for smoke runs")
    parser.add_argument("--data-dir", default=None, help="the data mirror (default: $RNN_SUITE_DATA)")
    parser.add_argument("--runs", default="runs/benchmarks/captioning",
                        help="parent folder of the run folders")
    parser.add_argument("--out", default=None,
                        help="JSON file for the results (default: <runs>/results-<time>.json)")
    return parser.parse_args(argv)


def _train(args, name):
    from apps.captioning.train import train
    from apps.captioning.config import CaptioningConfig
    from apps.common import config as config_module

    run_dir = Path(args.runs) / f"{time.strftime('%Y%m%d-%H%M%S')}-{name}"
    settings = dict(SUITES[name])
    if args.epochs:
        settings["epochs"] = args.epochs
    config = CaptioningConfig(limit=args.limit, data_dir=args.data_dir, time_limit=args.minutes,
                              run_dir=str(run_dir), **settings)
    config_module.validate(config)
    print(f"\n=== {name}: {config.to_dict()} ===", flush=True)
    started = time.perf_counter()
    metrics = train(config)
    metrics["benchmark_wall_seconds"] = round(time.perf_counter() - started, 2)
    metrics["run_dir"] = str(run_dir)
    return metrics


def _rows(name, m):
    from apps.common import training

    rows = []
    labels = [("greedy", f"model, greedy ({m['encoder']})"),
              ("beam", f"model, beam {m['beam_size']} ({m['encoder']})"),
              ("most_frequent", "peer: most frequent caption"),
              ("nearest_neighbour", f"peer: nearest neighbour ({m['encoder']} features)")]
    for key, label in labels:
        if key not in m:
            continue
        scores = m[key]
        row = {"data": f"{name} ({m['test_images']} test images)", "captions": label}
        row.update({s: f"{scores[s]:.1f}" if s in scores else "-" for s in SCORES})
        if m.get(f"exact_match_{key}") is not None:
            row["exactly right"] = f"{m[f'exact_match_{key}']:.1%}"
        elif name == "shapes":
            row["exactly right"] = "-"
        row["epochs"] = str(m["epochs_done"]) if key in ("greedy", "beam") else ""
        row["wall time"] = (training.format_seconds(m["benchmark_wall_seconds"])
                            if key == "greedy" else "")
        rows.append(row)
    return rows


def main(argv=None):
    args = parse_args(argv)
    results = {}
    for name in args.only:
        results[name] = _train(args, name)
        for row in _rows(name, results[name]):
            print(row, flush=True)
    out = Path(args.out) if args.out else Path(args.runs) / f"results-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = [row for name, m in results.items() for row in _rows(name, m)]
    header = list(dict.fromkeys(key for row in rows for key in row))
    print("\n| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row.get(h, "") for h in header) + " |")
    out.write_text(json.dumps({"args": vars(args), "rows": rows, "metrics": results},
                              indent=2, sort_keys=True) + "\n")
    print(f"results written to {out}")


if __name__ == "__main__":
    main()
