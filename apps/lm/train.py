"""`rnn-suite lm train`: data, model, fit (writing samples after each epoch), evaluate.

`build_training` is the one place the model is built and compiled for
training; `rnn-suite tune lm` calls it too. TensorFlow is imported inside the
functions, so that `--help` and flag errors answer at once.
"""

from apps.common import trained_run
from apps.common.errors import UsageError
from apps.lm import NAME
from apps.lm.config import LMConfig
from apps.lm.evaluation import evaluate_model


SAMPLES_FILE = "samples.txt"


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
    if config.freeze_embedding and not config.init_from:
        raise UsageError("--freeze-embedding keeps the embedding of the language model "
                         "training starts from: give it with --init-from LM_RUN")
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


def _with_init_architecture(config):
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

    start = trained_run.open_run(NAME, config.init_from, LMConfig).model
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
    vocabulary = vocabulary.reading(config.backwards)  # whichever way --init-from's read
    train_ids = data.stream(corpus.train, vocabulary)
    validation_ids = data.stream(corpus.validation, vocabulary)
    model = model_module.build_model(config, vocabulary)
    if weights is not None:
        model.set_weights(weights)  # the same builder and settings: the same weights, in order
    if config.freeze_embedding:
        model.get_layer("embedding").trainable = False
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
    """Train from a validated `LMConfig`: data, model, fit (writing samples), evaluate.

    Returns:
        The metrics written to `metrics.json`.
    """
    from apps.common.training_job import TrainingJob
    from apps.lm import samples

    job = TrainingJob(NAME, config)  # --distribute's strategy, the seed
    corpus = load_data(config)  # bad input fails here, before any folder is made
    config = job.use_config(_with_init_architecture(config))
    job.describe(corpus, f"using {len(corpus.train):,} train / {len(corpus.validation):,} "
                         f"validation / {len(corpus.test):,} test documents, {config.tokenizer} "
                         f"tokens, windows of {config.window}")
    with job.run_folder() as run:  # new, or the interrupted one resumed
        with job.scope(run):
            setup = build_training(config, corpus)
            sample_writer = samples.SampleWriter(run.file(SAMPLES_FILE), config.sample_prompt,
                                                 config.sample_tokens)
            result = job.fit(run, setup, extra_callbacks, writers=[sample_writer])
        if not job.chief:
            return job.worker_done(setup, result)
        model = job.best_model(run, setup)
        report = evaluate_model(model, corpus.train, corpus.test, config.window,
                                config.batch_size)
        return job.finish(run, setup, result, corpus, _settings(config, corpus),
                          {**report, "samples": SAMPLES_FILE},
                          headline=("test perplexity", "test_perplexity"))


def _settings(config, corpus):
    return {"cell": config.cell, "units": config.units, "layers": config.layers,
            "tokenizer": config.tokenizer, "embedding_dim": config.embedding_dim,
            "window": config.window, "tie_weights": config.tie_weights,
            "train_documents": len(corpus.train), "validation_documents": len(corpus.validation)}
