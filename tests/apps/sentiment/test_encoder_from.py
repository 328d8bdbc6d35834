"""`sentiment train --encoder-from LM_RUN`: the classifier starts from the language model's
vocabulary, embedding and recurrent weights, exactly."""

import numpy as np
import pytest

from app_testutils import read_json, run_cli
from apps.common import config as config_module
from apps.common.errors import UsageError
from apps.sentiment import train as sentiment_train
from apps.sentiment.config import SentimentConfig

LM = ["lm", "train", "--dataset", "embedded", "--limit", "200", "--units", "12",
      "--embedding-dim", "8", "--window", "20", "--epochs", "1", "--seed", "3"]
REVIEWS = "text,label\n" + "".join(
    f"{'the movie was great i loved it' if i % 2 else 'the plot was dull skip it'},{i % 2}\n"
    for i in range(40))


@pytest.fixture
def lm_run(capsys, in_tmp):
    status, _, err = run_cli(capsys, *LM)
    assert status == 0, err
    (run,) = list((in_tmp / "runs" / "lm").iterdir())
    return run


def _config(in_tmp, **settings):
    (in_tmp / "reviews.csv").write_text(REVIEWS)
    return config_module.build_config(SentimentConfig, {
        "csv": "reviews.csv", "cell": "gru", "epochs": 1, **settings})


@pytest.mark.parametrize("bidirectional", [False, True])
def test_the_classifier_starts_from_the_language_model(lm_run, in_tmp, bidirectional):
    config = _config(in_tmp, encoder_from=str(lm_run), bidirectional=bidirectional, units=99)
    reviews = sentiment_train.load_data(config)
    setup = sentiment_train.build_training(sentiment_train.with_encoder_architecture(config), reviews)
    from apps.common import pretrained_encoder

    language_model, vocabulary = pretrained_encoder.load(str(lm_run))
    model = setup.model
    np.testing.assert_array_equal(model.get_layer("embedding").get_weights()[0],
                                  language_model.get_layer("embedding").embeddings.numpy())
    recurrent = model.get_layer("recurrent_1")
    recurrent = recurrent.forward_layer if bidirectional else recurrent
    for ours, theirs in zip(recurrent.get_weights(),
                            language_model.get_layer("recurrent_1").get_weights()):
        np.testing.assert_array_equal(ours, theirs)
    from apps.sentiment import model as model_module

    assert model_module.vectorizer_layer(model).get_vocabulary() == vocabulary


def test_train_records_the_language_models_architecture(capsys, lm_run, in_tmp):
    (in_tmp / "reviews.csv").write_text(REVIEWS)
    status, _, err = run_cli(capsys, "sentiment", "train", "--csv", "reviews.csv",
                             "--encoder-from", lm_run, "--epochs", "1", "--units", "50")
    assert status == 0, err
    (run,) = list((in_tmp / "runs" / "sentiment").iterdir())
    saved = read_json(run / "config.json")
    lm = read_json(lm_run / "config.json")
    assert [saved[k] for k in ("cell", "units", "layers", "embedding_dim")] == [
        lm[k] for k in ("cell", "units", "layers", "embedding_dim")]
    assert saved["vocab_size"] == read_json(lm_run / "metrics.json")["vocabulary_size"]


def test_a_run_of_another_app_is_refused(in_tmp):
    other = in_tmp / "runs" / "mnist" / "x"
    other.mkdir(parents=True)
    (other / "model.keras").write_bytes(b"PK")
    (other / "config.json").write_text('{"mode": "row", "units": 4}')
    config = SentimentConfig(encoder_from=str(other))
    with pytest.raises(UsageError, match="is not a run of `rnn-suite lm train`"):
        sentiment_train.with_encoder_architecture(config)


@pytest.fixture
def backward_lm_run(capsys, lm_run, in_tmp):
    """A backward LM trained from `lm_run` with its embedding frozen (what fills the backward
    half)."""
    status, _, err = run_cli(capsys, *LM, "--init-from", lm_run, "--backwards",
                             "--freeze-embedding", "--run-dir", "runs/lm/backward")
    assert status == 0, err
    return in_tmp / "runs" / "lm" / "backward"


def test_the_backward_half_starts_from_the_backward_language_model(lm_run, backward_lm_run,
                                                                   in_tmp):
    from apps.common import pretrained_encoder

    config = _config(in_tmp, encoder_from=str(lm_run),
                     backward_encoder_from=str(backward_lm_run))
    reviews = sentiment_train.load_data(config)
    setup = sentiment_train.build_training(sentiment_train.with_encoder_architecture(config),
                                           reviews)
    forward, _ = pretrained_encoder.load(str(lm_run))
    backward, _ = pretrained_encoder.load(str(backward_lm_run))
    recurrent = setup.model.get_layer("recurrent_1")
    for half, language_model in [(recurrent.forward_layer, forward),
                                 (recurrent.backward_layer, backward)]:
        for ours, theirs in zip(half.get_weights(),
                                language_model.get_layer("recurrent_1").get_weights()):
            np.testing.assert_array_equal(ours, theirs)
    assert not np.array_equal(recurrent.forward_layer.get_weights()[0],
                              recurrent.backward_layer.get_weights()[0])


def test_train_with_a_backward_language_model(capsys, lm_run, backward_lm_run, in_tmp):
    (in_tmp / "reviews.csv").write_text(REVIEWS)
    status, _, err = run_cli(capsys, "sentiment", "train", "--csv", "reviews.csv",
                             "--encoder-from", lm_run, "--backward-encoder-from",
                             backward_lm_run, "--epochs", "1", "--run-dir", "runs/s")
    assert status == 0, err
    assert read_json(in_tmp / "runs" / "s" / "config.json")["backward_encoder_from"] == \
        str(backward_lm_run)


def test_a_backward_language_model_that_cannot_fill_the_backward_half_is_refused(
        capsys, lm_run, in_tmp):
    # Trained backwards but with an embedding of its own: the halves would read two.
    status, _, err = run_cli(capsys, *LM, "--backwards", "--run-dir", "runs/lm/own")
    assert status == 0, err
    own = in_tmp / "runs" / "lm" / "own"
    cases = [
        ({"backward_encoder_from": str(own)}, "give that one with --encoder-from"),
        ({"encoder_from": str(lm_run), "backward_encoder_from": str(lm_run)},
         "reads forwards"),
        ({"encoder_from": str(own), "backward_encoder_from": str(own)},
         "is a backward language model"),
        ({"encoder_from": str(own)}, "the classifier's forward half needs a forward one"),
        ({"encoder_from": str(lm_run), "backward_encoder_from": str(own),
          "bidirectional": False}, "drop --no-bidirectional"),
    ]
    for settings, message in cases:
        with pytest.raises(UsageError, match=message):
            sentiment_train.with_encoder_architecture(_config(in_tmp, **settings))
    status, _, err = run_cli(capsys, "sentiment", "train", "--csv", "reviews.csv",
                             "--encoder-from", lm_run, "--backward-encoder-from", own,
                             "--epochs", "1")
    assert status == 2
    assert "has another embedding than --encoder-from" in err
    assert "--init-from" in err and "--freeze-embedding" in err
    assert not (in_tmp / "runs" / "sentiment").exists()
