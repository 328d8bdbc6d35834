"""Two LSTM designs this project measured and did not adopt, against Keras, plus the matmul peak.

    python benchmarks/lstm_alternatives.py              # training throughput, 3 shapes
    python benchmarks/lstm_alternatives.py --matmul     # what the 2 cores do on these matmuls

- `block`: TensorFlow's own fused C++ kernel for a whole sequence,
  `tf.raw_ops.BlockLSTMV2` (gate order i, f, c, o as Keras; its gradient is
  registered by TensorFlow).
- `custom_gradient`: a hand-written backward pass: the forward loop stores the
  gates, the backward loop carries only (dh, dc) and writes the pre-activation
  gradients; the weight gradients are then one large matmul each.

Both give Keras's numbers (printed: largest output and gradient differences);
docs/performance.md reports their throughput ratios. Prototypes for the
record, not part of `layers/`.
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from apps.common import tensorflow_env  # noqa: E402

tensorflow_env.set_defaults()

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

SHAPES = {"text T=100 F=64": (100, 64), "pixel T=784 F=1": (784, 1), "row T=28 F=28": (28, 28)}


def block_lstm(x_time_major, h0, c0, kernel, recurrent_kernel, bias):
    outputs = tf.raw_ops.BlockLSTMV2(
        seq_len_max=tf.cast(tf.shape(x_time_major)[0], tf.int64), x=x_time_major,
        cs_prev=c0, h_prev=h0, w=tf.concat([kernel, recurrent_kernel], 0),
        wci=tf.zeros_like(bias[:tf.shape(h0)[1]]), wcf=tf.zeros_like(bias[:tf.shape(h0)[1]]),
        wco=tf.zeros_like(bias[:tf.shape(h0)[1]]), b=bias, cell_clip=0.0, use_peephole=False)
    return outputs[6][-1]


@tf.custom_gradient
def custom_gradient_lstm(x_time_major, h0, c0, kernel, recurrent_kernel, bias):
    steps = tf.shape(x_time_major)[0]
    units = recurrent_kernel.shape[0]
    inputs = tf.TensorArray(x_time_major.dtype, size=steps).unstack(x_time_major)
    kernels = tf.split(kernel, 4, axis=1)
    recurrent_kernels = tf.split(recurrent_kernel, 4, axis=1)
    biases = tf.split(bias, 4)

    def step(t, h, c, gates_array, cells_array, hiddens_array):
        x = inputs.read(t)
        z = [x @ k + b + h @ u for k, b, u in zip(kernels, biases, recurrent_kernels)]
        i, f, g, o = tf.sigmoid(z[0]), tf.sigmoid(z[1]), tf.tanh(z[2]), tf.sigmoid(z[3])
        c = f * c + i * g
        h = o * tf.tanh(c)
        return (t + 1, h, c, gates_array.write(t, tf.concat([i, f, g, o], 1)),
                cells_array.write(t, c), hiddens_array.write(t, h))

    def array():
        return tf.TensorArray(x_time_major.dtype, size=steps)

    _, h_last, _, gates, cells, hiddens = tf.while_loop(
        lambda t, *_: t < steps, step, (0, h0, c0, array(), array(), array()),
        maximum_iterations=steps)
    gates, cells, hiddens = gates.stack(), cells.stack(), hiddens.stack()

    def gradient(d_h_last):
        gates_array = tf.TensorArray(gates.dtype, size=steps).unstack(gates)
        cells_array = tf.TensorArray(cells.dtype, size=steps).unstack(cells)
        previous_cells = tf.TensorArray(cells.dtype, size=steps).unstack(
            tf.concat([c0[None], cells[:-1]], 0))
        recurrent_transposed = tf.transpose(recurrent_kernel)

        def back(s, dh, dc, dz_array):
            t = steps - 1 - s
            i, f, g, o = tf.split(gates_array.read(t), 4, 1)
            tanh_c = tf.tanh(cells_array.read(t))
            dc = dc + dh * o * (1 - tanh_c * tanh_c)
            dz = tf.concat([dc * g * i * (1 - i), dc * previous_cells.read(t) * f * (1 - f),
                            dc * i * (1 - g * g), dh * tanh_c * o * (1 - o)], 1)
            return s + 1, dz @ recurrent_transposed, dc * f, dz_array.write(t, dz)

        _, dh0, dc0, dz = tf.while_loop(
            lambda s, *_: s < steps, back,
            (0, d_h_last, tf.zeros_like(c0), tf.TensorArray(gates.dtype, size=steps)),
            maximum_iterations=steps)
        dz = tf.reshape(dz.stack(), [-1, 4 * units])
        features = x_time_major.shape[-1]
        previous_hiddens = tf.concat([h0[None], hiddens[:-1]], 0)
        d_kernel = tf.matmul(tf.reshape(x_time_major, [-1, features]), dz, transpose_a=True)
        d_recurrent = tf.matmul(tf.reshape(previous_hiddens, [-1, units]), dz, transpose_a=True)
        d_inputs = tf.reshape(dz @ tf.transpose(kernel), tf.shape(x_time_major))
        return d_inputs, dh0, dc0, d_kernel, d_recurrent, tf.reduce_sum(dz, 0)

    return h_last, gradient


class WholeSequenceLSTM(keras.layers.Layer):
    """The last output of an LSTM with Keras's weights, computed by `function`."""

    def __init__(self, units, function, **kwargs):
        super().__init__(**kwargs)
        self.units, self.function = units, function

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], 4 * self.units), name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(self.units, 4 * self.units),
                                                name="recurrent_kernel")
        self.bias = self.add_weight(shape=(4 * self.units,), name="bias", initializer="zeros")

    def call(self, x):
        zeros = tf.zeros([tf.shape(x)[0], self.units], x.dtype)
        return self.function(tf.transpose(x, [1, 0, 2]), zeros, zeros,
                             tf.convert_to_tensor(self.kernel),
                             tf.convert_to_tensor(self.recurrent_kernel),
                             tf.convert_to_tensor(self.bias))


