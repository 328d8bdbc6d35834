"""`rnn-suite mnist train`: data, model, fit, evaluate, pictures, in that order.

`build_training` is the one place the model is built and compiled for
training; `rnn-suite tune mnist` calls it too. TensorFlow is imported inside
the functions, so that `--help` and flag errors answer at once.
"""

from apps.mnist import NAME
from apps.mnist.evaluation import evaluate_model


def load_data(config):
    """The digits a config names (`--source`, `--data-dir`, `--limit`); bad input fails here.

    Returns:
        A `data.Digits` (train, validation and test splits).
    """
    from apps.mnist import data

    return data.load(config.source, config.data_dir, config.limit)


def build_training(config, digits):
    """The model a config describes, compiled, with its training and validation pipelines.

    The one place the model is built and compiled for training: `train` uses
    it, and so does `rnn-suite tune`. The test split is not touched.

    Returns:
        A `training.TrainingSetup` (best epoch by validation accuracy).
    """
    from apps.common import training
    from apps.mnist import data, model as model_module

    model = model_module.build_model(config, digits.image_size)
    train_data = data.pipeline(digits.x_train, digits.y_train, config.batch_size,
                               shuffle=True, seed=config.seed)
    validation_data = data.pipeline(digits.x_val, digits.y_val, config.batch_size)
    training.compile_model(model, config, loss="sparse_categorical_crossentropy",
                           metrics=["accuracy"], train_data=train_data)
    return training.TrainingSetup(model, train_data, validation_data,
                                  monitor="val_accuracy", mode="max")


def train(config, extra_callbacks=()):
    """Train from a validated `MnistConfig`: data, model, fit, evaluate, pictures.

    Returns:
        The metrics written to `metrics.json`.
    """
    from apps.common.training_job import TrainingJob

    job = TrainingJob(NAME, config)  # --distribute's strategy, the seed
    digits = load_data(config)  # bad input fails here, before any folder is made
    job.describe(digits, _describe(config, digits))
    with job.run_folder() as run:  # new, or the interrupted one resumed
        with job.scope(run):
            setup = build_training(config, digits)
            result = job.fit(run, setup, extra_callbacks)
        if not job.chief:
            return job.worker_done(setup, result)
        model = job.best_model(run, setup)
        report = evaluate_model(model, digits, run.path, config.batch_size)
        return job.finish(run, setup, result, digits, _settings(config, digits), report,
                          headline=("test accuracy", "test_accuracy"))


def _describe(config, digits):
    steps, features = _sequence_shape(config.mode, digits.image_size)
    return (f"using {len(digits.x_train):,} train / {len(digits.x_val):,} validation / "
            f"{len(digits.x_test):,} test images, as sequences of {steps} steps x {features} "
            f"({config.mode} mode)")


def _settings(config, digits):
    return {"mode": config.mode, "cell": config.cell, "units": config.units,
            "layers": config.layers, "bidirectional": config.bidirectional,
            "chrono_init": config.chrono_init, "builtin_layers": config.builtin_layers,
            "train_examples": len(digits.x_train)}


def _sequence_shape(mode, size):
    return (size, size) if mode == "row" else (size * size, 1)
