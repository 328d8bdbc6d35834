"""`rnn-suite tune <app>`: small searches finish, record every trial, and hand over to `train`."""

import os

import keras
import pytest
from tuning_testutils import (CAPTIONING_DATA, CAPTIONING_SPACE, MNIST_DATA, MNIST_SPACE,
                              SENTIMENT_SPACE, TRANSLATION_DATA, TRANSLATION_SPACE, read_json,
                              read_trials, review_csv, run_cli, space)

from apps.common import plots
from apps.captioning.config import CaptioningConfig
from apps.common.config import build_config
from apps.sentiment.config import SentimentConfig
from apps.translation.config import TranslationConfig
from tuning import reports


def _recurrent_layers(model):
    import layers as rnn_layers

    return [layer for layer in model.layers
            if isinstance(layer, (rnn_layers.Recurrent, rnn_layers.Bidirectional))]


def _learning_rate(model):
    """The initial learning rate the saved model's optimizer was built with."""
    value = model.optimizer.get_config()["learning_rate"]
    if isinstance(value, dict):  # a schedule
        return value["config"]["initial_learning_rate"]
    return value


def test_mnist_hyperband_search_trains_what_it_reports(in_tmp, capsys):
    """Hyperband (with a continued trial), trials.csv, best.json; each model is its trial's."""
    import apps.mnist.model  # noqa: F401 - registers ImageToSequence
    import layers as rnn_layers

    status, out, err = run_cli(capsys, "tune", "mnist", *MNIST_DATA, "--tuner", "hyperband",
                               "--max-epochs", "3", "--max-trials", "4", "--in-process",
                               "--space", space(MNIST_SPACE), "--name", "hb")
    assert status == 0, err
    project = in_tmp / "runs" / "tune" / "mnist" / "hb"
    trials = read_trials(project)
    assert [t["trial_id"] for t in trials] == ["0", "1", "2", "3"]
    assert all(t["status"] == "COMPLETED" for t in trials)
    continued = [t for t in trials if t.get("tuner/trial_id")]
    assert len(continued) == 1  # Hyperband's second round trains on from a first-round trial
    continued = continued[0]
    assert (continued["tuner/initial_epoch"], continued["tuner/epochs"]) == ("1", "3")
    history = plots.read_history(project / f"trial_{continued['trial_id']}" / "execution0" /
                                 "history.csv")
    assert list(history["epoch"]) == [1, 2]  # epochs 2 and 3, after the first trial's 1
    assert float(continued["epochs"]) == 3
    for trial in trials:
        run = project / f"trial_{trial['trial_id']}" / "execution0"
        # The hyperparameters a trial reports are the ones its model was built with.
        model = keras.models.load_model(run / "model.keras")
        recurrent = _recurrent_layers(model)
        assert len(recurrent) == 1 and isinstance(recurrent[0], rnn_layers.GRU)
        assert recurrent[0].units == int(trial["units"])
        assert _learning_rate(model) == pytest.approx(float(trial["learning_rate"]), rel=1e-6)
        assert read_json(run / "config.json")["units"] == int(trial["units"])
        assert float(trial["val_accuracy"]) == pytest.approx(
            max(plots.read_history(run / "history.csv")["val_accuracy"]), abs=1e-6)
    assert (project / "search.png").is_file() and (project / "trial_0" / "execution0" /
                                                   "logs").is_dir()
    best = read_json(project / "best.json")
    best_trial = max(trials, key=lambda t: float(t["val_accuracy"]))
    assert best["units"] == int(best_trial["units"])
    assert best["epochs"] == int(best_trial.get("tuner/epochs") or 3)
    assert "limit" not in best and "run_dir" not in best
    assert "Results summary" in out
    assert f"next: rnn-suite mnist train --config {project.relative_to(in_tmp)}/best.json" in out
    status, out, err = run_cli(capsys, "mnist", "train", "--config", project / "best.json",
                               "--limit", "64", "--epochs", "1")
    assert status == 0, err
    trained = read_json(sorted((in_tmp / "runs" / "mnist").iterdir())[-1] / "config.json")
    assert (trained["units"], trained["mode"], trained["source"]) == (
        best["units"], "row", "digits")


def _two_trial_search(capsys, in_tmp, app, *flags):
    """`rnn-suite tune APP FLAGS`: a random search of two one-epoch trials, in this process.

    Returns:
        `(project folder, trials.csv rows)`, after checking both trials completed.
    """
    status, _, err = run_cli(capsys, "tune", app, *flags, "--tuner", "random",
                             "--max-trials", "2", "--max-epochs", "1", "--in-process")
    assert status == 0, err
    project = in_tmp / "runs" / "tune" / app / "random"
    trials = read_trials(project)
    assert len(trials) == 2 and all(t["status"] == "COMPLETED" for t in trials)
    return project, trials


def test_sentiment_search_of_two_trials(in_tmp, capsys):
    csv_path = review_csv(in_tmp / "reviews.csv")
    project, trials = _two_trial_search(capsys, in_tmp, "sentiment", "--csv", csv_path,
                                        "--seed", "3", "--space", space(SENTIMENT_SPACE))
    import apps.sentiment.model as model_module

    for trial in trials:
        model = keras.models.load_model(project / f"trial_{trial['trial_id']}" / "execution0" /
                                        "model.keras")
        assert model.get_layer("embedding").input_dim == 300
        assert model.get_layer("truncate").max_length == 40
        assert _recurrent_layers(model)[0].units == int(trial["units"])
        assert model_module.has_attention(model) == (trial["pooling"] == "attention")
    # What `train --config best.json` does first (a whole training run is the mnist test's).
    best = build_config(SentimentConfig, {}, project / "best.json")
    assert (best.vocab_size, best.csv, best.limit) == (300, str(csv_path), 0)


