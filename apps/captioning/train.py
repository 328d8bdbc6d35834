"""`rnn-suite captioning train`: the story, in the order `train` runs it.

Find the captions and images (data.py) -> resolve the encoder and image size
-> build the caption vocabulary from the training captions -> build the model
(model.py) -> with a frozen pretrained encoder, compute every image's features
once (feature_cache.py) and train the decoder on them; with the CNN (or
--fine-tune-encoder), train on pixels -> keep the best model by validation
loss -> caption the test images, greedy and beam, and score them beside the
two peers (evaluation.py, baselines.py) -> pictures.

`build_training` is the one place the model is built and compiled for
training; `rnn-suite tune captioning` calls it too. TensorFlow is imported
inside the functions, so that `--help` and flag errors answer at once.
"""

import dataclasses
import typing

from apps.captioning import NAME
from apps.captioning.evaluation import evaluate_model, image_encoder
from apps.common.errors import UsageError


TEST_IMAGE_CHECK_SIZE = 8


def resolved(config, corpus_name):
    """The config with `--dataset auto`, `--encoder auto` and `--image-size 0` made concrete.

    `config.json` keeps these, so `evaluate` reads the same dataset again (or
    says it is missing) rather than falling back to generated shapes.
    """
    from apps.captioning import encoders

    config = dataclasses.replace(config, dataset=corpus_name)
    name, size = encoders.resolve(config)
    return dataclasses.replace(config, encoder=name, image_size=size)


def model_inputs(config, corpus, split, encoder, cache_dir=None):
    """What the trained model reads for a split: cached features (frozen encoder) or pixels.

    Returns:
        `(array, kept split, note)`; images skipped with `--skip-bad-lines`
        are left out of the split.
    """
    from apps.captioning import feature_cache
    from apps.captioning.caption_corpus import CaptionSplit

    names = split.names
    if frozen_encoder(config):
        identity = _frozen_identity(config)
        array, kept, counts = feature_cache.features(
            encoder, identity, corpus.store, names, config.image_size,
            cache_dir or config.cache_dir, skip_bad=config.skip_bad_lines)
        note = (f"features: {counts['cached']} from the cache, {counts['computed']} computed"
                + (f", {counts['skipped']} unreadable images skipped" if counts["skipped"] else ""))
    else:
        array, skipped = corpus.store.load(names, config.image_size,
                                           skip_bad=config.skip_bad_lines)
        kept = [n for n in names if n not in set(skipped)]
        note = f"{len(kept)} images" + (f" ({len(skipped)} unreadable, skipped)" if skipped else "")
    if not kept:
        raise UsageError(f"no readable images in the {split_name(corpus, split)} split "
                         f"({corpus.store.describe()})")
    captions = dict(zip(names, split.captions))
    return array, CaptionSplit(kept, [captions[n] for n in kept]), note


def split_name(corpus, split):
    return next(n for n in ("train", "validation", "test") if corpus.split(n) is split)


def _frozen_identity(config):
    from apps.captioning import encoders

    return encoders.identity(config.encoder, config.image_size, config.encoder_weights)


def frozen_encoder(config):
    from apps.captioning import encoders

    return encoders.is_pretrained(config.encoder) and not config.fine_tune_encoder


@dataclasses.dataclass
class CaptionData:
    """What training reads, loaded once (a tuner's trials share it): the corpus and its vocabulary."""

    corpus: typing.Any
    vocabulary: list
    # A frozen encoder's training features, {encoder identity: (array, split)},
    # as `build_training` read them from the cache: the nearest-neighbour peer
    # reuses them instead of reading every file again. One entry at most.
    train_features: dict = dataclasses.field(default_factory=dict, repr=False)

    @property
    def name(self):
        return self.corpus.name

    @property
    def description(self):
        return self.corpus.description


def load_data(config):
    """The corpus the settings ask for (`--limit` applied) and the training captions' vocabulary."""
    from apps.captioning import data
    from apps.captioning import model as model_module
    from apps.common import teacher_forcing

    corpus = data.load(config)
    if not config.skip_bad_lines:
        # The test images are read only after training: an unreadable one must stop the
        # run now, not after every epoch. A tiny size keeps this cheap (JPEG draft mode).
        corpus.store.load(corpus.test.names, TEST_IMAGE_CHECK_SIZE)
    words = model_module.caption_words([c for refs in corpus.train.captions for c in refs])
    return CaptionData(corpus, teacher_forcing.build_vocabulary(words, config.min_count))


