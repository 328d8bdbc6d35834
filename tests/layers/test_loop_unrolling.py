"""`run_cell_over_time` runs several time steps per loop iteration; results must not change.

The oracle is a plain NumPy loop of h' = tanh(x W + h U) with Keras's mask
rule (a masked step keeps the state and repeats the previous output). Lengths
that are and are not multiples of `steps_per_iteration`, static and dynamic
time axes, masks, and going backwards are all covered.
"""
import numpy as np
import pytest
import tensorflow as tf

from layers.recurrent import run_cell_over_time

B, F, H = 3, 4, 5


def numpy_loop(x, mask, w, u, go_backwards):
    steps = range(x.shape[1] - 1, -1, -1) if go_backwards else range(x.shape[1])
    h = np.zeros((x.shape[0], u.shape[0]), np.float32)
    outputs = []
    for t in steps:
        new = np.tanh(x[:, t] @ w + h @ u)
        keep = mask[:, t:t + 1]
        h = np.where(keep, new, h)
        outputs.append(h)
    return h, np.stack(outputs, axis=1)


def run(x, mask, w, u, go_backwards, steps_per_iteration, dynamic):
    def step(x_t, states):
        h = tf.tanh(tf.matmul(x_t, w) + tf.matmul(states[0], u))
        return h, [h]

    def over_time(x, mask):
        last, outputs, states = run_cell_over_time(
            step, x, [tf.zeros((tf.shape(x)[0], H))], mask=mask,
            go_backwards=go_backwards, return_sequences=True,
            output_template=tf.zeros((tf.shape(x)[0], H)),
            steps_per_iteration=steps_per_iteration)
        return last, outputs, states[0]

    if dynamic:
        over_time = tf.function(over_time, input_signature=[
            tf.TensorSpec([None, None, F], tf.float32), tf.TensorSpec([None, None], tf.bool)])
    else:
        over_time = tf.function(over_time)
    return [t.numpy() for t in over_time(tf.constant(x), tf.constant(mask))]


@pytest.mark.parametrize("dynamic", [False, True], ids=["static_time", "dynamic_time"])
@pytest.mark.parametrize("go_backwards", [False, True], ids=["forwards", "backwards"])
@pytest.mark.parametrize("time,steps_per_iteration", [
    (1, 4), (3, 4), (4, 4), (7, 4), (8, 4), (9, 1), (9, 2), (9, 3), (9, 5), (9, 9), (9, 12)])
def test_same_result_for_any_steps_per_iteration(time, steps_per_iteration, go_backwards,
                                                  dynamic):
    rng = np.random.default_rng(time * 100 + steps_per_iteration)
    x = rng.standard_normal((B, time, F)).astype(np.float32)
    w = (rng.standard_normal((F, H)) * 0.5).astype(np.float32)
    u = (rng.standard_normal((H, H)) * 0.5).astype(np.float32)
    lengths = np.array([time, max(time - 2, 0), 1])
    mask = np.arange(time)[None, :] < lengths[:, None]

    expected_h, expected_outputs = numpy_loop(x, mask, w, u, go_backwards)
    last, outputs, h = run(x, mask, w, u, go_backwards, steps_per_iteration, dynamic)

    np.testing.assert_allclose(outputs, expected_outputs, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(h, expected_h, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(last, expected_outputs[:, -1], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("steps_per_iteration", [1, 3, 4])
def test_gradients_do_not_depend_on_steps_per_iteration(steps_per_iteration):
    rng = np.random.default_rng(7)
    x = tf.constant(rng.standard_normal((B, 10, F)).astype(np.float32))
    w = tf.Variable((rng.standard_normal((F, H)) * 0.5).astype(np.float32))
    u = tf.Variable((rng.standard_normal((H, H)) * 0.5).astype(np.float32))

    def gradients(per_iteration):
        def step(x_t, states):
            h = tf.tanh(tf.matmul(x_t, w) + tf.matmul(states[0], u))
            return h, [h]

        @tf.function
        def loss_and_gradients():
            with tf.GradientTape() as tape:
                tape.watch(x)
                _, outputs, _ = run_cell_over_time(
                    step, x, [tf.zeros((B, H))], return_sequences=True,
                    output_template=tf.zeros((B, H)), steps_per_iteration=per_iteration)
                loss = tf.reduce_sum(outputs ** 2)
            return tape.gradient(loss, [x, w, u])

        return [g.numpy() for g in loss_and_gradients()]

    for got, expected in zip(gradients(steps_per_iteration), gradients(1)):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