def test_translation_search_by_validation_bleu(in_tmp, capsys):
    project, trials = _two_trial_search(capsys, in_tmp, "translation", *TRANSLATION_DATA,
                                        "--objective", "val_bleu",
                                        "--space", space(TRANSLATION_SPACE))
    for trial in trials:
        history = plots.read_history(project / f"trial_{trial['trial_id']}" / "execution0" /
                                     "history.csv")
        assert float(trial["val_bleu"]) == pytest.approx(history["val_bleu"].max(), abs=1e-6)
        assert 0.0 <= float(trial["val_bleu"]) <= 100.0
    best = build_config(TranslationConfig, {}, project / "best.json")
    assert best.dataset == "generated" and best.units in (8, 12)


def test_captioning_search_of_two_trials(in_tmp, capsys):
    project, trials = _two_trial_search(capsys, in_tmp, "captioning", *CAPTIONING_DATA,
                                        "--objective", "val_masked_accuracy",
                                        "--space", space(CAPTIONING_SPACE))
    import apps.captioning.model  # noqa: F401 - registers its layers

    for trial in trials:
        model = keras.models.load_model(project / f"trial_{trial['trial_id']}" / "execution0" /
                                        "model.keras")
        decoder = model.get_layer("caption_decoder")
        assert decoder.get_layer("init_h").units == int(trial["units"])
    best = build_config(CaptioningConfig, {}, project / "best.json")
    assert (best.dataset, best.image_size, best.embedding_dim) == ("shapes", 32, 16)


class _StopInSecondEpoch(keras.callbacks.Callback):
    """Stands in for a kill in the middle of a trial: Ctrl-C in its second epoch."""

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 1:
            raise KeyboardInterrupt


def test_rerun_resumes_and_reruns_no_finished_trial(in_tmp, capsys, monkeypatch):
    from apps.common import training
    from tuning import hypermodels

    args = ["tune", "mnist", *MNIST_DATA, "--tuner", "random", "--max-trials", "2",
            "--max-epochs", "2", "--in-process", "--space", space(MNIST_SPACE)]
    trainings = []
    real_fit = training.fit

    def counting_fit(model, train_data, validation_data, config, run, **kwargs):
        trainings.append(run.path.parent.name)
        if len(trainings) == 2:  # the second trial is interrupted in its second epoch
            kwargs["extra_callbacks"] = [*kwargs["extra_callbacks"], _StopInSecondEpoch()]
        return real_fit(model, train_data, validation_data, config, run, **kwargs)

    monkeypatch.setattr(training, "fit", counting_fit)
    status, _, _ = run_cli(capsys, *args)
    assert status == 130
    assert trainings == ["trial_0", "trial_1"]
    project = in_tmp / "runs" / "tune" / "mnist" / "random"
    finished = {p: p.stat().st_mtime_ns for p in project.glob("trial_*/execution0/metrics.json")}
    assert len(finished) == 1

    status, out, err = run_cli(capsys, *args)
    assert status == 0, err
    assert trainings[2:] == ["trial_1"]  # only the interrupted trial trains again
    assert f"resuming the interrupted run in {project.relative_to(in_tmp)}/trial_1" in out
    assert "at epoch 2" in out  # from its backup, not from scratch
    assert {p: p.stat().st_mtime_ns for p in finished} == finished
    trials = read_trials(project)
    assert [t["trial_id"] for t in trials] == ["0", "1"]
    assert all(t["status"] == "COMPLETED" for t in trials)
    assert isinstance(hypermodels.memory_mb()[0], float)


def test_rerun_with_other_settings_is_refused_unless_overwrite(in_tmp, capsys):
    reports.claim_project(in_tmp / "runs" / "tune" / "mnist" / "s", {"app": "mnist", "x": 1})
    args = ["tune", "mnist", *MNIST_DATA, "--tuner", "random", "--max-trials", "1",
            "--max-epochs", "1", "--in-process", "--space", space(MNIST_SPACE), "--name", "s"]
    status, _, err = run_cli(capsys, *args)
    assert status == 2
    assert "holds a search with other settings" in err and "--overwrite" in err
    assert len(err.strip().splitlines()) == 1
    status, _, err = run_cli(capsys, *args, "--overwrite")
    assert status == 0, err
    assert read_json(in_tmp / "runs" / "tune" / "mnist" / "s" / "search.json")["tuner"] == "random"


def test_trials_in_fresh_processes_keep_memory_flat(in_tmp, capsys):
    """The default: each trial trains in its own process, so memory does not grow."""
    fixed_model = {**MNIST_SPACE, "units": 8, "batch_size": 64}
    status, out, err = run_cli(capsys, "tune", "mnist", *MNIST_DATA, "--tuner", "random",
                               "--max-trials", "3", "--max-epochs", "1",
                               "--space", space(fixed_model))
    assert status == 0, err
    project = in_tmp / "runs" / "tune" / "mnist" / "random"
    trials = read_trials(project)
    assert len(trials) == 3 and all(t["status"] == "COMPLETED" for t in trials)
    for trial in trials:
        folder = project / f"trial_{trial['trial_id']}"
        child = read_json(folder / "trial_result.json")["results"][0]
        assert child["val_accuracy"] == pytest.approx(float(trial["val_accuracy"]), abs=1e-6)
        assert read_json(folder / "trial_request.json")["parent"] == os.getpid()
    # Trained in the same process, the same model costs 25-30 MB more with every trial.
    memory = [float(t["memory_mb"]) for t in trials]
    assert max(memory) - min(memory) < 15, memory
    assert "next: rnn-suite mnist train --config" in out
