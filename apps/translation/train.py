"""`rnn-suite translation train`: data, subwords and vocabularies, model, fit, evaluate.

`build_training` is the one place the model is built and compiled for
training; `rnn-suite tune translation` calls it too. TensorFlow is imported
inside the functions, so that `--help` and flag errors answer at once.
"""

from apps.common.errors import UsageError
from apps.translation import NAME
from apps.translation.evaluation import evaluate_model


def load_data(config):
    """The corpus a config names (dataset, pairs, languages, limit); bad input fails here.

    Returns:
        A `data.Corpus` (train, validation and test pairs, raw text).
    """
    from apps.translation import data

    if config.jit:
        raise UsageError("--jit is not available for translation: the model reads raw "
                         "strings, which XLA cannot compile")
    return data.load(config, config.data_dir)


def prepare_pairs(config, corpus):
    """Tokenise the training pairs, leave out long ones, build vocabularies (training split only).

    Returns:
        (train_pairs (sources, targets, lengths), source_vocabulary,
        target_vocabulary, longest_source).
    """
    from apps.translation import text

    sources, targets = corpus.train
    source_words, target_words = text.words(sources), text.words(targets)
    kept = [i for i, (s, t) in enumerate(zip(source_words, target_words))
            if s and t and len(s) <= config.max_length and len(t) <= config.max_length]
    if not kept:
        raise UsageError(f"no training pair has at most --max-length {config.max_length} "
                         "tokens on both sides")
    if len(kept) < len(sources):
        print(f"left out {len(sources) - len(kept):,} training pairs longer than "
              f"--max-length {config.max_length} tokens (or empty)", flush=True)
    # Pairs are kept or left out by their words in both modes, so word and subword
    # runs train on the same pairs; batches are bucketed by words too.
    lengths = [max(len(source_words[i]), len(target_words[i])) for i in kept]
    train_pairs = ([sources[i] for i in kept], [targets[i] for i in kept], lengths)
    if config.tokenizer == "subword":
        source_vocabulary, target_vocabulary = learn_subword_vocabularies(
            config, train_pairs[0], train_pairs[1])
        from apps.common import subwords

        source_tokens = subwords.SubwordVectorizer(source_vocabulary).pieces(train_pairs[0])
        return train_pairs, source_vocabulary, target_vocabulary, max(map(len, source_tokens))
    source_vocabulary = text.build_vocabulary([source_words[i] for i in kept], config.min_count,
                                              config.max_vocab)
    target_vocabulary = text.build_vocabulary([target_words[i] for i in kept], config.min_count,
                                              config.max_vocab)
    longest = max(len(source_words[i]) for i in kept)
    return train_pairs, source_vocabulary, target_vocabulary, longest


def learn_subword_vocabularies(config, sources, targets):
    """(source, target) SentencePiece models learned from the training sentences.

    One model learned from both sides when `--joint-vocabulary`, else one per language.
    """
    from apps.common import subwords

    try:
        if config.joint_vocabulary:
            joint = subwords.learn_subwords(list(sources) + list(targets), config.vocab_size)
            return joint, joint
        return (subwords.learn_subwords(sources, config.vocab_size),
                subwords.learn_subwords(targets, config.vocab_size))
    except ValueError as error:  # e.g. fewer pieces asked for than the text has characters
        raise UsageError(f"--vocab-size {config.vocab_size}: {error}") from None


def describe_vocabularies(model, config):
    """How big each vocabulary is and what it holds, for the start-of-training line."""
    from apps.translation import text

    sizes = [model.get_layer(name).vocabulary_size()
             for name in ("source_vectorizer", "target_vectorizer")]
    if text.is_subword(model.get_layer("source_vectorizer")):
        kind = "one joint " if config.joint_vocabulary else ""
        return sizes, (f"{kind}subword pieces (SentencePiece unigram, --vocab-size "
                       f"{config.vocab_size})")
    return sizes, f"words (seen at least {config.min_count} times in training)"


