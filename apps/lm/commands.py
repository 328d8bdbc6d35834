"""`rnn-suite lm train|evaluate|generate|export`: the flags, and what each command does.

TensorFlow is imported inside the commands, not at the top, so that `--help`
and flag errors answer at once.
"""


from apps.common import app_commands
from apps.common import config as config_module
from apps.common import run_dir as run_dir_module
from apps.common.errors import UsageError
from apps.lm.config import LMConfig

NAME = "lm"
SUMMARY = ("language model: a recurrent LM over words or characters that generates text "
           "(IMDB's unlabelled reviews, or your own text)")
SAMPLES_FILE = "samples.txt"
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


# ----------------------------------------------------------------- train

def load_data(config):
    """The corpus a config names (all bad input fails here, before a run folder exists)."""
    from apps.lm import data

    if config.bidirectional:
        raise UsageError("--bidirectional cannot be used by a language model: it predicts each "
                         "token from the ones before it, and a backward layer would read the "
                         "answer")
    if config.softmax == "sampled" and config.sampled_tokens >= config.vocab_size:
        raise UsageError(f"--sampled-tokens {config.sampled_tokens} must be below --vocab-size "
                         f"{config.vocab_size} (sampled softmax draws fewer tokens than the "
                         "vocabulary holds; use --softmax full to score them all)")
    if config.tokenizer == "subword":
        from apps.common import subwords

        if config.vocab_size < subwords.MIN_VOCAB_SIZE:
            raise UsageError(
                f"--vocab-size {config.vocab_size} is too small for --tokenizer subword: "
                f"{subwords.RESERVED_IDS} ids are reserved (specials and 256 byte pieces); "
                f"give at least {subwords.MIN_VOCAB_SIZE}")
    if config.init_from:
        _init_settings(config)
    return data.load(config)


# What a run started with --init-from takes from the language model it continues, besides
# the architecture a classifier takes from it too (`pretrained_encoder.adopt`).
INHERITED = ("tokenizer", "tie_weights")


def _init_settings(config):
    from apps.common import pretrained_encoder

    return pretrained_encoder.read_settings(config.init_from, flag="--init-from",
                                            words_only=False)


def _with_init_architecture(config, corpus=None):
    """With `--init-from`: the config with the language model's tokens and architecture (as
    config.json records them); otherwise `config`."""
    if not config.init_from:
        return config
    import dataclasses

    from apps.common import pretrained_encoder

    settings = _init_settings(config)
    return dataclasses.replace(pretrained_encoder.adopt(config, settings),
                               vocab_size=settings["vocabulary_size"],
                               **{name: settings[name] for name in INHERITED})


def _starting_point(config):
    """(vocabulary, weights) to start from: the --init-from model's, or (None, None)."""
    if not config.init_from:
        return None, None
    from apps.common import tokens

    from apps.lm import model as model_module

    start = _load_model(run_dir_module.find_model(NAME, config.init_from))
    # A layer of its own (not the loaded model's) for the new model.
    vocabulary = tokens.TokenVocabulary.from_config(
        model_module.vocabulary_of(start).get_config())
    return vocabulary, start.get_weights()


def build_training(config, corpus):
    """The model a config describes, compiled, with its training and validation pipelines.

    The vocabulary comes from the training split only. The one place the
    model is built and compiled for training: `train` uses it, and so does
    `rnn-suite tune`.

    Returns:
        A `training.TrainingSetup` (best epoch by validation loss).
    """
    from apps.common import training
    from apps.common import tokens
    from apps.lm import data, model as model_module

    config = _with_init_architecture(config)
    vocabulary, weights = _starting_point(config)
    if vocabulary is None:
        try:
            vocabulary = tokens.build_vocabulary(corpus.train, config.tokenizer,
                                                 config.vocab_size)
        except ValueError as error:  # SentencePiece: fewer ids than the text has characters
            raise UsageError(f"--vocab-size {config.vocab_size}: {error}") from None
    train_ids = data.stream(corpus.train, vocabulary)
    validation_ids = data.stream(corpus.validation, vocabulary)
    model = model_module.build_model(config, vocabulary)
    if weights is not None:
        model.set_weights(weights)  # the same builder and settings: the same weights, in order
    train_data = data.pipeline(train_ids, config.window, config.batch_size, shuffle=True,
                               seed=config.seed)
    # A short validation split still gets one (shorter) window.
    validation_data = data.pipeline(validation_ids, min(config.window, len(validation_ids) - 1),
                                    config.batch_size)
    trained = model
    if config.softmax == "sampled":
        from apps.lm.sampled_softmax import SampledSoftmaxTrainer

        # A small corpus may hold fewer tokens than --vocab-size asked for.
        trained = SampledSoftmaxTrainer(model, min(config.sampled_tokens, vocabulary.size - 1))
    model_module.compile_model(trained, config, train_data=train_data,
                               accuracy=trained is model)
    return training.TrainingSetup(
        trained, train_data, validation_data, monitor="val_loss", mode="min",
        saved_model=model if trained is not model else None,
        sizes={"vocabulary_size": vocabulary.size, "train_tokens": int(len(train_ids)),
               "validation_tokens": int(len(validation_ids))})


