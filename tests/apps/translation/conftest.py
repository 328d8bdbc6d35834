"""Fixtures of the translation tests: one tiny trained run, and a Translator of its saved model."""

import pytest
from translation_testutils import TINY

from apps import cli


@pytest.fixture(scope="session")
def translation_run(tmp_path_factory):
    """One finished tiny translation run (3 epochs), shared by the tests that only read it."""
    run = tmp_path_factory.mktemp("translation") / "run"
    status = cli.main(["translation", "train", *TINY, "--epochs", "3", "--run-dir", str(run)])
    assert status == 0
    return run


@pytest.fixture(scope="session")
def translator(translation_run):
    import keras

    import apps.translation.model as model_module

    model = keras.models.load_model(translation_run / "model.keras")  # safe_mode on
    return model_module.Translator(model)
