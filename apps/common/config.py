"""Run settings: one dataclass per app, its flags, `--config file.json`, validation.

A setting is declared once, with `setting(...)`, and everything else follows
from that declaration: the `--flag`, its help text and default, the checks,
and the key in `config.json`. Precedence: defaults < `--config` file < flags
given on the command line, so `train --config best.json --epochs 3` works.
"""

import argparse
import dataclasses
import json
import math
import typing
from pathlib import Path

from apps.common.errors import UsageError


def setting(default, help, *, choices=None, minimum=None, above=None, below=None, flag=True):
    """Declare one setting of an app's config dataclass.

    Args:
        default: The value when neither a flag nor a config file sets it.
        help: What the setting does, for `--help` (the default is appended).
        choices: The allowed values, if there is a fixed list.
        minimum: The smallest allowed value (inclusive), for numbers.
        above: A bound the value must stay over (exclusive), for numbers.
        below: A bound the value must stay under (exclusive), for numbers.
        flag: Whether the setting gets a command-line flag.
    """
    return dataclasses.field(
        default=default,
        metadata={"help": help, "choices": choices, "minimum": minimum,
                  "above": above, "below": below, "flag": flag},
    )


LEARNING_RATE_SCHEDULES = ("constant", "cosine", "slanted")


def app_config(**defaults):
    """Make an app's config dataclass, with its own defaults for settings it inherits.

    An app changes what a common setting defaults to in one line, without
    declaring the setting again (its help, choices and bounds stay the
    common ones)::

        @app_config(cell="gru", units=64)
        class SentimentConfig(CommonConfig):
            vocab_size: int = setting(12000, "words in the vocabulary", minimum=3)

    Raises:
        TypeError: For a name that is not an inherited setting.
    """

    def make(cls):
        inherited = {field.name: field for base in cls.__mro__[1:]
                     if dataclasses.is_dataclass(base) for field in dataclasses.fields(base)}
        own = dict(cls.__dict__.get("__annotations__", {}))
        for name, value in defaults.items():
            if name not in inherited:
                raise TypeError(f"{cls.__name__}: {name!r} is not a setting of its base "
                                f"config (known: {', '.join(sorted(inherited))})")
            if name in own:
                raise TypeError(f"{cls.__name__}: {name!r} is declared in the class and "
                                "given a default by app_config; do one")
            field = inherited[name]
            setattr(cls, name, dataclasses.field(default=value, metadata=field.metadata))
            own[name] = field.type
        cls.__annotations__ = own
        return dataclasses.dataclass(cls)

    return make


PRECISIONS = ("float32", "mixed_bfloat16")


@dataclasses.dataclass
class CommonConfig:
    """The settings every app's `train` shares (DESIGN.md: same flag, same meaning)."""

    cell: str = setting(
        "lstm", "recurrent cell: rnn (IRNN: ReLU with identity recurrent init), gru or lstm",
        choices=("rnn", "gru", "lstm"))
    units: int = setting(128, "units in each recurrent layer", minimum=1)
    layers: int = setting(1, "number of stacked recurrent layers", minimum=1)
    bidirectional: bool = setting(False, "wrap each recurrent layer in Bidirectional")
    dropout: float = setting(0.0, "dropout on the inputs of each recurrent layer", minimum=0.0, below=1.0)
    epochs: int = setting(10, "training epochs", minimum=1)
    batch_size: int = setting(128, "examples per training step", minimum=1)
    learning_rate: float = setting(1e-3, "Adam learning rate", above=0.0)
    learning_rate_schedule: str = setting(
        "constant", "constant; cosine: decay the learning rate from --learning-rate to 0 "
        "over all the epochs' steps (a calmer end of training: the last epochs' weights "
        "wander less); or slanted: the slanted triangular schedule of ULMFiT (Howard & Ruder "
        "2018), a linear rise over the first tenth of the steps from 1/32 of --learning-rate "
        "to all of it, then a linear fall back to 1/32", choices=LEARNING_RATE_SCHEDULES)
    ema_momentum: float = setting(
        0.0, "keep an exponential moving average of the weights with this momentum (e.g. "
        "0.995: about the last 200 steps) and validate, keep and evaluate the averaged "
        "weights instead of the last ones (0: off)", minimum=0.0, below=1.0)
    clipnorm: float = setting(1.0, "clip each gradient to this norm (Adam's clipnorm)", above=0.0)
    early_stopping: int = setting(
        0, "stop after this many epochs without a better validation score (0: never)", minimum=0)
    time_limit: float = setting(
        0.0, "stop training after this many minutes; the current epoch ends early (0: no limit)",
        minimum=0.0)
    jit: bool = setting(False, "compile the training step with XLA")
    precision: str = setting(
        "float32", "float32, or mixed_bfloat16: Keras's mixed precision policy for every "
        "layer built (bfloat16 matmuls and activations, float32 weights and optimizer); on a "
        "CPU the fused LSTM/GRU loop then multiplies in bfloat16 and keeps float32 states "
        "(faster matmuls where the CPU has AVX512-BF16 or AMX; docs/performance.md)",
        choices=PRECISIONS)
    seed: int = setting(42, "random seed (weights, shuffling)", minimum=0)
    limit: int = setting(0, "use at most this many examples from each split (0: all)", minimum=0)
    data_dir: typing.Optional[str] = setting(
        None, "folder with the dataset's files (default: $RNN_SUITE_DATA, then a download, "
        "then the embedded data)")
    run_dir: typing.Optional[str] = setting(
        None, "where to write the run (default: runs/<app>/<timestamp>/, or the interrupted "
        "run with the same settings, which is resumed)")
    distribute: str = setting(
        "none", "train on: none (one device), mirrored (tf.distribute.MirroredStrategy over "
        "this machine's GPUs, or --devices N logical CPU devices without a GPU), multi-worker "
        "(tf.distribute.MultiWorkerMirroredStrategy over the machines in TF_CONFIG or "
        "--workers). --batch-size is the global batch, split over all replicas; "
        "--learning-rate is used as given, not rescaled for the number of replicas",
        choices=("none", "mirrored", "multi-worker"))
    devices: int = setting(
        0, "with --distribute mirrored: how many devices (0: every GPU); on a machine without "
        "a GPU, N splits the CPU into N logical devices (for testing, not speed)", minimum=0)
    workers: typing.Optional[str] = setting(
        None, "with --distribute multi-worker: every worker's HOST:PORT, comma-separated, the "
        "same list on every worker; it builds TF_CONFIG (default: none, TF_CONFIG names the "
        "cluster)")
    worker_index: typing.Optional[int] = setting(
        None, "with --workers: this worker's position in the list (0 is the chief, the one "
        "that writes the run folder)", minimum=0)

    def to_dict(self):
        """The settings as a plain dict, as written to `config.json`."""
        return dataclasses.asdict(self)


