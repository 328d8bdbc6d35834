"""Adversarial and virtual adversarial training on word embeddings (Miyato, Dai & Goodfellow 2017).

Adversarial training (`--adversarial EPS`) also scores each batch with its
embedded words pushed, as a whole review, a distance EPS in the direction
that raises the loss most (to first order):

    g = d loss / d embedded,   r_adv = EPS * g / ||g||_2   (one norm per review),
    loss_total = loss(embedded) + loss(embedded + r_adv)

Virtual adversarial training (`--virtual-adversarial EPS --unlabelled ...`)
needs no labels: on a batch of unlabelled reviews it finds, by one power
iteration from a random direction, the push of norm EPS that changes the
model's prediction most, and adds the KL divergence between the predictions
before and after it:

    p = P(embedded);  d ~ N(0, I);  g = d KL(p || P(embedded + XI * d / ||d||)) / d d
    r_vadv = EPS * g / ||g||_2,   loss_total += KL(p || P(embedded + r_vadv))

Both are regularisers: the model must keep its verdict in a small ball
around every review, which word embeddings (where "good" and "bad" can sit
close together) do not give for free; VAT asks it of the 50,000 unlabelled
reviews as well. VAT's predictions are made without dropout, so the KL
measures the push alone.

Where ours differs from the paper: the push is added to the raw embeddings,
not to embeddings normalised by word frequency, so the right EPS depends on
the embeddings' scale (the apps' 128-wide embeddings have entries of about
0.05, so a review of 200-800 words has a norm of about 10-30). Masked
(padding) steps get no adversarial push: the loss does not depend on them,
so their gradient is zero. Training only; the saved classifier is the plain one.
"""

import keras
import tensorflow as tf
from keras import ops

from apps.common import distribute

PACKAGE = "rnn_suite.apps"
LAYER_NAME = "embedding_perturbation"


