"""`rnn-suite sentiment train`: data, model, fit, calibrate, evaluate, pictures, in that order.

`build_training` is the one place the model is built and compiled for
training; `rnn-suite tune sentiment` calls it too. TensorFlow is imported
inside the functions, so that `--help` and flag errors answer at once.
"""

from apps.common.errors import UsageError
from apps.sentiment import NAME
from apps.sentiment.evaluation import evaluate_model


def load_reviews(config):
    """The reviews a config names (all bad input fails here, before a run folder exists)."""
    from apps.sentiment import data

    return data.load(config.source, config.data_dir, config.limit, config.csv,
                     config.text_col, config.label_col, config.validation_split)


def load_data(config):
    """The data `build_training` needs: the reviews a config names (see `load_reviews`), and
    with --virtual-adversarial the unlabelled ones."""
    if config.jit:
        raise UsageError("--jit is not available for sentiment: the model reads raw strings "
                         "(its TextVectorization layer cannot be compiled by XLA)")
    if config.virtual_adversarial and not config.unlabelled:
        raise UsageError("--virtual-adversarial needs unlabelled reviews: add --unlabelled "
                         "imdb-unsup (with --data-dir) or --unlabelled FILE")
    if config.unlabelled and not config.virtual_adversarial:
        raise UsageError(f"--unlabelled {config.unlabelled} is only read by virtual adversarial "
                         "training: add --virtual-adversarial EPS (e.g. 1.0), or drop it")
    reviews = load_reviews(config)
    if config.virtual_adversarial:
        import dataclasses

        from apps.sentiment import data

        texts, description = data.load_unlabelled(config.unlabelled, config.data_dir,
                                                  config.limit)
        print(f"unlabelled: {len(texts):,} reviews, {description}", flush=True)
        reviews = dataclasses.replace(reviews, x_unlabelled=texts)
    return reviews


def build_training(config, reviews):
    """The model a config describes, compiled, with its training and validation pipelines.

    The vocabulary (`config.vocab_size` words) comes from the training split
    only. The one place the model is built and compiled for training: `train`
    uses it, and so does `rnn-suite tune`. The test split is not touched.

    Returns:
        A `training.TrainingSetup` (best epoch by validation accuracy).
    """
    from apps.common import training
    from apps.sentiment import data, model as model_module

    import dataclasses

    language_model = backward_model = None
    if config.encoder_from:
        from apps.common import pretrained_encoder

        config = with_encoder_architecture(config)
        if config.backward_encoder_from:
            language_model, backward_model, vocabulary = pretrained_encoder.load_pair(
                config.encoder_from, config.backward_encoder_from)
        else:
            language_model, vocabulary = pretrained_encoder.load(config.encoder_from)
        config = dataclasses.replace(config, vocab_size=len(vocabulary))  # the embedding's rows
    else:
        vocabulary = data.build_vocabulary(reviews.x_train, config.vocab_size)
    model = model_module.build_model(config, vocabulary, reviews.class_names)
    if language_model is not None:
        pretrained_encoder.copy_encoder(model, language_model, config.layers, backward_model)
    train_data = data.pipeline(reviews.x_train, reviews.y_train, config.batch_size,
                               config.max_length, shuffle=True, seed=config.seed)
    validation_data = data.pipeline(reviews.x_val, reviews.y_val, config.batch_size,
                                    config.max_length)
    if config.virtual_adversarial:
        train_data = data.with_unlabelled(train_data, reviews.x_unlabelled, config.batch_size,
                                          config.max_length, config.seed)
    optimizer = None
    if language_model is not None:
        from apps.sentiment import fine_tuning

        optimizer = fine_tuning.optimizer(config, train_data)
    trained = model
    if config.adversarial or config.virtual_adversarial:
        from apps.sentiment import adversarial

        trained = adversarial.AdversarialTrainer(model, config.adversarial,
                                                 config.virtual_adversarial)
    training.compile_model(trained, config, loss="binary_crossentropy", metrics=["accuracy"],
                           train_data=train_data, optimizer=optimizer)
    return training.TrainingSetup(trained, train_data, validation_data,
                                  monitor="val_accuracy", mode="max",
                                  saved_model=model if trained is not model else None)


