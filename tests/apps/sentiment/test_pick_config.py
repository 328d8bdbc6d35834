"""The tuned pick shipped as `benchmarks/configs/sentiment-pick.json` is a valid config."""

from pathlib import Path

from apps.common.config import build_config
from apps.sentiment.config import SentimentConfig

PICK = Path(__file__).resolve().parents[3] / "benchmarks" / "configs" / "sentiment-pick.json"


def test_the_pick_builds_the_documented_classifier():
    # docs/sentiment.md's rows run `--config` on this file; a renamed setting would make
    # every documented command fail, so the file is read the way the CLI reads it.
    config = build_config(SentimentConfig, {}, PICK)
    assert (config.cell, config.units, config.bidirectional) == ("gru", 256, True)
    assert (config.pooling, config.max_length, config.vocab_size) == ("max", 800, 12000)
    assert config.validation_split == "movie"
    assert config.learning_rate == 0.003 and config.epochs == 3


def test_flags_override_the_pick():
    config = build_config(SentimentConfig, {"epochs": 2, "adversarial": 0.5}, PICK)
    assert config.epochs == 2 and config.adversarial == 0.5