def classifier(layer, steps, features):
    inputs = keras.Input((steps, features))
    return keras.Model(inputs, keras.layers.Dense(10)(layer(inputs)))


def compare(batch, units, rounds, repeats):
    print(f"batch {batch}, units {units}; training sequences/s, median of {rounds} rounds")
    print("| shape | Keras | block | ratio | custom_gradient | ratio | max output / gradient diff |")
    print("|---|---|---|---|---|---|---|")
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    for name, (steps, features) in SHAPES.items():
        models = {"keras": classifier(keras.layers.LSTM(units), steps, features)}
        for variant, function in (("block", block_lstm), ("custom_gradient", custom_gradient_lstm)):
            models[variant] = classifier(WholeSequenceLSTM(units, function), steps, features)
            models[variant].set_weights(models["keras"].get_weights())
        x = np.random.default_rng(0).standard_normal((batch, steps, features)).astype("float32")
        y = np.random.default_rng(1).integers(0, 10, batch)
        differences = []
        for variant in ("block", "custom_gradient"):
            gradients = []
            for model in (models["keras"], models[variant]):
                with tf.GradientTape() as tape:
                    value = loss(y, model(x))
                gradients.append(tape.gradient(value, model.trainable_variables))
            output = np.abs(models["keras"].predict_on_batch(x)
                            - models[variant].predict_on_batch(x)).max()
            gradient = max(float(np.abs(a - b).max()) for a, b in zip(*gradients))
            differences.append(f"{variant} {output:.0e} / {gradient:.0e}")
        times = {variant: [] for variant in models}
        for model in models.values():
            model.compile(optimizer="adam", loss=loss)
            model.train_on_batch(x, y)
        for _ in range(rounds):
            for variant, model in models.items():
                start = time.perf_counter()
                for _ in range(repeats):
                    model.train_on_batch(x, y)
                times[variant].append(batch * repeats / (time.perf_counter() - start))
        speed = {variant: float(np.median(values)) for variant, values in times.items()}
        print(f"| {name} | {speed['keras']:.0f} | {speed['block']:.0f} | "
              f"{speed['block'] / speed['keras']:.2f}x | {speed['custom_gradient']:.0f} | "
              f"{speed['custom_gradient'] / speed['keras']:.2f}x | {'; '.join(differences)} |",
              flush=True)


def matmul_peak(iterations=2000):
    from layer_speed import matmul_gflops  # this folder is the script's first path

    print("| matmul | us each | GFLOP/s |")
    print("|---|---|---|")
    for m, k, n, chains in ((64, 128, 128, 1), (64, 128, 128, 2), (64, 128, 512, 1),
                            (64, 512, 128, 1), (128, 64, 512, 1)):
        gflops = matmul_gflops(m, k, n, chains, iterations)
        label = f"[{m},{k}] x [{k},{n}]" + (f", {chains} at once" if chains > 1 else "")
        print(f"| {label} | {2 * m * k * n / gflops / 1e3:.1f} | {gflops:.0f} |", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--units", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--matmul", action="store_true", help="only the matmul throughput")
    args = parser.parse_args()
    if args.matmul:
        matmul_peak()
    else:
        compare(args.batch, args.units, args.rounds, args.repeats)


if __name__ == "__main__":
    main()
