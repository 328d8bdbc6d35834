"""Layer speed: our LSTM, GRU, SimpleRNN against the Keras built-ins and PyTorch, side by side.

For each layer and shape it builds the same one-layer classifier with our layer, with
Keras's (same weights), with ours on its step-by-step loop (`use_fused=False`: LSTM and
GRU, whose default on CPU is the fused loop of layers/fused.py) and, where torch is
installed, with PyTorch's `nn.LSTM` / `nn.GRU` / `nn.RNN` (its fused CPU kernels), then
alternates between them for several rounds,
timing inference (`predict_on_batch`; torch under `no_grad`) and a full training step
(forward, backward, Adam). It prints sequences/s (median over rounds), the ratio ours /
best peer, which is what to read (all run in one process, at the same moment), and ours
as a share of the matmul ceiling: what these cores reach on the layer's own matmul shape,
divided by the training step's matmul work (forward and backward, about 3x the forward).

    python benchmarks/layer_speed.py                 # the table in docs/performance.md
    python benchmarks/layer_speed.py --jit off       # Keras's models without XLA
    python benchmarks/layer_speed.py --no-torch      # without the PyTorch column
    python benchmarks/layer_speed.py --quick         # a fast smoke run
    python benchmarks/layer_speed.py --bf16          # also ours under Keras's mixed_bfloat16

PyTorch is optional (`pip install torch`; where the same process loads TensorFlow,
`pip uninstall triton` first: torch imports it lazily and it crashes there).
"""

import argparse
import importlib.util
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from apps.common import tensorflow_env  # noqa: E402

# The apps' start (pooled CPU memory): every layer measured here gets the same allocator.
tensorflow_env.set_defaults()

import keras  # noqa: E402
import numpy as np  # noqa: E402

import layers  # noqa: E402

# name -> (steps, features, batch or None for --batch)
SHAPES = {
    "text T=100 F=64": (100, 64, None),
    "pixel T=784 F=1": (784, 1, None),
    "pixel T=784 F=1 B=128": (784, 1, 128),  # the app's pixel-by-pixel MNIST batch
    "row T=28 F=28": (28, 28, None),
}
GATES = {"LSTM": 4, "GRU": 3, "SimpleRNN": 1}
TORCH_LAYERS = {"LSTM": "LSTM", "GRU": "GRU", "SimpleRNN": "RNN"}
LAYERS = ("LSTM", "GRU", "SimpleRNN")
FUSED = ("LSTM", "GRU")  # the layers with a fused CPU loop (layers/fused.py)


def build_models(layer_name, steps, features, units, bf16=False):
    """The same classifier with our layer, Keras's, (LSTM, GRU) ours on its step loop and,
    with `bf16`, ours under the mixed_bfloat16 policy (bf16 matmuls, float32 weights)."""
    makers = {"keras": lambda: getattr(keras.layers, layer_name)(units),
              "ours": lambda: getattr(layers, layer_name)(units)}
    if layer_name in FUSED:
        makers["ours-loop"] = lambda: getattr(layers, layer_name)(units, use_fused=False)
    if bf16:
        makers["ours-bf16"] = lambda: getattr(layers, layer_name)(units, dtype="mixed_bfloat16")
    models = {}
    for source, make in makers.items():
        inputs = keras.Input((steps, features))
        models[source] = keras.Model(inputs, keras.layers.Dense(10)(make()(inputs)))
    for source in models:
        models[source].set_weights(models["keras"].get_weights())
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


def torch_calls(layer_name, x, y, units):
    """(infer, train) calls of the same classifier in PyTorch: its fused recurrent kernel."""
    import torch

    class Classifier(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.recurrent = getattr(torch.nn, TORCH_LAYERS[layer_name])(
                x.shape[-1], units, batch_first=True)
            self.dense = torch.nn.Linear(units, 10)

        def forward(self, inputs):
            outputs, _ = self.recurrent(inputs)
            return self.dense(outputs[:, -1])

    model = Classifier()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss = torch.nn.CrossEntropyLoss()
    inputs, labels = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))

    def infer():
        with torch.no_grad():
            model(inputs)

    def train():
        optimizer.zero_grad()
        loss(model(inputs), labels).backward()
        optimizer.step()

    return infer, train


def measure(layer_name, steps, features, batch, args):
    rng = np.random.default_rng(0)
    x = rng.random((batch, steps, features), dtype=np.float32)
    y = rng.integers(0, 10, batch)
    calls = {}
    for source, model in build_models(layer_name, steps, features, args.units, args.bf16).items():
        compile_for(model, args.jit)
        calls[source] = (lambda m=model: m.predict_on_batch(x),
                         lambda m=model: m.train_on_batch(x, y))
    if args.torch:
        calls["torch"] = torch_calls(layer_name, x, y, args.units)
    for infer, train in calls.values():
        train()  # trace and compile outside the timing
        infer()
    seconds = {(s, m): [] for s in calls for m in ("infer", "train")}
    for _ in range(args.rounds):
        for source, (infer, train) in calls.items():  # interleaved: same conditions
            seconds[source, "infer"].append(time_calls(infer, args.repeats))
            seconds[source, "train"].append(time_calls(train, args.repeats))
    return {key: batch / statistics.median(v) for key, v in seconds.items()}


