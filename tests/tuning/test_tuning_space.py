"""Search spaces: declared as data, defaults from the apps' configs, `--space` fixes and narrows."""

import collections
import dataclasses

import pytest

from apps.common.config import validate
from apps.common.errors import UsageError
from tuning import registry
from tuning import space as space_module


@pytest.mark.parametrize("app", sorted(registry.APPS))
def test_every_space_names_settings_of_its_app_with_the_apps_defaults(app):
    entry = registry.APPS[app]
    config_class = entry.config_class()
    names = {field.name for field in dataclasses.fields(config_class)}
    assert set(entry.space) <= names
    assert set(entry.data_flags) <= names
    assert not set(entry.space) & set(entry.data_flags)
    resolved, fixed = space_module.resolve(entry.space, config_class)
    assert fixed == {}
    defaults = config_class()
    for name, dimension in resolved.items():
        # One source of truth: the default searched from is the app's own.
        assert dimension.default == getattr(defaults, name), name
        if dimension.kind == "choice":
            assert dimension.default in dimension.values, name
            for value in dimension.values:  # every choice is a value the app accepts
                validate(dataclasses.replace(defaults, **{name: value}))
        elif dimension.kind in ("int", "float"):
            assert dimension.min <= dimension.default <= dimension.max, name
            validate(dataclasses.replace(defaults, **{name: dimension.min}))
            validate(dataclasses.replace(defaults, **{name: dimension.max}))


def test_sentiment_space_reaches_past_the_defaults():
    """What the strongest from-scratch IMDB models use is in the space (issue 10)."""
    space = registry.APPS["sentiment"].space
    assert "max" in space["pooling"].values
    assert max(space["max_length"].values) > 500
    assert max(space["vocab_size"].values) > 12000


def test_overrides_fix_narrow_and_restrict():
    from apps.mnist.config import MnistConfig

    resolved, fixed = space_module.resolve(
        registry.APPS["mnist"].space, MnistConfig,
        {"units": 64, "cell": ["gru", "lstm"], "learning_rate": {"min": 1e-3, "max": 3e-3},
         "clipnorm": 0.5, "bidirectional": [True, False]})
    assert resolved["units"].kind == "fixed" and resolved["units"].default == 64
    assert resolved["bidirectional"].kind == "bool"  # not a Choice: keras-tuner makes that 0/1
    assert resolved["cell"].values == ("gru", "lstm") and resolved["cell"].default == "gru"
    assert (resolved["learning_rate"].min, resolved["learning_rate"].max) == (1e-3, 3e-3)
    assert resolved["learning_rate"].log  # narrowing keeps the scale
    assert fixed == {"clipnorm": 0.5}
    lines = space_module.describe(resolved, fixed)
    assert any(line.startswith("units") and "fixed at 64" in line for line in lines)
    assert any(line.startswith("clipnorm") and "fixed by --space" in line for line in lines)


def test_default_outside_a_narrowed_range_moves_inside():
    from apps.mnist.config import MnistConfig

    resolved, _ = space_module.resolve(registry.APPS["mnist"].space, MnistConfig,
                                       {"units": [32, 64], "learning_rate": {"min": 0.005}})
    assert resolved["units"].default == 32
    assert resolved["learning_rate"].default == 0.005


