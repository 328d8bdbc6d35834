"""`training.create_step_variables`: the train step is traced once, not twice.

Keras (no distribution strategy) makes the metrics' and the optimizer's variables inside
the first trace of the train step, and TensorFlow traces a function that made variables
again; built beforehand, the step (recurrent loops, their gradients) is traced once.
"""

import numpy as np
import keras
import tensorflow as tf

import layers as rnn_layers
from apps.common.training import create_step_variables


def _model_and_data():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6, 3))
    outputs = keras.layers.Dense(1, activation="sigmoid")(rnn_layers.GRU(4)(inputs))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    data = tf.data.Dataset.from_tensor_slices(
        (rng.normal(size=(8, 6, 3)).astype("float32"),
         rng.integers(0, 2, size=(8, 1)).astype("float32"))).batch(4)
    return model, data


def _fit_counting(model, data):
    """(train-step traces, names of variables made inside a traced function) of one fit."""
    traces, made_in_function = [], []
    train_step = model.train_step

    def counted(batch):
        traces.append(1)
        return train_step(batch)

    def creator(next_creator, **kwargs):
        if tf.inside_function():
            made_in_function.append(kwargs.get("name"))
        return next_creator(**kwargs)

    model.train_step = counted
    with tf.variable_creator_scope(creator):
        model.fit(data, epochs=2, verbose=0, shuffle=False)
    return len(traces), made_in_function


def test_without_it_keras_traces_the_step_twice():
    # The behaviour the function exists for; if Keras stops doing this, it can go.
    model, data = _model_and_data()
    traces, made = _fit_counting(model, data)
    assert traces == 2 and {"total", "count"} <= set(made)


def test_with_it_the_step_is_traced_once_and_trains_the_same():
    model, data = _model_and_data()
    create_step_variables(model, data)
    assert model.optimizer.built
    traces, made = _fit_counting(model, data)
    assert (traces, made) == (1, [])
    reference, _ = _model_and_data()
    reference.fit(data, epochs=2, verbose=0, shuffle=False)
    for ours, theirs in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_a_model_keras_cannot_call_on_the_spec_keeps_the_lazy_build():
    # As virtual adversarial training's (labelled, unlabelled) batches: no error here,
    # the slots are made, and the rest is left to the first step.
    model, _ = _model_and_data()
    rng = np.random.default_rng(1)
    pairs = tf.data.Dataset.from_tensor_slices(
        ((rng.normal(size=(4, 6, 3)).astype("float32"),) * 2,
         np.zeros((4, 1), "float32"))).batch(2)  # (x, x): not the model's one input
    create_step_variables(model, pairs)
    assert model.optimizer.built and not model._compile_metrics.built