def build_training(config, caption_data):
    """The captioner a config describes, compiled, with its training and validation pipelines.

    The one place the model is built and compiled for training: `train` uses
    it, and so does `rnn-suite tune`. With a frozen pretrained encoder the
    model trained is the decoder, on cached features, and the model saved is
    the whole captioner (`TrainingSetup.saved_model`). The test split is not touched.
    """
    import numpy as np

    from apps.captioning import data, encoders
    from apps.captioning import model as model_module
    from apps.common import teacher_forcing, training

    corpus = caption_data.corpus
    config = resolved(config, corpus.name)
    encoder = encoders.build_encoder(config.encoder, config.image_size, _cache(config),
                                     config.encoder_weights, config.seed)
    model, decoder = model_module.build_model(config, caption_data.vocabulary, encoder)
    frozen = frozen_encoder(config)
    if encoders.is_pretrained(config.encoder):
        encoders.set_trainable(encoder, not frozen)
    trained, input_name = (decoder, "features") if frozen else (model, "image")
    pipelines = []
    for name in ("train", "validation"):
        array, split, note = model_inputs(config, corpus, corpus.split(name), encoder)
        print(f"{name}: {note}", flush=True)
        if frozen and name == "train":
            caption_data.train_features.clear()
            caption_data.train_features[_frozen_identity(config)] = (array, split)
        pipelines.append(data.pipeline(trained, array, split, input_name, config.batch_size,
                                  shuffle=name == "train", seed=config.seed))
    training.compile_model(trained, config, loss=model_module.loss(),
                           metrics=[teacher_forcing.MaskedAccuracy()], train_data=pipelines[0])
    sizes = {"trainable_parameters": int(sum(int(np.prod(w.shape))
                                             for w in trained.trainable_weights)),
             "train_images": len(corpus.train),
             "train_captions": sum(map(len, corpus.train.captions)),
             "vocabulary": len(caption_data.vocabulary) + teacher_forcing.SPECIAL_TOKENS}
    return training.TrainingSetup(trained, *pipelines, monitor="val_loss", mode="min",
                                  saved_model=model if frozen else None, sizes=sizes)


def train(config, extra_callbacks=()):
    """Train from a validated `CaptioningConfig`: data, model, fit, evaluate, pictures.

    Returns:
        The metrics written to `metrics.json`.
    """
    from apps.common.training_job import TrainingJob

    job = TrainingJob(NAME, config)  # --distribute's strategy, the seed
    caption_data = load_data(config)  # bad input fails here, before any folder is made
    config = job.use_config(resolved(config, caption_data.name))
    job.describe(caption_data, _describe(config, caption_data))
    with job.run_folder() as run:  # new, or the interrupted one resumed
        with job.scope(run):
            setup = build_training(config, caption_data)
            result = job.fit(run, setup, extra_callbacks)
        if not job.chief:
            return job.worker_done(setup, result)
        model = job.best_model(run, setup)
        report = _evaluate_run(model, config, caption_data, run)
        return job.finish(run, setup, result, caption_data, _settings(config, caption_data),
                          report, headline=(f"test CIDEr-D (beam {config.beam_size})",
                                            "beam.CIDEr-D"),
                          curves=("loss", "masked_accuracy"))


def _describe(config, caption_data):
    from apps.common import teacher_forcing

    return (f"encoder: {config.encoder} at {config.image_size} px "
            f"({'frozen, features cached' if frozen_encoder(config) else 'trained'}); "
            f"vocabulary {len(caption_data.vocabulary) + teacher_forcing.SPECIAL_TOKENS:,} "
            f"words (seen at least {config.min_count} times in the training captions)")


def _settings(config, caption_data):
    return {"encoder": config.encoder, "image_size": config.image_size,
            "encoder_frozen": frozen_encoder(config), "cell": config.cell,
            "units": config.units, "embedding_dim": config.embedding_dim}


def _evaluate_run(model, config, caption_data, run):
    corpus = caption_data.corpus
    test = corpus.test.limited(config.eval_limit) if config.eval_limit else corpus.test
    # The nearest-neighbour peer reads the training images' features: those training
    # read when the encoder is frozen, else from the trained encoder (in evaluate_model).
    train_inputs = None
    if frozen_encoder(config):
        train_inputs = caption_data.train_features.get(_frozen_identity(config))
        if train_inputs is None:
            train_inputs = model_inputs(config, corpus, corpus.train, image_encoder(model))[:2]
    return evaluate_model(model, dataclasses.replace(corpus, test=test), config, run.path,
                          batch_size=64, train_inputs=train_inputs)


def _cache(config):
    from apps.captioning import feature_cache

    return feature_cache.cache_root(config.cache_dir)