@pytest.mark.parametrize("overrides,message", [
    ({"unitz": 3}, "unknown setting 'unitz'"),
    ({"units": []}, "--space units: empty list of choices"),
    ({"learning_rate": {"min": 0.01, "max": 0.001}}, "--space learning_rate: empty range"),
    ({"learning_rate": {"low": 0.01}}, "unknown range key(s) low"),
    ({"cell": {"min": 1, "max": 2}}, "--space cell: a range needs a numeric setting"),
    ({"units": 0}, "--space units: --units must be a positive integer"),
    ({"cell": ["gru", "transformer"]}, "--space cell: --cell must be one of"),
    ({"layers": {"min": 1.5, "max": 2}}, "--space layers: min and max must be integers"),
    ({"dropout": {"min": 0.0, "max": 0.3, "step": None, "log": True}}, "needs min > 0"),
    ({"dropout": {"min": 0.1, "max": 0.3, "log": True}}, "give either step or log"),
    ({"epochs": 5}, "--space epochs: a search sets it itself; use --max-epochs"),
    ({"clipnorm": [0.5, 1.0]}, "--space clipnorm: not in the search space"),
])
def test_bad_overrides_name_the_key(overrides, message):
    from apps.mnist.config import MnistConfig

    with pytest.raises(UsageError) as caught:
        space_module.resolve(registry.APPS["mnist"].space, MnistConfig, overrides)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_read_overrides_takes_a_file_or_inline_json(tmp_path):
    path = tmp_path / "space.json"
    path.write_text('{"units": [64, 128]}')
    assert space_module.read_overrides(str(path)) == {"units": [64, 128]}
    assert space_module.read_overrides('{"units": 8}') == {"units": 8}
    for text, message in [("{units: 8}", "--space is not valid JSON"),
                          (str(tmp_path / "nowhere.json"), "no such file"),
                          ('{"units": 8', "--space is not valid JSON")]:
        with pytest.raises(UsageError, match="--space"):
            space_module.read_overrides(text)
        try:
            space_module.read_overrides(text)
        except UsageError as error:
            assert message in str(error)
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(UsageError, match="JSON object"):
        space_module.read_overrides(str(tmp_path / "list.json"))


def test_declare_gives_keras_tuner_the_same_space():
    import keras_tuner

    resolved, _ = space_module.resolve(
        registry.APPS["mnist"].space, registry.APPS["mnist"].config_class(),
        {"units": 16, "dropout": {"min": 0.0, "max": 0.3, "step": 0.1}})
    hp = keras_tuner.HyperParameters()
    values = {name: space_module.declare(hp, name, d) for name, d in resolved.items()}
    assert values == {name: d.default for name, d in resolved.items()}
    assert values["bidirectional"] is False
    assert set(hp.values) == set(resolved)
    by_name = {p.name: p for p in hp.space}
    assert isinstance(by_name["units"], keras_tuner.engine.hyperparameters.Fixed)
    assert by_name["learning_rate"].sampling == "log"
    assert list(by_name["cell"].values) == ["gru", "lstm", "rnn"]
    # A stepped float comes back as a person wrote it, not 0.30000000000000004.
    hp.values["dropout"] = 0.1 + 0.1 + 0.1
    assert space_module.declare(hp, "dropout", resolved["dropout"]) == 0.3


def test_random_draws_spread_over_the_space():
    """keras-tuner seeds draw k with seed + k, which repeats itself; ours spread."""
    import types

    import keras_tuner

    from tuning import tuners

    resolved, _ = space_module.resolve(registry.APPS["mnist"].space,
                                       registry.APPS["mnist"].config_class())
    oracle = keras_tuner.oracles.RandomSearchOracle(
        objective=keras_tuner.Objective("val_accuracy", "max"), max_trials=20, seed=42)
    hp = keras_tuner.HyperParameters()
    for name, dimension in resolved.items():
        space_module.declare(hp, name, dimension)
    oracle.update_space(hp)
    oracle._random_values = types.MethodType(tuners._spread_random_values, oracle)
    draws = [oracle._random_values() for _ in range(8)]
    # keras-tuner's own draws here: units 32 five times in 8, dropout 0.3 six times.
    for name in ("units", "dropout", "batch_size"):
        counts = collections.Counter(round(d[name], 6) for d in draws)
        assert max(counts.values()) <= 4, (name, counts)
    draws += [oracle._random_values() for _ in range(8)]
    assert {d["units"] for d in draws} == {32, 64, 128, 256}
    assert {round(d["dropout"], 6) for d in draws} == {0.0, 0.1, 0.2, 0.3}
