"""Adversarial training (Miyato et al. 2017): the perturbation has the norm asked for and
points up the loss, and one trainer step is the gradient step on clean + perturbed loss."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from app_testutils import run_cli
from apps.sentiment.adversarial import (AdversarialTrainer, EmbeddingPerturbation,
                                        adversarial_perturbation)

from test_encoder_from import REVIEWS


def test_the_perturbation_has_the_norm_asked_for_along_the_gradient():
    rng = np.random.default_rng(0)
    gradient = rng.normal(size=(4, 7, 3)).astype("float32")
    gradient[2] = 0.0  # no gradient: no push
    r = keras.ops.convert_to_numpy(adversarial_perturbation(gradient, 2.5))
    norms = np.sqrt((r ** 2).sum(axis=(1, 2)))
    np.testing.assert_allclose(norms[[0, 1, 3]], 2.5, rtol=1e-5)
    assert norms[2] == 0.0
    expected = 2.5 * gradient[0] / np.linalg.norm(gradient[0])
    np.testing.assert_allclose(r[0], expected, rtol=1e-5, atol=1e-7)


def tiny_classifier(seed=0):
    keras.utils.set_random_seed(seed)
    ids = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(12, 4, mask_zero=True, name="embedding")(ids)
    x = EmbeddingPerturbation(name="embedding_perturbation")(x)
    x = keras.layers.GlobalAveragePooling1D()(x)
    p = keras.layers.Dense(1, activation="sigmoid", name="logit")(x)
    return keras.Model(ids, p)


BATCH = (np.array([[1, 2, 3, 0], [4, 5, 0, 0], [6, 7, 8, 9]], "int32"),
         np.array([[1.0], [0.0], [1.0]], "float32"))


def by_hand(model, epsilon):
    """The clean loss, the perturbed loss and their gradients, computed step by step."""
    x, y = BATCH
    bce = keras.losses.BinaryCrossentropy()
    embed = keras.Model(model.inputs, model.get_layer("embedding").output)
    rest_layers = model.layers[2:]
    mask = tf.constant(x != 0)

    def head(embedded):
        h = embedded
        for layer in rest_layers:
            h = layer(h, mask=mask) if isinstance(layer, keras.layers.GlobalAveragePooling1D) \
                else layer(h)
        return h

    with tf.GradientTape(persistent=True) as tape:
        embedded = embed(x)
        clean = bce(y, head(embedded))
    g = tape.gradient(clean, embedded)
    r = epsilon * g / tf.norm(tf.reshape(g, (3, -1)), axis=1)[:, None, None]
    with tf.GradientTape() as tape2:
        total = bce(y, head(embed(x))) + bce(y, head(embed(x) + r))
    return float(clean), tape2.gradient(total, model.trainable_weights), r


def test_the_push_raises_the_loss_more_than_a_random_one():
    model = tiny_classifier()
    x, y = BATCH
    clean, _, r = by_hand(model, 0.5)
    layer = model.get_layer("embedding_perturbation")
    bce = keras.losses.BinaryCrossentropy()
    losses = {}
    for name, push in [("adversarial", r), ("random", tf.random.normal(r.shape))]:
        push = adversarial_perturbation(push * tf.cast(x != 0, "float32")[..., None], 0.5)
        layer._state["perturbation"] = push
        losses[name] = float(bce(y, model(x)))
        layer._state["perturbation"] = None
    assert losses["adversarial"] > clean
    assert losses["adversarial"] > losses["random"]
    assert float(bce(y, model(x))) == pytest.approx(clean)  # back to the identity


def test_one_trainer_step_descends_the_clean_plus_perturbed_loss():
    model = tiny_classifier()
    start = [w.numpy().copy() for w in model.trainable_weights]
    _, gradients, _ = by_hand(model, 0.5)
    trainer = AdversarialTrainer(model, adversarial=0.5)
    trainer.compile(optimizer=keras.optimizers.SGD(0.1), loss="binary_crossentropy")
    logs = trainer.train_on_batch(*BATCH, return_dict=True)
    for before, gradient, after in zip(start, gradients, model.trainable_weights):
        gradient = tf.convert_to_tensor(gradient).numpy()
        np.testing.assert_allclose(after.numpy(), before - 0.1 * gradient, rtol=1e-4, atol=1e-6)
    assert np.isfinite(logs["loss"])


def test_the_trainer_needs_a_perturbation_layer_and_a_positive_epsilon():
    ids = keras.Input((None,), dtype="int32")
    plain = keras.Model(ids, keras.layers.Embedding(5, 2)(ids))
    with pytest.raises(ValueError, match="has no 'embedding_perturbation' layer"):
        AdversarialTrainer(plain, adversarial=1.0)
    with pytest.raises(ValueError, match="adversarial or virtual_adversarial must be positive"):
        AdversarialTrainer(tiny_classifier(), 0.0)


def test_the_virtual_push_changes_the_prediction_more_than_a_random_one():
    from apps.sentiment.adversarial import binary_kl

    model = tiny_classifier(seed=2)
    trainer = AdversarialTrainer(model, virtual_adversarial=0.5)
    x, _ = BATCH
    p = model(x)
    layer = model.get_layer("embedding_perturbation")
    pushed = float(trainer.virtual_adversarial_loss(tf.constant(x), seed=1))
    assert layer._state["perturbation"] is None  # the push is undone
    mask = tf.cast(x != 0, "float32")[..., None]
    randoms = []
    for seed in range(5):
        push = adversarial_perturbation(tf.random.normal((3, 4, 4), seed=seed) * mask, 0.5)
        layer._state["perturbation"] = push
        randoms.append(float(binary_kl(p, model(x))))
        layer._state["perturbation"] = None
    assert pushed > max(randoms) > 0


def test_binary_kl_is_the_bernoulli_divergence():
    from apps.sentiment.adversarial import binary_kl

    p, q = np.array([0.2, 0.9]), np.array([0.5, 0.6])
    expected = np.mean(p * np.log(p / q) + (1 - p) * np.log((1 - p) / (1 - q)))
    assert float(binary_kl(p, q)) == pytest.approx(expected, rel=1e-6)
    assert float(binary_kl(p, p)) == pytest.approx(0.0, abs=1e-7)


def test_train_with_both_reads_unlabelled_reviews_and_saves_the_plain_classifier(capsys, in_tmp):
    (in_tmp / "reviews.csv").write_text(REVIEWS)
    (in_tmp / "unlabelled.txt").write_text(
        "\n".join(["a dull plot", "i loved the music", "skip it", "great acting"] * 5))
    status, out, err = run_cli(capsys, "sentiment", "train", "--csv", "reviews.csv",
                               "--virtual-adversarial", "1.0", "--unlabelled", "unlabelled.txt",
                               "--adversarial", "0.5", "--epochs", "1", "--units", "8",
                               "--embedding-dim", "8", "--vocab-size", "40", "--max-length", "12",
                               "--no-bidirectional")
    assert status == 0, err
    assert "unlabelled: 20 reviews" in out
    (run,) = list((in_tmp / "runs" / "sentiment").iterdir())
    import keras

    from apps.sentiment import model as model_module  # noqa: F401 - registers the layers

    saved = keras.models.load_model(run / "model.keras")
    assert not isinstance(saved, AdversarialTrainer)
    assert saved.get_layer("embedding_perturbation")  # an identity outside training