def matmul_gflops(m, k, n, chains=1, iterations=1000, dtype="float32"):
    """GFLOP/s of these cores on [m, k] x [k, n] matmuls, each waiting for the one before (as
    in the loop over time); `chains` independent such chains at once. The best of three."""
    import tensorflow as tf

    a = [tf.cast(tf.random.normal([m, k]), dtype) for _ in range(chains)]
    b = tf.cast(tf.random.normal([k, n]), dtype)

    @tf.function
    def run():
        return [tf.while_loop(lambda i, s: i < iterations,
                              lambda i, s, a=a_: (i + 1, s + tf.cast(tf.matmul(a, b)[0, 0], "float32") * 0),
                              (0, 0.0))[1] for a_ in a]

    run()
    best = float("inf")
    for _ in range(3):  # the best of three: what the cores can do
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return 2 * m * k * n * iterations * chains / best / 1e9


def ceiling(layer_name, steps, features, batch, units, gflops):
    """Training sequences/s the matmuls alone would allow at `gflops`: forward
    2*B*(F+H)*G*H per step, backward twice that."""
    flops = 3 * 2 * batch * (features + units) * GATES[layer_name] * units * steps
    return gflops * 1e9 / flops * batch


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
    parser.add_argument("--bf16", action="store_true",
                        help="also ours under dtype='mixed_bfloat16' (bf16 matmuls; the step "
                             "loop: the fused op is float32), and the bf16 matmul rate")
    parser.add_argument("--torch", action=argparse.BooleanOptionalAction, default=None,
                        help="the PyTorch column (default: where torch is installed)")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.repeats = 2, 1
    for flag, given, known in (("--layers", args.layers, LAYERS), ("--shapes", args.shapes, SHAPES)):
        unknown = [name for name in given.split(",") if name not in known]
        if unknown:
            parser.error(f"{flag}: unknown {', '.join(map(repr, unknown))}; "
                         f"choose from {', '.join(map(repr, known))}")
    if args.torch is None:
        args.torch = importlib.util.find_spec("torch") is not None
        if not args.torch:
            print("note: torch is not installed, so there is no PyTorch column "
                  "(pip install torch)")
    peers = ["keras", "torch"] if args.torch else ["keras"]
    if args.torch:
        import torch

        torch.set_num_threads(os.cpu_count())
        versions = f", torch {torch.__version__} ({torch.get_num_threads()} threads)"
    else:
        versions = ""
    print(
        f"batch {args.batch} (unless the shape says), units {args.units}, jit_compile={args.jit}, "
        f"keras {keras.__version__}{versions}, {os.cpu_count()} CPU cores; sequences/s, "
        f"median of {args.rounds} rounds; TensorFlow's CPU allocator: "
        + ("BFC (pooled)" if os.environ.get("TF_CPU_ALLOCATOR_USE_BFC", "").lower() in ("true", "1")
           else "malloc (TF_CPU_ALLOCATOR_USE_BFC unset or false)")
    )
    from layers import fused

    print("ours: LSTM and GRU on the fused loop (layers/fused.py)" if fused.library() else
          f"ours: the step loop everywhere (the fused loop is unavailable: "
          f"{fused.unavailable_reason()})")
    names = {"keras": "Keras", "torch": "PyTorch"}
    bf16_column = ["ours (mixed_bfloat16)"] if args.bf16 else []
    columns = ([f"inference {names[p]}" for p in peers] + ["inference ours (step loop)",
                                                           "inference ours", "vs best"]
               + [f"inference {c}" for c in bf16_column]
               + [f"training {names[p]}" for p in peers] + ["training ours (step loop)",
                                                            "training ours", "vs best"]
               + [f"training {c}" for c in bf16_column] + ["of ceiling"])
    header = "| layer | shape | " + " | ".join(columns) + " |"
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    ceilings = {}
    for layer_name in args.layers.split(","):
        for shape_name in args.shapes.split(","):
            steps, features, batch = SHAPES[shape_name]
            batch = batch or args.batch
            r = measure(layer_name, steps, features, batch, args)
            key = (batch, GATES[layer_name])
            if key not in ceilings:
                ceilings[key] = matmul_gflops(batch, args.units, GATES[layer_name] * args.units)
            top = ceiling(layer_name, steps, features, batch, args.units, ceilings[key])
            cells = []
            for mode in ("infer", "train"):
                best = max(r[p, mode] for p in peers)
                cells += [f"{r[p, mode]:.0f}" for p in peers]
                cells.append(f"{r['ours-loop', mode]:.0f}" if ("ours-loop", mode) in r else "")
                cells += [f"{r['ours', mode]:.0f}", f"**{r['ours', mode] / best:.2f}x**"]
                if args.bf16:
                    cells.append(f"{r['ours-bf16', mode]:.0f}")
            cells.append(f"{r['ours', 'train'] / top:.0%} of {top:.0f}")
            print(f"| {layer_name} | {shape_name} | " + " | ".join(cells) + " |", flush=True)
    print("matmul ceilings (GFLOP/s on [batch, units] x [units, gates*units], chained): "
          + ", ".join(f"batch {b}, {g} gates: {v:.0f}" for (b, g), v in sorted(ceilings.items())))
    if args.bf16:
        print("the same matmuls in bfloat16 (TensorFlow's, as mixed_bfloat16 runs them): "
              + ", ".join(f"batch {b}, {g} gates: "
                          f"{matmul_gflops(b, args.units, g * args.units, dtype='bfloat16'):.0f}"
                          for b, g in sorted(ceilings)))


if __name__ == "__main__":
    main()
