"""Search spaces as data: setting name -> kind, range or choices; defaults from the app's config.

A space names settings of an app's config dataclass (`units`, `learning_rate`,
...), so a trial's hyperparameters *are* a config: nothing is translated by
hand. The default of each dimension is the app's own default (read from its
config class, never written a second time), unless `--space` fixes it.

`--space` (a JSON file, or the JSON text itself) changes a space per setting:
    "units": 64                      fix the value (no longer searched)
    "cell": ["gru", "lstm"]          search these choices
    "learning_rate": {"min": 1e-4, "max": 3e-3, "log": true}   a new range
and may fix any other setting of the app's `train` (e.g. "embedding_dim": 64).
"""

import dataclasses
import json
from pathlib import Path

from apps.common import config as config_module
from apps.common.errors import UsageError

KINDS = ("choice", "int", "float", "bool", "fixed")
RANGE_KEYS = ("min", "max", "step", "log")
# Settings a search sets itself (or that name where things go), never through --space.
NOT_IN_SPACE = {
    "epochs": "--max-epochs",
    "run_dir": "the search folder (--name)",
    "time_limit": "--time-limit",
    # Trials train on one device (several machines share a search as keras-tuner
    # workers instead); a fixed strategy would be silently ignored.
    "distribute": "keras-tuner's chief/worker mode (--role) to use several machines",
    "devices": "keras-tuner's chief/worker mode (--role) to use several machines",
    "workers": "keras-tuner's chief/worker mode (--role) to use several machines",
    "worker_index": "keras-tuner's chief/worker mode (--role) to use several machines",
}


@dataclasses.dataclass(frozen=True)
class Dimension:
    """One searched setting.

    Attributes:
        kind: "choice", "int", "float", "bool" or "fixed".
        values: The choices ("choice"), or the one value ("fixed").
        min: Smallest value ("int", "float"), inclusive.
        max: Largest value ("int", "float"), inclusive.
        step: Spacing of the values, or None for any value in the range.
        log: Sample evenly on a log scale (learning rates, sizes).
        default: The value used where a search needs one before it samples
            (the app's default unless `--space` says otherwise).
    """

    kind: str
    values: tuple = ()
    min: float = None
    max: float = None
    step: float = None
    log: bool = False
    default: object = None

    def describe(self):
        """The range or choices, as `--show-space` prints them."""
        if self.kind == "choice":
            return "one of " + ", ".join(_show(v) for v in self.values)
        if self.kind == "bool":
            return "true or false"
        if self.kind == "fixed":
            return f"fixed at {_show(self.values[0])}"
        scale = ", log scale" if self.log else ""
        step = f", step {_show(self.step)}" if self.step else ""
        return f"{self.kind} {_show(self.min)} .. {_show(self.max)}{step}{scale}"

    def to_json(self):
        """A plain dict (for `search.json`, which tells a resumed search from a new one)."""
        return {k: (list(v) if isinstance(v, tuple) else v)
                for k, v in dataclasses.asdict(self).items()}


def choice(*values):
    """A dimension searched over these values."""
    return Dimension("choice", values=tuple(values))


def integer(low, high, step=None, log=False):
    """An integer dimension from `low` to `high` inclusive."""
    return Dimension("int", min=int(low), max=int(high), step=step, log=log)


def real(low, high, step=None, log=False):
    """A float dimension from `low` to `high` inclusive (`log`: sampled on a log scale)."""
    return Dimension("float", min=float(low), max=float(high), step=step, log=log)


def boolean():
    """A true/false dimension."""
    return Dimension("bool")