def with_encoder_architecture(config):
    """With `--encoder-from`: the config with the language model's architecture and vocabulary
    size (what config.json records); otherwise `config`.

    Raises:
        UsageError: If `--backward-encoder-from` cannot fill the backward half (its settings;
            `pretrained_encoder.load_pair` checks the weights).
    """
    if config.backward_encoder_from and not config.encoder_from:
        raise UsageError("--backward-encoder-from fills the backward half beside the forward "
                         "language model: give that one with --encoder-from FORWARD_LM_RUN")
    if not config.encoder_from:
        return config
    import dataclasses

    from apps.common import pretrained_encoder

    settings = pretrained_encoder.read_settings(config.encoder_from)
    if settings.get("backwards"):
        raise UsageError(f"--encoder-from {config.encoder_from} is a backward language model "
                         "(trained with --backwards); the classifier's forward half needs a "
                         "forward one (a backward one goes to --backward-encoder-from)")
    if config.backward_encoder_from:
        if not config.bidirectional:
            raise UsageError("--backward-encoder-from fills the backward half of a "
                             "bidirectional classifier: drop --no-bidirectional")
        pretrained_encoder.check_backward_settings(
            settings, pretrained_encoder.read_settings(config.backward_encoder_from,
                                                       flag="--backward-encoder-from"),
            config.encoder_from, config.backward_encoder_from)
    return dataclasses.replace(pretrained_encoder.adopt(config, settings),
                               vocab_size=settings["vocabulary_size"])


def train(config, extra_callbacks=()):
    """Train from a validated `SentimentConfig`: data, model, fit, calibrate, evaluate, pictures.

    Returns:
        The metrics written to `metrics.json`.
    """
    from apps.common.training_job import TrainingJob

    job = TrainingJob(NAME, config)  # --distribute's strategy, the seed
    reviews = load_data(config)  # bad input fails here, before any folder is made
    config = job.use_config(with_encoder_architecture(config))
    if config.backward_encoder_from:
        from apps.common import pretrained_encoder

        pretrained_encoder.load_pair(config.encoder_from, config.backward_encoder_from)
    job.describe(reviews, f"using {len(reviews.x_train):,} train / {len(reviews.x_val):,} "
                          f"validation / {len(reviews.x_test):,} test reviews, the first "
                          f"{config.max_length} words of each")
    with job.run_folder() as run:  # new, or the interrupted one resumed
        with job.scope(run):
            setup = build_training(config, reviews)
            result = job.fit(run, setup, extra_callbacks)
        if not job.chief:
            return job.worker_done(setup, result)
        model = job.best_model(run, setup)
        calibration = calibrate(model, reviews, config)
        model.save(run.model_path)  # with its temperature
        report = evaluate_model(model, reviews, run.path, config.batch_size)
        return job.finish(run, setup, result, reviews, _settings(config, reviews),
                          {**calibration, **report}, headline=("test accuracy", "test_accuracy"))


def _settings(config, reviews):
    return {"cell": config.cell, "units": config.units, "layers": config.layers,
            "bidirectional": config.bidirectional, "pooling": config.pooling,
            "vocab_size": config.vocab_size, "max_length": config.max_length,
            "embedding_dim": config.embedding_dim,
            "train_examples": len(reviews.x_train), "validation_examples": len(reviews.x_val)}


def calibrate(model, reviews, config):
    """Fit the output temperature on the validation split (temperature scaling); sets it in `model`.

    Returns:
        {"temperature", "val_log_loss_before", "val_log_loss_after"}.
    """
    from apps.sentiment import data, model as model_module

    logits = data.predict_probabilities(model_module.logits_model(model), reviews.x_val,
                                        config.batch_size, config.max_length)
    temperature = model_module.fit_temperature(logits, reviews.y_val)
    model_module.set_temperature(model, temperature)
    before = model_module.log_loss(logits, reviews.y_val)
    after = model_module.log_loss(logits, reviews.y_val, temperature)
    print(f"calibration: temperature {temperature:.3f} fitted on the validation split "
          f"(log loss {before:.4f} -> {after:.4f})", flush=True)
    return {"temperature": round(temperature, 4),
            "val_log_loss_before_calibration": round(before, 5),
            "val_log_loss_after_calibration": round(after, 5)}
