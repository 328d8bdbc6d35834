"""Adversarial training on word embeddings (Miyato, Dai & Goodfellow 2017).

Each training step also scores the batch with its embedded words pushed, as
a whole review, a distance `epsilon` in the direction that raises the loss
most (to first order):

    g = d loss / d embedded,   r_adv = epsilon * g / ||g||_2   (one norm per review),
    loss_total = loss(embedded) + loss(embedded + r_adv)

and learns from both. It is a regulariser: the model must keep its verdict
in a small ball around every training review, which word embeddings (where
"good" and "bad" can sit close together) do not give for free.

Where ours differs from the paper: the perturbation is added to the raw
embeddings, not to embeddings normalised by word frequency, so the right
`epsilon` depends on the embeddings' scale (about their norm over a review
times a few percent; the apps' 128-wide embeddings have entries of about
0.05, so reviews of 200-800 words have norms of 10-30). Masked (padding)
steps get no perturbation: the loss does not depend on them, so their
gradient is zero. Training only; the saved classifier is the plain one.
"""

import keras
import tensorflow as tf
from keras import ops

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
    """Trains `classifier` on each batch and on its adversarially perturbed copy.

    `classifier` must hold an `EmbeddingPerturbation` layer (named
    "embedding_perturbation") right after its embedding; predicting,
    evaluating and saving use the classifier as it is.

    Args:
        classifier: The model to train (it shares its weights with this one).
        epsilon: The L2 norm of each review's perturbation (> 0).

    Example:

    >>> ids = keras.Input((None,), dtype="int32")
    >>> x = keras.layers.Embedding(10, 4, mask_zero=True)(ids)
    >>> x = EmbeddingPerturbation(name="embedding_perturbation")(x)
    >>> p = keras.layers.Dense(1, activation="sigmoid")(keras.layers.GlobalAveragePooling1D()(x))
    >>> trainer = AdversarialTrainer(keras.Model(ids, p), epsilon=1.0)
    >>> trainer.compile(optimizer="adam", loss="binary_crossentropy")
    """

    def __init__(self, classifier, epsilon, **kwargs):
        super().__init__(**kwargs)
        if not epsilon > 0:
            raise ValueError(f"epsilon must be positive (the norm of each review's "
                             f"perturbation), got {epsilon!r}")
        try:
            self.perturbation_layer = classifier.get_layer(LAYER_NAME)
        except ValueError:
            raise ValueError(f"{classifier.name} has no {LAYER_NAME!r} layer to perturb; build "
                             "it with an EmbeddingPerturbation after the embedding") from None
        self.classifier = classifier
        self.epsilon = float(epsilon)
        self.built = classifier.built  # its weights are the classifier's, already made

    def call(self, inputs, training=False):
        return self.classifier(inputs, training=training)

    def perturbed_loss(self, x, y, sample_weight=None):
        """(clean loss, predictions, loss on the adversarial copy) of one batch (training mode)."""
        with tf.GradientTape() as inner:
            y_pred = self.classifier(x, training=True)
            loss = self._compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight,
                                      training=True)
        state = self.perturbation_layer._state
        gradient = tf.stop_gradient(inner.gradient(loss, state["seen"]))
        state["perturbation"] = adversarial_perturbation(gradient, self.epsilon)
        try:
            y_adversarial = self.classifier(x, training=True)
        finally:
            state["perturbation"] = None
        adversarial_loss = self._compute_loss(x=x, y=y, y_pred=y_adversarial,
                                              sample_weight=sample_weight, training=True)
        return loss, y_pred, adversarial_loss

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            loss, y_pred, adversarial_loss = self.perturbed_loss(x, y, sample_weight)
            self._loss_tracker.update_state(loss, sample_weight=tf.shape(y_pred)[0])
            total = loss + adversarial_loss
        weights = self.trainable_weights
        self.optimizer.apply_gradients(zip(tape.gradient(total, weights), weights))
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon,
                "classifier": keras.saving.serialize_keras_object(self.classifier)}

    @classmethod
    def from_config(cls, config):
        classifier = keras.saving.deserialize_keras_object(config.pop("classifier"))
        return cls(classifier, **config)