# Settings that do not change what is trained, so a rerun that differs only in
# them still resumes the interrupted run. Where training runs is one of them:
# the global batch and the learning rate are the same on one device or many,
# and a backup holds plain weights and optimizer state, so a run interrupted
# on two GPUs can be finished on one (and a worker's index is its own anyway).
NOT_PART_OF_THE_EXPERIMENT = frozenset({"run_dir", "time_limit", "jit", "data_dir", "cache_dir",
                                        "distribute", "devices", "workers", "worker_index"})


def _flag(name):
    return "--" + name.replace("_", "-")


def _field_types(config_class):
    hints = typing.get_type_hints(config_class)
    types = {}
    for field in dataclasses.fields(config_class):
        hint = hints[field.name]
        optional = typing.get_origin(hint) is typing.Union
        if optional:
            hint = next(a for a in typing.get_args(hint) if a is not type(None))
        types[field.name] = (hint, optional)
    return types


def add_flags(parser, config_class):
    """Add a `--flag` for every setting of `config_class`, plus `--config`.

    Flags default to "not given" so that a config file's values are only
    overridden by flags the user actually typed.
    """
    parser.add_argument(
        "--config", metavar="FILE.json", default=None,
        help="read settings from a JSON file (e.g. a run's config.json or a tuner's "
             "best.json); flags given here override it")
    add_setting_flags(parser, config_class)


def add_setting_flags(parser, config_class, names=None):
    """Add the `--flag` of each named setting of `config_class` (default: all that have one).

    The same flags as `add_flags` makes, for a command that offers only some
    settings (`rnn-suite tune` offers the data settings). A flag not given
    is absent from the parsed arguments.
    """
    types = _field_types(config_class)
    for field in dataclasses.fields(config_class):
        meta = field.metadata
        if not meta.get("flag", True) or (names is not None and field.name not in names):
            continue
        kind, _ = types[field.name]
        default = "none" if field.default is None else field.default
        if kind is bool:
            default = "on" if field.default else "off"
        help_text = meta["help"]
        if "(default:" not in help_text:
            help_text += f" (default: {default})"
        if kind is bool:
            parser.add_argument(_flag(field.name), dest=field.name, default=argparse.SUPPRESS,
                                action=argparse.BooleanOptionalAction, help=help_text)
            continue
        parser.add_argument(
            _flag(field.name), dest=field.name, default=argparse.SUPPRESS,
            type=_parse_as(kind),
            choices=meta.get("choices"),
            metavar=None if meta.get("choices") else field.name.upper(),
            help=help_text)


def _parse_as(kind):
    def parse(text):
        try:
            return kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {'an integer' if kind is int else 'a number'}, got {text!r}") from None
    parse.__name__ = kind.__name__
    return parse


