"""Translation app quality: BLEU and chrF (sacrebleu), greedy and beam, in a wall-time budget.

Each measurement is a normal `rnn-suite translation train` run (its folder
lands under --runs, default runs/benchmarks/translation/), time-limited so
that training plus the final test evaluation fits in --minutes:

- multi30k: German -> English, Multi30k train / val / test_2016_flickr
  (published mark for a GRU with Bahdanau attention on this data: BLEU 28.3,
  greedy, 10 epochs, hidden 512; the target here is >= 30 with beam search).
- anki:     Spanish -> English, the Anki/Tatoeba pairs with the app's fixed
  split (evaluated on --anki-test-limit test sentences).

Beside each run, in the same run of this script, the simplest strong peer:
translation by retrieval, the target of the training pair whose source is
nearest the test source (TF-IDF cosine; word 1-2 grams or character 2-4
grams, whichever scores the higher BLEU on the validation split), scored by
the same sacrebleu call on the same test sentences.

Prints a table (data, epochs, BLEU greedy/beam, chrF, wall time, sentences/s,
the peer's BLEU and chrF) and writes it, with every run's metrics, to --out
as JSON.

    python benchmarks/translation_quality.py --minutes 50                  # multi30k
    python benchmarks/translation_quality.py --minutes 15 --only anki
    python benchmarks/translation_quality.py --minutes 3 --limit 2000      # a smoke run
    python benchmarks/translation_quality.py --minutes 40 --config runs/tune/translation/NAME/best.json
"""

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from apps.common import tensorflow_env  # noqa: E402
from apps.common.errors import exit_on_usage_error  # noqa: E402

tensorflow_env.set_defaults()

SUITES = {
    "multi30k": dict(dataset="multi30k", source_lang="deu", target_lang="eng"),
    "anki": dict(dataset="anki", source_lang="spa", target_lang="eng"),
}
# This script's recipe; `--config` replaces it, flags typed on the command line win over both.
RECIPE = dict(cell="gru", units=256, embedding_dim=256, layers=1, tokenizer="subword",
              vocab_size=8000, joint_vocabulary=False, label_smoothing=0.1, early_stopping=0,
              length_alpha=1.0, batch_size=64, learning_rate=2e-3, dropout=0.3, beam_size=5)
