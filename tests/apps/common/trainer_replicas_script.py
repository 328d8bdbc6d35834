"""Run by tests/apps/common/test_trainer_replicas.py in a fresh process: the apps' own training
steps (adversarial and virtual adversarial training; sampled softmax) on two replicas.

The CPU is split into two logical devices before TensorFlow starts. For each
trainer, one `fit` step on one global batch of 8, from the same weights, under
`--distribute mirrored`'s strategy on one device and on two (4 examples each),
with plain SGD (an Adam step would hide a gradient twice too large). Takes the
trainer's name (adversarial, sampled_softmax) and prints one JSON object: the
largest difference of any weight after the step, how far the step moved them,
and the loss each reported.

The random draws are made the same on both (VAT's random probe, the sampled
tokens), so the two runs compute the same arithmetic.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

CPU = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(CPU, [tf.config.LogicalDeviceConfiguration()] * 2)

import dataclasses  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402

from apps.common import distribute, tokens  # noqa: E402
from apps.lm import model as lm_model  # noqa: E402
from apps.lm import sampled_softmax  # noqa: E402
from apps.lm.config import LMConfig  # noqa: E402
from apps.sentiment import adversarial, model as sentiment_model  # noqa: E402
from apps.sentiment.config import SentimentConfig  # noqa: E402

ONE, TWO = ["/cpu:0"], ["/cpu:0", "/cpu:1"]
STRATEGY = distribute._keras_strategy_classes()[0]  # what --distribute mirrored makes
WORDS = "the a movie film plot acting was is great dull good bad loved hated it".split()


def same_draws():
    """VAT's random probe and the sampled tokens, the same on any number of replicas."""
    tf.random.normal = lambda shape, seed=None, **kwargs: tf.ones(shape)

    def fixed_sampler(true_classes, num_true, num_sampled, unique, range_max, seed=None):
        rows = tf.shape(true_classes)[0]
        return (tf.range(num_sampled, dtype=tf.int64), tf.ones([rows, num_true]),
                tf.ones([num_sampled]))

    tf.random.log_uniform_candidate_sampler = fixed_sampler


def reviews(seed):
    rng = np.random.default_rng(seed)
    return np.array([" ".join(rng.choice(WORDS, 7)) for _ in range(8)])


def sentiment_trainer():
    config = SentimentConfig(units=4, embedding_dim=4, vocab_size=20, max_length=7,
                             word_dropout=0.0, embedding_dropout=0.0, dropout=0.0,
                             final_dropout=0.0, adversarial=0.5, virtual_adversarial=1.0)
    config = dataclasses.replace(config, pooling="max", cell="gru", bidirectional=True)
    classifier = sentiment_model.build_model(config, ["", "[UNK]", *WORDS])
    return adversarial.AdversarialTrainer(classifier, config.adversarial,
                                          config.virtual_adversarial)


def sentiment_batch():
    labels = np.arange(8) % 2
    return tf.data.Dataset.from_tensors(((reviews(1), reviews(2)), labels))


def lm_trainer():
    vocabulary = tokens.TokenVocabulary(["", "[UNK]", "[eod]", *WORDS])
    config = LMConfig(cell="gru", units=6, embedding_dim=6, dropout=0.0, embedding_dropout=0.0,
                      output_dropout=0.0)
    return sampled_softmax.SampledSoftmaxTrainer(lm_model.build_model(config, vocabulary), 5)


def lm_batch():
    ids = np.random.default_rng(3).integers(3, 3 + len(WORDS), (8, 6)).astype("int32")
    return tf.data.Dataset.from_tensors((ids[:, :-1], ids[:, 1:]))


def one_step(make_trainer, batch, devices, weights, loss):
    with STRATEGY(devices).scope():
        trainer = make_trainer()
        trainer.compile(optimizer=keras.optimizers.SGD(0.5), loss=loss)
        trainer.set_weights(weights)
        history = trainer.fit(batch(), epochs=1, verbose=0, shuffle=False)
        return [np.asarray(w) for w in trainer.get_weights()], history.history["loss"][0]


def compare(make_trainer, batch, loss):
    keras.utils.set_random_seed(0)
    start = [np.asarray(w) for w in make_trainer().get_weights()]
    (one, one_loss), (two, two_loss) = (one_step(make_trainer, batch, devices, start, loss)
                                        for devices in (ONE, TWO))
    return {"weights_max_difference": max(float(np.abs(a - b).max()) for a, b in zip(one, two)),
            "weights_max_change": max(float(np.abs(a - b).max()) for a, b in zip(one, start)),
            "losses": [float(one_loss), float(two_loss)]}


TRAINERS = {
    "adversarial": (sentiment_trainer, sentiment_batch, keras.losses.BinaryCrossentropy()),
    "sampled_softmax": (lm_trainer, lm_batch,
                        keras.losses.SparseCategoricalCrossentropy(from_logits=True)),
}

if __name__ == "__main__":
    # One trainer per process: two strategies over the same devices in one process would
    # share their collective ops' keys.
    same_draws()
    print(json.dumps(compare(*TRAINERS[sys.argv[1]])))