def read_json_settings(path):
    """Read a JSON object of settings from `path`, with a clear error if it is not one."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"config file {path} does not exist (expected a JSON file of settings)")
    except OSError as error:
        raise UsageError(f"cannot read config file {path}: {error.strerror}")
    except UnicodeDecodeError as error:
        line = error.object[:error.start].count(b"\n") + 1
        raise UsageError(f"config file {path} is not valid UTF-8: line {line} has the byte "
                         f"0x{error.object[error.start]:02x} (save it as UTF-8)") from None
    try:
        values = json.loads(text)
    except json.JSONDecodeError as error:
        raise UsageError(f"config file {path} is not valid JSON ({error.msg}, line {error.lineno})")
    if not isinstance(values, dict):
        raise UsageError(f"config file {path} must hold a JSON object of settings, "
                         f"e.g. {{\"units\": 64}}")
    return values


def build_config(config_class, flag_values, config_file=None):
    """Merge defaults, a config file and the flags given, then validate.

    Args:
        config_class: The app's config dataclass.
        flag_values: Settings given on the command line (name -> value);
            names not given must be absent.
        config_file: Optional path of a JSON file of settings.

    Returns:
        A validated `config_class` instance.

    Raises:
        UsageError: For an unknown setting in the file or an invalid value.
    """
    names = {f.name for f in dataclasses.fields(config_class)}
    values = {}
    if config_file is not None:
        from_file = read_json_settings(config_file)
        unknown = sorted(set(from_file) - names)
        if unknown:
            raise UsageError(
                f"config file {config_file}: unknown setting(s) {', '.join(unknown)} "
                f"(known: {', '.join(sorted(names))})")
        values.update(from_file)
    values.update({k: v for k, v in flag_values.items() if k in names})
    config = config_class(**values)
    validate(config)
    return config


def config_from_args(config_class, args):
    """The config a parsed command line asks for: defaults < `--config` file < flags."""
    flag_values = {k: v for k, v in vars(args).items()
                   if k not in ("handler", "command", "app", "config")}
    return build_config(config_class, flag_values, args.config)


def validate(config):
    """Check types, choices and ranges of every setting; raise `UsageError` on the first bad one."""
    types = _field_types(type(config))
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        kind, optional = types[field.name]
        meta = field.metadata
        name = _flag(field.name)
        if value is None:
            if optional:
                continue
            raise UsageError(f"{name} needs a value")
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
            setattr(config, field.name, value)
        if kind is bool and not isinstance(value, bool):
            raise UsageError(f"{name} must be true or false, got {value!r}")
        if kind in (int, float) and (isinstance(value, bool) or not isinstance(value, kind)):
            wanted = "an integer" if kind is int else "a number"
            raise UsageError(f"{name} must be {wanted}, got {value!r}")
        if kind is str and not isinstance(value, str):
            raise UsageError(f"{name} must be a string, got {value!r}")
        if kind is float and not math.isfinite(value):  # NaN passes every bound check below
            raise UsageError(f"{name} must be a finite number, got {value!r}")
        if meta.get("choices") and value not in meta["choices"]:
            raise UsageError(
                f"{name} must be one of {', '.join(meta['choices'])}, got {value!r}")
        minimum, above, below = meta.get("minimum"), meta.get("above"), meta.get("below")
        if minimum is not None and value < minimum:
            if kind is int and minimum == 1:
                raise UsageError(f"{name} must be a positive integer, got {value!r}")
            raise UsageError(f"{name} must be >= {minimum}, got {value!r}")
        if above is not None and value <= above:
            raise UsageError(f"{name} must be > {above}, got {value!r}")
        if below is not None and value >= below:
            raise UsageError(f"{name} must be < {below}, got {value!r}")


def save_config(config, path):
    """Write every setting to `path` as JSON (the run's `config.json`)."""
    Path(path).write_text(json.dumps(config.to_dict(), indent=2, sort_keys=True) + "\n")


def load_config(config_class, path):
    """Read a run's `config.json` back into `config_class` (keys it does not know are ignored)."""
    values = read_json_settings(path)
    names = {f.name for f in dataclasses.fields(config_class)}
    config = config_class(**{k: v for k, v in values.items() if k in names})
    validate(config)
    return config


def experiment_settings(values):
    """The part of a settings dict that decides what is trained (used to match a run to resume)."""
    return {k: v for k, v in values.items() if k not in NOT_PART_OF_THE_EXPERIMENT}


def positive_int(text):
    """argparse type for flags outside a config (e.g. `evaluate --batch-size`): an integer >= 1."""
    value = _parse_as(int)(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def non_negative_int(text):
    """argparse type: an integer >= 0."""
    value = _parse_as(int)(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value
