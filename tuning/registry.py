"""What `rnn-suite tune` knows about each app: its search space, objectives, flags, hyper-model.

Adding an app is one `AppTuning` entry here plus a small hyper-model class in
`tuning/hypermodels.py` pointing at the app's `load_data` and
`build_training` (captioning came that way). Nothing here imports TensorFlow: the
hyper-model and the config class are named as "module:attribute" and
imported when a search runs.
"""

import dataclasses
import importlib

from tuning.space import boolean, choice, integer, real

TUNERS = ("hyperband", "random", "bayesian")


@dataclasses.dataclass(frozen=True)
class AppTuning:
    """How one app is tuned.

    Attributes:
        name: The app's name (`rnn-suite <name> train`).
        config: "module:Class" of the app's config dataclass.
        hypermodel: "module:Class" of its `AppHyperModel` subclass.
        space: {setting: Dimension}; defaults come from the config class.
        objectives: {metric: "max" or "min"}; the first is the default.
        data_flags: Settings of the app's `train` that `tune` offers as flags
            (which data, how much of it, the seed); the same in every trial.
    """

    name: str
    config: str
    hypermodel: str
    space: dict
    objectives: dict
    data_flags: tuple

    @property
    def default_objective(self):
        return next(iter(self.objectives))

    def config_class(self):
        return _import(self.config)

    def hypermodel_class(self):
        return _import(self.hypermodel)


def _import(name):
    module, attribute = name.split(":")
    return getattr(importlib.import_module(module), attribute)


ACCURACY_OBJECTIVES = {"val_accuracy": "max", "val_loss": "min"}

APPS = {
    "mnist": AppTuning(
        name="mnist",
        config="apps.mnist.config:MnistConfig",
        hypermodel="tuning.hypermodels:MnistHyperModel",
        space={
            "cell": choice("gru", "lstm", "rnn"),
            "units": choice(32, 64, 128, 256),
            "layers": integer(1, 2),
            "bidirectional": boolean(),
            "dropout": real(0.0, 0.3, step=0.1),
            "learning_rate": real(1e-4, 1e-2, log=True),
            "learning_rate_schedule": choice("constant", "cosine"),
            "batch_size": choice(32, 64, 128, 256),
        },
        objectives=ACCURACY_OBJECTIVES,
        data_flags=("mode", "permutation_seed", "source", "data_dir", "limit", "seed"),
    ),
    "sentiment": AppTuning(
        name="sentiment",
        config="apps.sentiment.config:SentimentConfig",
        hypermodel="tuning.hypermodels:SentimentHyperModel",
        # What the strongest recurrent IMDB models trained from scratch use is in
        # reach: long inputs, max pooling over time, large vocabularies.
        space={
            "cell": choice("gru", "lstm"),
            "units": choice(32, 64, 128),
            "layers": integer(1, 2),
            "bidirectional": boolean(),
            "pooling": choice("attention", "max", "last"),
            "vocab_size": choice(8000, 12000, 20000, 30000),
            "max_length": choice(300, 500, 800),
            "embedding_dim": choice(64, 128, 256),
            "dropout": real(0.0, 0.4, step=0.1),
            "embedding_dropout": real(0.0, 0.5, step=0.1),
            "final_dropout": real(0.0, 0.5, step=0.1),
            "word_dropout": real(0.0, 0.3, step=0.1),
            # Validating and keeping the averaged weights: a cheap ensemble of the
            # last few hundred steps.
            "ema_momentum": choice(0.0, 0.99),
            "learning_rate": real(3e-4, 5e-3, log=True),
            "learning_rate_schedule": choice("cosine", "constant"),
            "batch_size": choice(32, 64, 128),
        },
        objectives=ACCURACY_OBJECTIVES,
        data_flags=("source", "csv", "text_col", "label_col", "validation_split", "data_dir",
                    "limit", "seed"),
    ),
    "translation": AppTuning(
        name="translation",
        config="apps.translation.config:TranslationConfig",
        hypermodel="tuning.hypermodels:TranslationHyperModel",
        space={
            "cell": choice("gru", "lstm"),
            "units": choice(128, 256, 512),
            "layers": integer(1, 2),
            "embedding_dim": choice(128, 256),
            "attention_units": choice(0, 128, 256),  # 0: as many as --units
            "dropout": real(0.0, 0.4, step=0.1),
            "readout": boolean(),
            "learning_rate": real(3e-4, 3e-3, log=True),
            "learning_rate_schedule": choice("constant", "cosine"),
            "batch_size": choice(32, 64, 128),
            # Subword runs only (the default tokenizer); word runs ignore it. Label
            # smoothing is left out: it changes the validation loss a trial is scored by.
            "vocab_size": choice(4000, 8000, 16000),
        },
        # Validation BLEU: greedy, on a fixed slice of the validation split.
        objectives={"val_loss": "min", "val_bleu": "max", "val_masked_accuracy": "max"},
        data_flags=("source_lang", "target_lang", "dataset", "pairs", "skip_bad_lines",
                    "tokenizer", "joint_vocabulary", "min_count", "max_vocab", "max_length",
                    "data_dir", "limit", "seed"),
    ),
    "captioning": AppTuning(
        name="captioning",
        config="apps.captioning.config:CaptioningConfig",
        hypermodel="tuning.hypermodels:CaptioningHyperModel",
        space={
            "cell": choice("lstm", "gru"),
            "units": choice(128, 256, 512),
            "embedding_dim": choice(64, 128, 256),
            "attention_units": choice(0, 128, 256),  # 0: as many as --units
            "attention_penalty": real(0.0, 2.0, step=0.5),
            "context_gate": boolean(),
            "dropout": real(0.0, 0.5, step=0.1),
            "learning_rate": real(3e-4, 3e-3, log=True),
            "learning_rate_schedule": choice("constant", "cosine"),
            "batch_size": choice(32, 64, 128),
        },
        objectives={"val_loss": "min", "val_masked_accuracy": "max"},
        # The encoder and the image size decide the (cached) image features, so they
        # stay the same in every trial.
        data_flags=("dataset", "data_dir", "csv", "karpathy_json", "images", "image_col",
                    "caption_col", "skip_bad_lines", "shapes_images", "shapes_max", "encoder",
                    "encoder_weights", "image_size", "fine_tune_encoder", "cache_dir",
                    "min_count", "max_caption_length", "limit", "seed"),
    ),
    "lm": AppTuning(
        name="lm",
        config="apps.lm.config:LMConfig",
        hypermodel="tuning.hypermodels:LanguageModelHyperModel",
        space={
            "cell": choice("lstm", "gru"),
            "units": choice(128, 256, 512),
            "layers": integer(1, 2),
            "embedding_dim": choice(128, 256),
            "dropout": real(0.0, 0.4, step=0.1),
            "embedding_dropout": real(0.0, 0.3, step=0.1),
            "output_dropout": real(0.0, 0.5, step=0.1),
            "learning_rate": real(5e-4, 5e-3, log=True),
            "learning_rate_schedule": choice("cosine", "constant"),
            "batch_size": choice(32, 64, 128),
            "window": choice(35, 70, 140),
        },
        objectives={"val_loss": "min", "val_accuracy": "max"},
        data_flags=("text", "dataset", "tokenizer", "vocab_size", "data_dir", "limit", "seed"),
    ),
}
