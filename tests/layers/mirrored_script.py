"""Run by tests/layers/test_mirrored_layers.py in a fresh process: the layers under MirroredStrategy.

The CPU is split into two logical devices before TensorFlow starts, which the
test process itself cannot do any more. Prints one JSON object:

- `weights_max_difference`: one training step (`model.fit` on one global batch
  of 8) of a model holding every layer of the package, on one device
  (`MirroredStrategy(["/cpu:0"])`) and on two (`["/cpu:0", "/cpu:1"]`, 4
  examples each), from the same weights: the largest difference of any weight
  afterwards; `weights_max_change` is how far the step moved them.
- `losses`: the step's loss on one device and on two.
- `dropout`: per replica, the input dropout mask a GRU draws for the same input
  (each replica must draw its own).
- `stateful_error`: what building a stateful layer under two replicas says.
- `stacked_fit_loss`: the loss of `fit` on two stacked GRUs over 6 time steps
  (one loop iteration of 4 steps and a remainder of 2), the case that hung
  Keras's fit while tracing before the remainder ran in a loop too (None if
  it did not finish: the test's timeout then says so).

The comparison runs one time step per loop iteration: the graphs trace 4x
faster, and the steps per iteration do not change results
(tests/layers/test_loop_unrolling.py).
"""

import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

CPU = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(CPU, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402
import numpy as np  # noqa: E402

import layers as L  # noqa: E402
from layers import recurrent  # noqa: E402

B, T, F, C = 8, 6, 5, 3
ONE, TWO = ["/cpu:0"], ["/cpu:0", "/cpu:1"]


def every_layer_model():
    """Masking -> SimpleRNN -> Bidirectional(GRU) = memory -> LSTM, attentive LSTM cell,
    BahdanauAttention -> Dense."""
    inputs = keras.Input((T, F))
    x = keras.layers.Masking(0.0)(inputs)
    x = L.SimpleRNN(4, return_sequences=True)(x)
    memory = L.Bidirectional(L.GRU(3, return_sequences=True))(x)
    summary = L.LSTM(3)(memory)
    decoded = L.AttentiveRecurrent(L.AttentiveCell(L.LSTMCell(3), L.BahdanauAttention(3)))(
        x, memory=memory)
    context, _ = L.BahdanauAttention(3)(summary, memory)
    features = keras.layers.Concatenate()([summary, decoded, context])
    return keras.Model(inputs, keras.layers.Dense(C, activation="softmax")(features))


def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(B, T, F)).astype("float32")
    for i, length in enumerate([6, 3, 5, 6, 2, 4, 6, 1]):  # right padding, masked
        x[i, length:] = 0.0
    return x, rng.integers(0, C, B)


def one_step(devices, weights, x, y):
    strategy = tf.distribute.MirroredStrategy(devices)
    with strategy.scope():
        model = every_layer_model()
        model.set_weights(weights)
        model.compile(keras.optimizers.SGD(0.5), "sparse_categorical_crossentropy")
    history = model.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(B), verbose=0)
    return model.get_weights(), float(history.history["loss"][0])


def dropout_masks():
    strategy = tf.distribute.MirroredStrategy(TWO)
    with strategy.scope():
        layer = L.GRU(4, dropout=0.5, seed=11)
        layer.build((None, T, F))

    @tf.function
    def draw():
        def per_replica():
            constants = layer.cell.prepare(tf.ones((4, F)), [tf.zeros((4, 4))], training=True)
            return constants["input_mask"]
        return strategy.run(per_replica)

    return [m.numpy().tolist() for m in strategy.experimental_local_results(draw())]


def stateful_error():
    strategy = tf.distribute.MirroredStrategy(TWO)
    try:
        with strategy.scope():
            inputs = keras.Input(batch_shape=(B, T, F))
            keras.Model(inputs, L.GRU(4, stateful=True)(inputs))
    except ValueError as error:
        return str(error)
    return None


def stacked_fit_loss():
    inputs = keras.Input((6, 3))
    model = keras.Model(inputs, L.GRU(2)(L.GRU(2, return_sequences=True)(inputs)))
    model.compile("sgd", "mse")
    history = model.fit(np.ones((4, 6, 3), "float32"), np.zeros((4, 2), "float32"), verbose=0)
    return float(history.history["loss"][0])


def main():
    stacked = stacked_fit_loss()  # the default 4 steps per loop iteration
    recurrent.STEPS_PER_ITERATION = 1
    x, y = data()
    rng = np.random.default_rng(1)
    weights = [rng.normal(0.0, 0.5, w.shape).astype("float32")
               for w in every_layer_model().get_weights()]
    one, loss_one = one_step(ONE, weights, x, y)
    two, loss_two = one_step(TWO, weights, x, y)
    print(json.dumps({
        "weights_max_difference": max(float(np.abs(a - b).max()) for a, b in zip(one, two)),
        "weights_max_change": max(float(np.abs(a - b).max()) for a, b in zip(one, weights)),
        "losses": [loss_one, loss_two],
        "dropout": dropout_masks(),
        "stateful_error": stateful_error(),
        "stacked_fit_loss": stacked,
    }))


if __name__ == "__main__":
    main()
