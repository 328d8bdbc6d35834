"""The settings of `rnn-suite mnist train`."""

from apps.common.config import CommonConfig, app_config, setting

MODES = ("pixel", "permuted", "row")
SOURCES = ("auto", "files", "tfds", "digits")


# GRU by default: the seeds' "PixelGRU", and on the embedded 8x8 digits it
# learns faster than an LSTM of the same width.
@app_config(cell="gru")
class MnistConfig(CommonConfig):
    """Common settings plus how an image becomes a sequence, and where the digits come from."""

    mode: str = setting(
        "pixel", "how an image becomes a sequence: pixel (one pixel per step: 784 steps), "
        "permuted (the same in a fixed, seeded pixel order), row (one row of 28 pixels per "
        "step: 28 steps)", choices=MODES)
    permutation_seed: int = setting(
        0, "seed of the fixed pixel order of --mode permuted", minimum=0)
    chrono_init: bool = setting(
        False, "initialise the gru/lstm memory gates' biases with chrono initialization "
        "(Tallec & Ollivier 2018: log time scales spread up to the sequence length, e.g. 784 "
        "steps, instead of forgetting within a few steps; layers.ChronoBias)")
    builtin_layers: bool = setting(
        False, "build the recurrent layers from Keras's built-ins (keras.layers.LSTM, GRU, "
        "SimpleRNN; the same recipe, --chrono-init included) instead of this suite's: the "
        "peer benchmarks/mnist_quality.py measures ours against")
    source: str = setting(
        "auto", "where the digits come from: files (mnist.npz or the IDX files under "
        "--data-dir/$RNN_SUITE_DATA), tfds (tensorflow-datasets 'mnist'), digits "
        "(scikit-learn's embedded 8x8 digits), auto (the first of these that is available)",
        choices=SOURCES)