# What a config file may not change: each run's data, budget and folder are this script's.
BUDGET_SETTINGS = ("dataset", "source_lang", "target_lang", "pairs", "data_dir", "limit",
                   "eval_limit", "time_limit", "epochs", "run_dir")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, required=True,
                        help="wall-time budget of each run, training and evaluation together")
    parser.add_argument("--eval-minutes", type=float, default=6.0,
                        help="part of the budget kept for loading data and the final "
                             "greedy + beam evaluation (default: 6)")
    parser.add_argument("--only", nargs="+", choices=tuple(SUITES), default=["multi30k"],
                        help="which measurements to run (default: multi30k)")
    parser.add_argument("--config", metavar="FILE.json", default=None,
                        help="the model and training settings of a JSON file (a tuner's "
                             "best.json, a run's config.json) instead of this script's "
                             "recipe; flags typed here still win, and the budget, data and "
                             "--epochs stay this script's")
    parser.add_argument("--cell", choices=("gru", "lstm"))
    parser.add_argument("--units", type=int)
    parser.add_argument("--embedding-dim", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--learning-rate", type=float)
    parser.add_argument("--dropout", type=float)
    parser.add_argument("--epochs", type=int, default=30,
                        help="upper bound; the time limit usually stops first (default: 30)")
    parser.add_argument("--tokenizer", choices=("subword", "word"))
    parser.add_argument("--vocab-size", type=int,
                        help="subword pieces per language (default: 8000)")
    parser.add_argument("--joint-vocabulary", action="store_true", default=None,
                        help="one subword vocabulary for both languages")
    parser.add_argument("--label-smoothing", type=float,
                        help="the app's default (0.1); 0 for plain cross-entropy")
    parser.add_argument("--early-stopping", type=int,
                        help="stop after this many epochs without a better validation loss "
                             "(default: 0, the time limit only)")
    parser.add_argument("--layers", type=int)
    parser.add_argument("--length-alpha", type=float)
    parser.add_argument("--beam-size", type=int)
    parser.add_argument("--anki-test-limit", type=int, default=2000,
                        help="test sentences of the Anki run (default: 2000)")
    parser.add_argument("--limit", type=int, default=0,
                        help="pairs per split, for smoke runs (default: 0, all)")
    parser.add_argument("--data-dir", default=None,
                        help="the data mirror (default: $RNN_SUITE_DATA)")
    parser.add_argument("--runs", default="runs/benchmarks/translation",
                        help="parent folder of the run folders")
    parser.add_argument("--out", default=None,
                        help="JSON file for the results (default: <runs>/results-<time>.json)")
    return parser.parse_args(argv)


def suite_config(args, name, settings):
    """The validated `TranslationConfig` of one measurement: `settings` (`model_settings`) plus
    the script's data and budget for suite `name`; its run folder is named when it starts."""
    from apps.common import config as config_module
    from apps.translation.config import TranslationConfig

    config = TranslationConfig(**settings, epochs=args.epochs, limit=args.limit,
                               data_dir=args.data_dir,
                               time_limit=max(0.5, args.minutes - args.eval_minutes),
                               eval_limit=args.anki_test_limit if name == "anki" else 0,
                               **SUITES[name])
    config_module.validate(config)
    return config


def _train(config, name, runs):
    from apps.translation.train import train

    config.run_dir = str(Path(runs) / f"{time.strftime('%Y%m%d-%H%M%S')}-{name}")
    print(f"\n=== {name}: {config.to_dict()} ===", flush=True)
    started = time.perf_counter()
    metrics = train(config)
    metrics["benchmark_wall_seconds"] = round(time.perf_counter() - started, 2)
    metrics["run_dir"] = config.run_dir
    metrics["peer"] = _peer(config)
    return metrics


def model_settings(args):
    """The recipe, overridden by `--config`'s settings (budget and data aside), then by flags."""
    from apps.common import config as config_module
    from apps.translation.config import TranslationConfig

    settings = dict(RECIPE)
    if args.config:
        names = {f.name for f in dataclasses.fields(TranslationConfig)}
        settings.update({k: v for k, v in config_module.read_json_settings(args.config).items()
                         if k in names and k not in BUDGET_SETTINGS})
    settings.update({k: v for k, v in vars(args).items() if k in RECIPE and v is not None})
    return settings


PEER_FEATURES = {
    "word 1-2 grams": dict(analyzer="word", ngram_range=(1, 2)),
    "character 2-4 grams": dict(analyzer="char_wb", ngram_range=(2, 4)),
}
PEER_VALIDATION_PAIRS = 1000


def nearest_neighbour_peer(corpus, test_pairs):
    """Translation by retrieval: each test source gets the target of its nearest training source.

    Nearest by TF-IDF cosine over lower-cased sources; the features (word or
    character n-grams) are picked by BLEU on the first validation pairs;
    BLEU/chrF by the app's own sacrebleu call.

    Returns:
        A dict: `features`, `val_bleu`, `bleu`, `chrf`, `seconds`.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer

    from apps.common import bleu

    started = time.perf_counter()
    train_sources, train_targets = corpus.train
    validation = [list(side[:PEER_VALIDATION_PAIRS]) for side in corpus.validation]

    def retrieve(vectorizer, matrix, sources):
        # Rows are L2-normalised, so the dot product is the cosine.
        nearest = (vectorizer.transform(sources) @ matrix.T).argmax(axis=1).A1
        return [train_targets[i] for i in nearest]

    fitted = {}
    for name, options in PEER_FEATURES.items():
        vectorizer = TfidfVectorizer(lowercase=True, sublinear_tf=True, **options)
        matrix = vectorizer.fit_transform(train_sources)
        guesses = retrieve(vectorizer, matrix, validation[0])
        fitted[name] = (bleu.corpus_scores(guesses, validation[1])["bleu"], vectorizer, matrix)
    name = max(fitted, key=lambda key: fitted[key][0])
    val_bleu, vectorizer, matrix = fitted[name]
    scores = bleu.corpus_scores(retrieve(vectorizer, matrix, list(test_pairs[0])),
                                list(test_pairs[1]))
    return {"features": name, "val_bleu": round(val_bleu, 2), "bleu": scores["bleu"],
            "chrf": scores["chrf"], "seconds": round(time.perf_counter() - started, 1)}


def _peer(config):
    """The retrieval peer on the test sentences `config`'s run was scored on."""
    from apps.translation import data
    from apps.translation.train import scored_test_pairs

    corpus = data.load(config, config.data_dir)
    return nearest_neighbour_peer(corpus, scored_test_pairs(config, corpus))


def _format_seconds(seconds):
    minutes, seconds = divmod(int(round(seconds)), 60)
    return f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s"


def _row(name, m):
    return {
        "data": f"{name} {m['source_lang']}->{m['target_lang']} ({m['test_sentences']} test)",
        "model": f"bi{m['cell']} {m['units']}",
        "tokens": (f"subword {m['source_vocabulary']:,}/{m['target_vocabulary']:,}"
                   if m.get("tokenizer", "word") == "subword" else
                   f"word {m['source_vocabulary']:,}/{m['target_vocabulary']:,}"),
        "label smoothing": f"{m.get('label_smoothing', 0.0):g}",
        "epochs": f"{m['epochs_done']}" + (" (time limit)" if m["stopped_by_time_limit"] else ""),
        "BLEU greedy": f"{m['bleu_greedy']:.2f}",
        f"BLEU beam {m['beam_size']}": f"{m['bleu_beam']:.2f}",
        "chrF greedy": f"{m['chrf_greedy']:.2f}",
        "chrF beam": f"{m['chrf_beam']:.2f}",
        "wall time": _format_seconds(m["benchmark_wall_seconds"]),
        "sent/s greedy": f"{m['sentences_per_second_greedy']:.1f}",
        "sent/s beam": f"{m['sentences_per_second_beam']:.1f}",
        "beam outputs with [UNK] (raw)": f"{m.get('unknown_outputs_beam', 0):,}",
        "peer: nearest training pair, BLEU / chrF": (
            f"{m['peer']['bleu']:.2f} / {m['peer']['chrf']:.2f} ({m['peer']['features']})"),
    }


def main(argv=None):
    args = parse_args(argv)
    settings = model_settings(args)  # a bad --config or flag fails here, before any training
    configs = {name: suite_config(args, name, settings) for name in args.only}
    results, rows = {}, []
    for name, config in configs.items():
        metrics = _train(config, name, args.runs)
        results[name] = metrics
        rows.append(_row(name, metrics))
    header = list(rows[0])
    print("\n| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row[h] for h in header) + " |")
    for name, m in results.items():
        print(f"{name}: BLEU signature {m['bleu_signature']}; chrF {m['chrf_signature']}")
    out = Path(args.out) if args.out else Path(args.runs) / f"results-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"args": vars(args), "rows": rows, "metrics": results},
                              indent=2, sort_keys=True) + "\n")
    print(f"results written to {out}")


if __name__ == "__main__":
    exit_on_usage_error(main)