def _show(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def read_overrides(text):
    """Parse `--space`: the path of a JSON file, or a JSON object given inline.

    Raises:
        UsageError: If the file is missing or the text is not a JSON object.
    """
    text = str(text)
    if text.lstrip().startswith("{"):
        try:
            values = json.loads(text)
        except json.JSONDecodeError as error:
            raise UsageError(f"--space is not valid JSON ({error.msg}, column {error.colno}); "
                             'expected an object such as {"units": [64, 128]}') from None
        if not isinstance(values, dict):
            raise UsageError('--space must be a JSON object such as {"units": [64, 128]}')
        return values
    path = Path(text)
    if not path.is_file():
        raise UsageError(f"--space {path}: no such file (expected a JSON file, or a JSON object "
                         'such as {"units": [64, 128]})')
    try:
        return config_module.read_json_settings(path)
    except UsageError as error:
        raise UsageError(f"--space: {error}") from None


def resolve(space, config_class, overrides=None, base=None):
    """The space and the fixed settings of a search: the app's space with `--space` applied.

    Args:
        space: The app's space, {name: Dimension} (defaults not filled in).
        config_class: The app's config dataclass.
        overrides: The parsed `--space` object, or None.
        base: The config the search starts from (data flags applied), or
            None for the class's defaults. Defaults are read from it.

    Returns:
        (space, fixed): the space with every default filled in, and a dict
        of settings outside the space that `--space` fixed.

    Raises:
        UsageError: For an unknown name, an empty range or choice list, a
            value the app does not accept, naming the key and the fix.
    """
    base = base if base is not None else config_class()
    names = {field.name for field in dataclasses.fields(config_class)}
    resolved = {name: dimension for name, dimension in space.items()}
    fixed = {}
    for key, value in (overrides or {}).items():
        if key in NOT_IN_SPACE:
            raise UsageError(f"--space {key}: a search sets it itself; use "
                             f"{NOT_IN_SPACE[key]} instead")
        if key in resolved:
            resolved[key] = _override(key, resolved[key], value, base)
        elif key in names:
            if isinstance(value, (list, dict)):
                raise UsageError(
                    f"--space {key}: not in the search space, so it can only be fixed to one "
                    f"value (searched: {', '.join(resolved)})")
            _check_value(base, key, value)
            fixed[key] = value
        else:
            raise UsageError(
                f"--space: unknown setting {key!r} (searched: {', '.join(resolved)}; any other "
                f"setting of `train` can be fixed, e.g. {_example(names - set(resolved))})")
    base = dataclasses.replace(base, **fixed)
    return {name: _with_default(name, dimension, base)
            for name, dimension in resolved.items()}, fixed


def _example(names):
    return ", ".join(sorted(names)[:4]) + ", ..."


def _check_value(base, key, value):
    """Raise a `--space KEY: ...` UsageError unless the app's config accepts `value` for `key`."""
    try:
        config_module.validate(dataclasses.replace(base, **{key: value}))
    except UsageError as error:
        raise UsageError(f"--space {key}: {error}") from None
    except TypeError:
        raise UsageError(f"--space {key}: {value!r} is not a valid value") from None


def _override(key, dimension, value, base):
    """`dimension` changed by the `--space` value given for `key`."""
    if isinstance(value, dict):
        if dimension.kind not in ("int", "float"):
            raise UsageError(f"--space {key}: a range needs a numeric setting; {key} is "
                             f"{dimension.describe()} (give a list of choices or one value)")
        unknown = sorted(set(value) - set(RANGE_KEYS))
        if unknown:
            raise UsageError(f"--space {key}: unknown range key(s) {', '.join(unknown)} "
                             f"(expected {', '.join(RANGE_KEYS)})")
        low, high = value.get("min", dimension.min), value.get("max", dimension.max)
        for bound in (low, high):
            if dimension.kind == "int" and (isinstance(bound, bool) or not isinstance(bound, int)):
                raise UsageError(f"--space {key}: min and max must be integers, got {bound!r}")
            _check_value(base, key, float(bound) if dimension.kind == "float" else bound)
        if low > high:
            raise UsageError(f"--space {key}: empty range, min {_show(low)} > max {_show(high)}")
        log = bool(value.get("log", dimension.log))
        if log and low <= 0:
            raise UsageError(f"--space {key}: a log-scale range needs min > 0, got {_show(low)}")
        step = value.get("step", dimension.step)
        if step is not None and (isinstance(step, bool) or not isinstance(step, (int, float))
                                 or step <= 0):
            raise UsageError(f"--space {key}: step must be a positive number, got {step!r}")
        if step is not None and log:
            raise UsageError(f"--space {key}: give either step or log, not both")
        return dataclasses.replace(dimension, min=low, max=high, step=step, log=log)
    if isinstance(value, list):
        if not value:
            raise UsageError(f"--space {key}: empty list of choices (give at least one value)")
        for item in value:
            _check_value(base, key, item)
        if len({type(v) for v in value}) > 1:
            raise UsageError(f"--space {key}: the choices must all have one type, got {value!r}")
        if len(value) != len(set(value)):
            raise UsageError(f"--space {key}: the choices repeat a value: {value!r}")
        if isinstance(value[0], bool):
            # keras-tuner's Choice would turn booleans into 0 and 1.
            return Dimension("bool") if len(value) == 2 else Dimension("fixed", values=(value[0],))
        return Dimension("choice", values=tuple(value))
    _check_value(base, key, value)
    return Dimension("fixed", values=(value,))


def _with_default(name, dimension, base):
    default = getattr(base, name)
    if dimension.kind == "fixed":
        default = dimension.values[0]
    elif dimension.kind == "choice" and default not in dimension.values:
        default = dimension.values[0]
    elif dimension.kind in ("int", "float") and not dimension.min <= default <= dimension.max:
        default = dimension.min
    return dataclasses.replace(dimension, default=default)


def declare(hp, name, dimension):
    """Declare `dimension` on a keras-tuner `HyperParameters` and return the trial's value."""
    if dimension.kind == "fixed":
        return hp.Fixed(name, dimension.values[0])
    if dimension.kind == "choice":
        return hp.Choice(name, list(dimension.values), default=dimension.default)
    if dimension.kind == "bool":
        return hp.Boolean(name, default=dimension.default)
    sampling = "log" if dimension.log else "linear"
    if dimension.kind == "int":
        return hp.Int(name, int(dimension.min), int(dimension.max),
                      step=int(dimension.step) if dimension.step else None,
                      sampling=sampling, default=int(dimension.default))
    high = float(dimension.max)
    if dimension.step:
        # keras-tuner counts int((max - min) / step) steps, and 0.3 / 0.1 is 2.9999...:
        # without this nudge the top value (0.3) could never be drawn.
        high += dimension.step * 1e-6
    value = hp.Float(name, float(dimension.min), high, step=dimension.step,
                     sampling=sampling, default=float(dimension.default))
    # min + k * step in floating point gives 0.30000000000000004; keep what a person wrote.
    return round(value, 10) if dimension.step else value


def describe(space, fixed=None):
    """The lines `--show-space` prints: one per searched setting, then the fixed ones."""
    width = max((len(name) for name in space), default=4)
    lines = [f"{'setting':<{width}}  {'searched over':<40}  default"]
    for name, dimension in space.items():
        lines.append(f"{name:<{width}}  {dimension.describe():<40}  {_show(dimension.default)}")
    for name, value in (fixed or {}).items():
        lines.append(f"{name:<{width}}  {'fixed by --space':<40}  {_show(value)}")
    return lines