@keras.saving.register_keras_serializable(package=PACKAGE)
class EmbeddingPerturbation(keras.layers.Layer):
    """Identity on the embedded words, plus the perturbation `AdversarialTrainer` sets.

    Keeps its last input (`seen`) so the trainer can take the loss's gradient
    with respect to it. Outside adversarial training steps it changes nothing.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self._state = {"seen": None, "perturbation": None}

    def call(self, inputs):
        self._state["seen"] = inputs
        if self._state["perturbation"] is None:
            return inputs
        return inputs + ops.cast(self._state["perturbation"], inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape


XI = 0.1  # the size of VAT's finite-difference probe (Miyato et al.'s code uses 0.1)


def binary_kl(p, q):
    """The mean KL divergence KL(Bernoulli(p) || Bernoulli(q)) over a batch of probabilities."""
    p = ops.clip(p, 1e-7, 1 - 1e-7)
    q = ops.clip(q, 1e-7, 1 - 1e-7)
    return ops.mean(p * ops.log(p / q) + (1 - p) * ops.log((1 - p) / (1 - q)))


def adversarial_perturbation(gradient, epsilon):
    """`epsilon * g / ||g||_2` for each example of `gradient` [B, ...] (norm over all but B).

    An all-zero gradient gives an all-zero perturbation.
    """
    gradient = ops.convert_to_tensor(gradient)
    axes = tuple(range(1, len(gradient.shape)))
    norm = ops.sqrt(ops.sum(ops.square(gradient), axis=axes, keepdims=True))
    return epsilon * gradient / ops.maximum(norm, 1e-12)


@keras.saving.register_keras_serializable(package=PACKAGE)
class AdversarialTrainer(keras.Model):
    """Trains `classifier` on each batch and on its adversarially perturbed copies.

    `classifier` must hold an `EmbeddingPerturbation` layer (named
    "embedding_perturbation") right after its embedding; predicting,
    evaluating and saving use the classifier as it is. With
    `virtual_adversarial`, each training batch is `((reviews, unlabelled
    reviews), labels)`; validation batches stay `(reviews, labels)`.

    Args:
        classifier: The model to train (it shares its weights with this one).
        adversarial: The L2 norm of each review's adversarial push (0: off).
        virtual_adversarial: The L2 norm of each unlabelled review's virtual
            adversarial push (0: off). At least one of the two must be positive.

    Example:

    >>> ids = keras.Input((None,), dtype="int32")
    >>> x = keras.layers.Embedding(10, 4, mask_zero=True)(ids)
    >>> x = EmbeddingPerturbation(name="embedding_perturbation")(x)
    >>> p = keras.layers.Dense(1, activation="sigmoid")(keras.layers.GlobalAveragePooling1D()(x))
    >>> trainer = AdversarialTrainer(keras.Model(ids, p), adversarial=1.0)
    >>> trainer.compile(optimizer="adam", loss="binary_crossentropy")
    """

    def __init__(self, classifier, adversarial=0.0, virtual_adversarial=0.0, **kwargs):
        super().__init__(**kwargs)
        for name, value in [("adversarial", adversarial),
                            ("virtual_adversarial", virtual_adversarial)]:
            if not value >= 0:
                raise ValueError(f"{name} must be >= 0 (the norm of each review's push), got "
                                 f"{value!r}")
        if not (adversarial > 0 or virtual_adversarial > 0):
            raise ValueError("adversarial or virtual_adversarial must be positive (the norm of "
                             f"each review's push), got {adversarial!r} and "
                             f"{virtual_adversarial!r}")
        try:
            self.perturbation_layer = classifier.get_layer(LAYER_NAME)
        except ValueError:
            raise ValueError(f"{classifier.name} has no {LAYER_NAME!r} layer to perturb; build "
                             "it with an EmbeddingPerturbation after the embedding") from None
        self.classifier = classifier
        self.adversarial = float(adversarial)
        self.virtual_adversarial = float(virtual_adversarial)
        self.built = classifier.built  # its weights are the classifier's, already made

    def call(self, inputs, training=False):
        if self.virtual_adversarial and isinstance(inputs, (tuple, list)):
            # A training batch's (reviews, unlabelled reviews): what a strategy's `fit`
            # builds the model from before the first step.
            inputs = inputs[0]
        return self.classifier(inputs, training=training)

    def _pushed(self, x, perturbation, training):
        state = self.perturbation_layer._state
        state["perturbation"] = perturbation
        try:
            return self.classifier(x, training=training)
        finally:
            state["perturbation"] = None

    def adversarial_losses(self, x, y, sample_weight=None):
        """(clean loss, predictions, loss on the adversarial copy) of one batch (training mode)."""
        with tf.GradientTape() as inner:
            y_pred = self.classifier(x, training=True)
            loss = self._compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight,
                                      training=True)
        gradient = tf.stop_gradient(inner.gradient(loss, self.perturbation_layer._state["seen"]))
        y_adversarial = self._pushed(x, adversarial_perturbation(gradient, self.adversarial),
                                     training=True)
        adversarial_loss = self._compute_loss(x=x, y=y, y_pred=y_adversarial,
                                              sample_weight=sample_weight, training=True)
        return loss, y_pred, adversarial_loss

    def virtual_adversarial_loss(self, unlabelled, seed=None):
        """KL(p || p pushed) on a batch of unlabelled reviews, after one power iteration."""
        p = tf.stop_gradient(self.classifier(unlabelled, training=False))
        embedded = self.perturbation_layer._state["seen"]
        direction = tf.random.normal(tf.shape(embedded), seed=seed)
        with tf.GradientTape() as inner:
            probe = adversarial_perturbation(direction, XI)
            inner.watch(probe)
            divergence = binary_kl(p, self._pushed(unlabelled, probe, training=False))
        gradient = tf.stop_gradient(inner.gradient(divergence, probe))
        push = adversarial_perturbation(gradient, self.virtual_adversarial)
        return binary_kl(p, self._pushed(unlabelled, push, training=False))

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        unlabelled = None
        if self.virtual_adversarial:
            x, unlabelled = x
        with tf.GradientTape() as tape:
            # Keras's losses come as this replica's share of the global batch's (under
            # --distribute); the KL divergence is made one too, and the bar shows the mean.
            if self.adversarial:
                loss, y_pred, adversarial_loss = self.adversarial_losses(x, y, sample_weight)
                total = loss + adversarial_loss
            else:
                y_pred = self.classifier(x, training=True)
                loss = total = self._compute_loss(x=x, y=y, y_pred=y_pred,
                                                  sample_weight=sample_weight, training=True)
            if unlabelled is not None:
                total = total + distribute.replica_share(self.virtual_adversarial_loss(unlabelled))
            self._loss_tracker.update_state(distribute.replica_mean(loss),
                                            sample_weight=tf.shape(y_pred)[0])
            total = self.optimizer.scale_loss(total)
        weights = self.trainable_weights
        self.optimizer.apply_gradients(zip(tape.gradient(total, weights), weights))
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def get_config(self):
        return {**super().get_config(), "adversarial": self.adversarial,
                "virtual_adversarial": self.virtual_adversarial,
                "classifier": keras.saving.serialize_keras_object(self.classifier)}

    @classmethod
    def from_config(cls, config):
        classifier = keras.saving.deserialize_keras_object(config.pop("classifier"))
        return cls(classifier, **config)
