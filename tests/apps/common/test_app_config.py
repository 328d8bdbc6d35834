"""`app_config`: an app's own defaults for inherited settings, declared once."""

import dataclasses

import pytest

from apps.common.config import CommonConfig, app_config, build_config, setting
from apps.sentiment.config import SentimentConfig


def test_app_defaults_replace_the_common_ones_and_keep_help_and_bounds():
    @app_config(units=7, cell="gru")
    class Mine(CommonConfig):
        extra: int = setting(3, "an app setting", minimum=1)

    config = Mine()
    assert (config.units, config.cell, config.extra) == (7, "gru", 3)
    assert CommonConfig().units == 128  # the base is untouched
    units = {f.name: f for f in dataclasses.fields(Mine)}["units"]
    assert units.metadata == {f.name: f for f in dataclasses.fields(CommonConfig)}["units"].metadata
    # The order of fields (and so of --help and config.json) stays the common one.
    assert [f.name for f in dataclasses.fields(Mine)][:3] == ["cell", "units", "layers"]
    with pytest.raises(Exception, match="--units must be a positive integer, got 0"):
        build_config(Mine, {"units": 0})


def test_an_unknown_or_doubly_declared_default_is_refused():
    with pytest.raises(TypeError, match="'unitz' is not a setting of its base config"):
        @app_config(unitz=3)
        class Typo(CommonConfig):
            pass

    with pytest.raises(TypeError, match="'units' is declared in the class"):
        @app_config(units=3)
        class Twice(CommonConfig):
            units: int = setting(4, "units", minimum=1)


def test_sentiment_defaults_are_its_own():
    config = SentimentConfig()
    assert (config.cell, config.units, config.bidirectional, config.epochs,
            config.learning_rate_schedule) == ("gru", 64, True, 3, "cosine")
