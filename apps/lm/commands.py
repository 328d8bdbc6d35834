"""`rnn-suite lm train|evaluate|generate|export|demo`: the flags, and what each command does.

`train` itself is in `train.py`, perplexity beside the n-gram peer in `evaluation.py`.
TensorFlow is imported inside the commands, not at the top, so that `--help`
and flag errors answer at once.
"""

from apps.common import app_commands
from apps.common import config as config_module
from apps.common import run_dir as run_dir_module
from apps.common import trained_run
from apps.common.errors import UsageError
from apps.lm import NAME
from apps.lm.config import LMConfig
from apps.lm.evaluation import evaluate_model
from apps.lm.train import SAMPLES_FILE, train
SUMMARY = ("language model: a recurrent LM over words or characters that generates text "
           "(IMDB's unlabelled reviews, or your own text)")
EVALUATE_BATCH = 64


def add_commands(parser):
    """Add `train`, `evaluate`, `generate` and `export` under the app's parser."""
    commands = app_commands.add_train(
        parser, NAME, LMConfig, train,
        "Train a recurrent language model, one token ahead, on windows of a token stream "
        "(truncated backpropagation through time). Writes config.json, model.keras (best by "
        "validation loss, vocabulary inside, so generate takes a raw prompt), history.csv, "
        f"{SAMPLES_FILE} (generated text after every epoch), metrics.json (test perplexity "
        "beside a Kneser-Ney 3-gram peer on the same tokens), TensorBoard logs and the "
        "learning curves.")
    evaluate = app_commands.add_evaluate(
        commands, NAME, evaluate_command,
        help="test perplexity (and bits per token) beside a Kneser-Ney n-gram peer",
        description="Perplexity of a run's model on the test split of the text it was trained "
                    "on (or on every document of --text PATH), beside an interpolated "
                    "modified Kneser-Ney 3-gram model fit on the run's training split with "
                    "the same vocabulary and scored on the same tokens.",
        data_help="folder with the IMDB reviews (default: the run's, then $RNN_SUITE_DATA)",
        items="test documents", batch_size=EVALUATE_BATCH)
    evaluate.add_argument("--text", default=None,
                          help="score every document of this file, folder or archive instead "
                               "of the run's test split")
    evaluate.add_argument("--no-peer", action="store_true",
                          help="skip the n-gram peer (it reads the run's training split)")

    generate = commands.add_parser(
        "generate", help="continue a prompt with the run's model",
        description="Continue PROMPT (raw text; left out: start a new document) and print "
                    "each sample on its own line, prompt first. Sampling stops at the "
                    "end-of-document token or after --max-tokens.")
    run_dir_module.add_run_flag(generate, NAME)
    generate.add_argument("prompt", nargs="?", default="", metavar="PROMPT",
                          help="the text to continue (default: none, a new document)")
    generate.add_argument("--max-tokens", type=config_module.positive_int, default=60,
                          help="new tokens per sample at most (default: 60)")
    generate.add_argument("--temperature", type=float, default=1.0,
                          help="divide the logits by this (0: greedy, always the most likely "
                               "token; default: 1.0)")
    generate.add_argument("--top-k", type=int, default=None,
                          help="sample among the k most likely tokens only (default: all)")
    generate.add_argument("--top-p", type=float, default=None,
                          help="sample among the most likely tokens whose probabilities reach "
                               "p (nucleus sampling; default: 1, all)")
    generate.add_argument("--seed", type=config_module.non_negative_int, default=0,
                          help="random seed: the same seed gives the same samples (default: 0)")
    generate.add_argument("--num-samples", type=config_module.positive_int, default=1,
                          help="how many samples (default: 1)")
    generate.set_defaults(handler=generate_command)
    from apps.lm import serving

    app_commands.add_export(commands, NAME, export_command, serving.SIGNATURE)
    app_commands.add_demo(commands, NAME, LMConfig)


# ----------------------------------------------------------------- evaluate


def evaluate_command(args):
    """`evaluate --run DIR`: perplexity beside the n-gram peer (nothing written on bad input)."""
    import dataclasses

    from apps.lm import data

    trained = trained_run.open_run(NAME, args.run, LMConfig)
    path, saved = trained.path, trained.config
    from apps.common import documents

    own = documents.read_documents(args.text)[0] if args.text else None
    corpus = None
    if own is None or not args.no_peer:
        if saved is None:
            raise UsageError(f"{path.parent} has no {run_dir_module.CONFIG_FILE}, which says "
                             "what the model was trained on; give --text PATH and --no-peer")
        if args.data_dir:
            saved = dataclasses.replace(saved, data_dir=args.data_dir)
        corpus = data.load(saved)  # the run's own splits: the peer fits on its training split
        print(f"data: {corpus.description}", flush=True)
    model = trained.model
    window = saved.window if saved else LMConfig().window
    test = own if own is not None else corpus.test
    test = test[:args.limit] if args.limit else test
    out = app_commands.evaluation_folder(args, path)
    out.mkdir(parents=True, exist_ok=True)
    report = evaluate_model(model, corpus.train if corpus else [], test, window,
                            args.batch_size, peer=not args.no_peer)
    if own is None:
        test_data = app_commands.split_test_data(corpus.description)
        dataset = corpus.name
    else:
        test_data = app_commands.file_test_data(f"{len(own):,} documents", {"text": args.text})
        dataset = "text"
    peer = report.get("peer")
    return app_commands.write_evaluation(
        out, report, path, dataset, test_data,
        f"{NAME}: test perplexity {report['test_perplexity']:.2f} on "
        f"{report['test_tokens']:,} tokens" + (f" (n-gram peer {peer['test_perplexity']:.2f})"
                                               if peer else ""), [])


# ----------------------------------------------------------------- generate

def generate_command(args):
    """`generate --run DIR "prompt"`: print `--num-samples` continuations, prompt first."""
    from apps.lm import sampling

    sampling.check_choice(args.temperature, args.top_k, args.top_p)
    model = trained_run.open_run(NAME, args.run, LMConfig).model
    samples = sampling.continuations(model, args.prompt, args.max_tokens,
                                     temperature=args.temperature, top_k=args.top_k,
                                     top_p=args.top_p, seed=args.seed,
                                     num_samples=args.num_samples)
    for line, _, _ in samples:
        print(line, flush=True)
    return [text for _, text, _ in samples]


def export_command(args):
    """`export --run DIR [--output DIR]`: the run's model as a SavedModel that generates text."""
    from apps.common import serving as common_serving
    from apps.lm import serving

    return common_serving.export_run(NAME, args.run, args.output, serving.endpoints)
