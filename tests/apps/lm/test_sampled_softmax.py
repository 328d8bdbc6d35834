"""Sampled softmax: its loss approaches the full softmax's as the samples cover the vocabulary,
and a language model trained with it learns (validated with the full softmax)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from app_testutils import read_json, run_cli
from apps.common import tokens
from apps.lm import data, model as model_module
from apps.lm.sampled_softmax import SampledSoftmaxTrainer, sampled_softmax_loss

from test_lm import TINY, _config

V, D, N = 50, 8, 64


def _problem(seed=0):
    rng = np.random.default_rng(seed)
    hidden = tf.constant(rng.normal(size=(N, D)), tf.float32)
    weights = tf.constant(rng.normal(size=(V, D)), tf.float32)
    bias = tf.constant(rng.normal(size=V) * 0.1, tf.float32)
    labels = tf.constant(rng.integers(0, V, size=N), tf.int64)
    full = float(tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels, tf.matmul(hidden, weights, transpose_b=True) + bias)))
    return hidden, weights, bias, labels, full


def test_the_sampled_loss_approaches_the_full_loss_as_samples_cover_the_vocabulary():
    hidden, weights, bias, labels, full = _problem()
    errors = {}
    for num_sampled in (5, 20, V):
        losses = [float(sampled_softmax_loss(hidden, weights, bias, labels, num_sampled,
                                             seed=seed)) for seed in range(20)]
        errors[num_sampled] = abs(np.mean(losses) - full)
    assert errors[V] == pytest.approx(0.0, abs=0.02 * full)  # every token drawn: the full loss
    assert errors[V] < errors[20] < errors[5]


def _trained_loss(documents, vocabulary, sampled):
    """The full-softmax training loss before and after 3 epochs (sampled: with 20 samples)."""
    keras.utils.set_random_seed(0)
    config = _config()
    lm = model_module.build_model(config, vocabulary)
    train_data = data.pipeline(data.stream(documents, vocabulary), config.window,
                               config.batch_size, shuffle=True)
    trained = SampledSoftmaxTrainer(lm, num_sampled=20) if sampled else lm
    model_module.compile_model(trained, config, train_data=train_data, accuracy=not sampled)
    before = trained.evaluate(train_data, verbose=0, return_dict=True)["loss"]
    trained.fit(train_data, epochs=3, verbose=0)
    return before, trained.evaluate(train_data, verbose=0, return_dict=True)["loss"]


def test_a_model_trained_with_sampled_softmax_learns_about_as_well():
    documents = data.generated_reviews(1000)
    vocabulary = tokens.build_vocabulary(documents, "word", 100)  # 52 words
    before, sampled = _trained_loss(documents, vocabulary, sampled=True)
    _, full = _trained_loss(documents, vocabulary, sampled=False)
    assert sampled < 0.6 * before  # 3.95 -> 2.21 when written (full softmax: 2.01)
    assert sampled < full + 0.4
    lm = model_module.build_model(_config(), vocabulary)
    with pytest.raises(ValueError, match="num_sampled must be between 1 and"):
        SampledSoftmaxTrainer(lm, num_sampled=vocabulary.size)


def test_train_with_sampled_softmax_saves_the_plain_model(capsys, in_tmp):
    status, _, err = run_cli(capsys, "lm", "train", *TINY, "--epochs", "1", "--softmax",
                             "sampled", "--sampled-tokens", "30")
    assert status == 0, err
    (run,) = list((in_tmp / "runs" / "lm").iterdir())
    metrics = read_json(run / "metrics.json")
    assert 1 < metrics["test_perplexity"] < metrics["vocabulary_size"]
    status, out, err = run_cli(capsys, "lm", "generate", "--run", run, "the movie",
                               "--max-tokens", "5")
    assert status == 0, err
