"""Layer speed: our LSTM, GRU, SimpleRNN against the Keras built-ins, side by side.

For each layer and shape it builds the same one-layer classifier twice (ours and
Keras's, same weights), then alternates between them for several rounds, timing
inference (`predict_on_batch`) and a full training step (`train_on_batch`: forward,
backward, Adam). It prints sequences/s (median over rounds) and the ratio
ours / Keras, which is what to read: both run in the same process, same moment.

    python benchmarks/layer_speed.py                 # the table in docs/performance.md
    python benchmarks/layer_speed.py --jit off       # both without XLA
    python benchmarks/layer_speed.py --quick         # a fast smoke run
"""

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import layers  # noqa: E402

SHAPES = {
    "text T=100 F=64": (100, 64),
    "pixel T=784 F=1": (784, 1),
    "row T=28 F=28": (28, 28),
}
LAYERS = ("LSTM", "GRU", "SimpleRNN")


def build_pair(layer_name, steps, features, units):
    """The same classifier twice, with our layer and with Keras's, equal weights."""
    models = {}
    for source, module in (("keras", keras.layers), ("ours", layers)):
        inputs = keras.Input((steps, features))
        hidden = getattr(module, layer_name)(units)(inputs)
        models[source] = keras.Model(inputs, keras.layers.Dense(10)(hidden))
    models["ours"].set_weights(models["keras"].get_weights())
    return models


def compile_for(model, jit):
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile={"auto": "auto", "on": True, "off": False}[jit],
    )


def time_calls(call, repeats):
    start = time.perf_counter()
    for _ in range(repeats):
        call()
    return (time.perf_counter() - start) / repeats


def measure(layer_name, steps, features, args):
    rng = np.random.default_rng(0)
    x = rng.random((args.batch, steps, features), dtype=np.float32)
    y = rng.integers(0, 10, args.batch)
    models = build_pair(layer_name, steps, features, args.units)
    for model in models.values():
        compile_for(model, args.jit)
        model.train_on_batch(x, y)  # trace and compile outside the timing
        model.predict_on_batch(x)
    seconds = {(s, m): [] for s in models for m in ("infer", "train")}
    for _ in range(args.rounds):
        for source, model in models.items():  # interleaved: same conditions
            seconds[source, "infer"].append(
                time_calls(lambda: model.predict_on_batch(x), args.repeats)
            )
            seconds[source, "train"].append(
                time_calls(lambda: model.train_on_batch(x, y), args.repeats)
            )
    return {key: args.batch / statistics.median(v) for key, v in seconds.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--units", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (median)")
    parser.add_argument("--repeats", type=int, default=3, help="calls per timing")
    parser.add_argument(
        "--jit",
        choices=("auto", "on", "off"),
        default="auto",
        help="model.compile(jit_compile=...) for both: auto is Keras's default",
    )
    parser.add_argument("--layers", default=",".join(LAYERS))
    parser.add_argument("--shapes", default=",".join(SHAPES), help="comma-separated keys of SHAPES")
    parser.add_argument("--quick", action="store_true", help="2 rounds of 1 call")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.repeats = 2, 1

    print(
        f"batch {args.batch}, units {args.units}, jit_compile={args.jit}, "
        f"keras {keras.__version__}, {os.cpu_count()} CPU cores; sequences/s, median of {args.rounds} rounds"
    )
    header = "| layer | shape | inference Keras | inference ours | ratio | training Keras | training ours | ratio |"
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for layer_name in args.layers.split(","):
        for shape_name in args.shapes.split(","):
            steps, features = SHAPES[shape_name]
            r = measure(layer_name, steps, features, args)
            print(
                f"| {layer_name} | {shape_name} "
                f"| {r['keras', 'infer']:.0f} | {r['ours', 'infer']:.0f} "
                f"| {r['ours', 'infer'] / r['keras', 'infer']:.2f}x "
                f"| {r['keras', 'train']:.0f} | {r['ours', 'train']:.0f} "
                f"| **{r['ours', 'train'] / r['keras', 'train']:.2f}x** |",
                flush=True,
            )


if __name__ == "__main__":
    main()
