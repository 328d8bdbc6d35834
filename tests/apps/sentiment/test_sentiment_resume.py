"""A sentiment run killed with SIGKILL mid-training, then the same command again: it resumes
with the vocabulary it had (built from the training split once, kept in the saved model)."""

import keras
from app_testutils import killed_and_resumed
from sentiment_testutils import MODEL_FLAGS, data_flags

from apps.sentiment import adversarial
from apps.sentiment import model as model_module


def _vocabulary(run):
    return model_module.vectorizer_layer(
        keras.models.load_model(run / "model.keras")).get_vocabulary()


def test_killed_process_resumes_with_the_same_vocabulary(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = []
    # Fewer reviews than the other tests (the last --limit wins): the point is the resume.
    run, _ = killed_and_resumed(
        capsys, ["sentiment", "train", *data_flags(tmp_path), *MODEL_FLAGS, "--epochs", "4",
                 "--batch-size", "8", "--limit", "120"], tmp_path,
        after_kill=lambda run: before.append(_vocabulary(run)))
    assert _vocabulary(run) == before[0]


def test_killed_adversarial_run_resumes_into_its_trainer(tmp_path, capsys, monkeypatch):
    # Adversarial training fits a wrapper (classifier + perturbation): its backup must
    # restore into the wrapper, and model.keras stays the classifier alone.
    monkeypatch.chdir(tmp_path)
    run, metrics = killed_and_resumed(
        capsys, ["sentiment", "train", *data_flags(tmp_path), *MODEL_FLAGS, "--epochs", "4",
                 "--batch-size", "8", "--limit", "120", "--adversarial", "0.5"], tmp_path)
    assert metrics["epochs_done"] == 4
    model = keras.models.load_model(run / "model.keras")
    assert not isinstance(model, adversarial.AdversarialTrainer)
    assert model.get_layer(adversarial.LAYER_NAME).count_params() == 0