def build_training(config, corpus):
    """The model a config describes, compiled, with its training and validation pipelines.

    The one place the model is built and compiled for training: `train` uses
    it, and so does `rnn-suite tune`. The vocabularies come from the training
    split; the test split is not touched.

    Args:
        config: A `TranslationConfig`.
        corpus: The `data.Corpus` from `load_data`.

    Returns:
        A `training.TrainingSetup` (best epoch by validation loss, or by greedy
        validation BLEU with `--best-by bleu`).
    """
    from apps.common import training
    from apps.translation import data, model as model_module

    (sources, targets, lengths), source_vocabulary, target_vocabulary, longest = (
        prepare_pairs(config, corpus))
    model = model_module.build_model(config, source_vocabulary, target_vocabulary, longest)
    (source_size, target_size), kind = describe_vocabularies(model, config)
    sizes = {"train_pairs": len(sources), "source_vocabulary": source_size,
             "target_vocabulary": target_size}
    print(f"using {len(sources):,} train / {len(corpus.validation[0]):,} validation / "
          f"{len(corpus.test[0]):,} test pairs; vocabularies {source_size:,} "
          f"{corpus.source_lang} / {target_size:,} {corpus.target_lang} {kind}", flush=True)
    train_data = data.pipeline(model, sources, targets, config.batch_size, shuffle=True,
                               seed=config.seed, lengths=lengths)
    validation_data = data.pipeline(model, *corpus.validation, config.batch_size)
    training.compile_model(model, config, loss=model_module.loss(config.label_smoothing),
                           metrics=[model_module.MaskedAccuracy()], train_data=train_data)
    monitor, mode, metric_callbacks = "val_loss", "min", ()
    if config.best_by == "bleu":
        from apps.translation.validation_bleu import LOG_NAME, ValidationBleu

        monitor, mode, metric_callbacks = LOG_NAME, "max", (ValidationBleu(corpus.validation),)
    return training.TrainingSetup(model, train_data, validation_data, monitor=monitor,
                                  mode=mode, sizes=sizes, metric_callbacks=metric_callbacks)


def train(config, extra_callbacks=()):
    """Train from a validated `TranslationConfig`: data, model, fit, evaluate, pictures.

    Returns:
        The metrics written to `metrics.json`.
    """
    from apps.common.training_job import TrainingJob

    job = TrainingJob(NAME, config)  # --distribute's strategy, the seed
    corpus = load_data(config)  # bad input fails here, before any folder is made
    job.describe(corpus)
    with job.run_folder() as run:  # new, or the interrupted one resumed
        with job.scope(run):
            setup = build_training(config, corpus)  # prints the split and vocabulary sizes
            result = job.fit(run, setup, extra_callbacks)
        if not job.chief:
            return job.worker_done(setup, result)
        model = job.best_model(run, setup)
        report = evaluate_model(model, scored_test_pairs(config, corpus), run.path,
                                config.beam_size, config.max_output_length, config.length_alpha,
                                batch_size=64, label=f"{corpus.name} test",
                                unk_replace=config.unk_replace)
        return job.finish(run, setup, result, corpus, _settings(config, corpus), report,
                          headline=(f"test BLEU (beam {config.beam_size})", "bleu_beam"),
                          curves=("loss", "masked_accuracy"))


def _settings(config, corpus):
    return {"source_lang": corpus.source_lang, "target_lang": corpus.target_lang,
            "cell": config.cell, "units": config.units, "layers": config.layers,
            "bidirectional": config.bidirectional, "embedding_dim": config.embedding_dim,
            "tokenizer": config.tokenizer, "label_smoothing": config.label_smoothing}


def scored_test_pairs(config, corpus):
    """The test pairs a run is scored on after training (the first --eval-limit, or all)."""
    return corpus.limited(config.eval_limit).test if config.eval_limit else corpus.test