def train(config, extra_callbacks=()):
    """Train from a validated `LMConfig`; returns the metrics written to `metrics.json`."""
    from apps.common import training

    return training.run_training(training.TrainingStory(
        NAME, load_data, build_training, evaluate=_evaluate_best, settings=_settings,
        headline=lambda metrics: ("test perplexity", metrics["test_perplexity"]),
        resolve=_with_init_architecture,
        describe=lambda config, corpus: (
            f"using {len(corpus.train):,} train / {len(corpus.validation):,} validation / "
            f"{len(corpus.test):,} test documents, {config.tokenizer} tokens, windows of "
            f"{config.window}"),
        run_callbacks=_sample_writer,
    ), config, extra_callbacks)


def _sample_writer(config, corpus, run):
    from apps.lm import samples

    return [samples.SampleWriter(run.file(SAMPLES_FILE), config.sample_prompt,
                                 config.sample_tokens)]


def _settings(config, corpus):
    return {"cell": config.cell, "units": config.units, "layers": config.layers,
            "tokenizer": config.tokenizer, "embedding_dim": config.embedding_dim,
            "window": config.window, "tie_weights": config.tie_weights,
            "train_documents": len(corpus.train), "validation_documents": len(corpus.validation)}


def _evaluate_best(model, config, corpus, run):
    report = evaluate_model(model, corpus.train, corpus.test, config.window, config.batch_size)
    report["samples"] = SAMPLES_FILE
    return report


# ----------------------------------------------------------------- evaluate

def evaluate_model(model, train_documents, test_documents, window, batch_size, peer=True):
    """The model's test perplexity beside the n-gram peer's, both on the same test tokens."""
    from apps.lm import data, evaluation, model as model_module

    vocabulary = model_module.vocabulary_of(model)
    test_ids = data.stream(test_documents, vocabulary)
    train_ids = data.stream(train_documents, vocabulary) if peer else None
    report = evaluation.score(model, train_ids, test_ids, vocabulary, window, batch_size,
                              peer=peer)
    line = (f"test perplexity {report['test_perplexity']:.2f} "
            f"({report['test_bits_per_token']:.3f} bits per {vocabulary.kind}) on "
            f"{report['test_tokens']:,} tokens")
    if peer:
        line += (f"; {report['peer']['name']}: {report['peer']['test_perplexity']:.2f} "
                 f"({report['peer']['test_bits_per_token']:.3f} bits)")
    print(line, flush=True)
    return report


def _run_config(model_path):
    """The run's `LMConfig` (from the config.json beside its model), or None without one."""
    config_file = model_path.parent / run_dir_module.CONFIG_FILE
    return config_module.load_config(LMConfig, config_file) if config_file.is_file() else None


def _load_model(model_path):
    """The run's model: the one way `evaluate` and `generate` load it."""
    from apps.common import model_files
    from apps.lm import model as model_module  # noqa: F401 - registers the layers

    return model_files.load_model(model_path, NAME)


def evaluate_command(args):
    """`evaluate --run DIR`: perplexity beside the n-gram peer (nothing written on bad input)."""
    import dataclasses

    from apps.lm import data

    path = run_dir_module.find_model(NAME, args.run)
    from apps.common import documents

    own = documents.read_documents(args.text)[0] if args.text else None
    saved = _run_config(path)
    corpus = None
    if own is None or not args.no_peer:
        if saved is None:
            raise UsageError(f"{path.parent} has no {run_dir_module.CONFIG_FILE}, which says "
                             "what the model was trained on; give --text PATH and --no-peer")
        if args.data_dir:
            saved = dataclasses.replace(saved, data_dir=args.data_dir)
        corpus = data.load(saved)  # the run's own splits: the peer fits on its training split
        print(f"data: {corpus.description}", flush=True)
    model = _load_model(path)
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
    from apps.lm import model as model_module, sampling

    sampling.check_choice(args.temperature, args.top_k, args.top_p)
    model = _load_model(run_dir_module.find_model(NAME, args.run))
    vocabulary = model_module.vocabulary_of(model)
    samples = sampling.generate(model, vocabulary, args.prompt, args.max_tokens,
                                temperature=args.temperature, top_k=args.top_k,
                                top_p=args.top_p, seed=args.seed, num_samples=args.num_samples)
    for text, ids in samples:
        joiner = vocabulary.separator(ids) if args.prompt and text else ""
        print(f"{args.prompt}{joiner}{text}", flush=True)
    return [text for text, _ in samples]


def export_command(args):
    """`export --run DIR [--output DIR]`: the run's model as a SavedModel that generates text."""
    from apps.common import serving as common_serving
    from apps.lm import serving

    return common_serving.export_run(NAME, args.run, args.output, _load_model,
                                     serving.endpoints)
