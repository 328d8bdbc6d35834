"""A word language model's embedding and recurrent layers as the start of a classifier.

ULMFiT-style transfer (Howard & Ruder 2018; Dai & Le 2015): `rnn-suite sentiment train
--encoder-from LM_RUN` builds the classifier with the language model's vocabulary,
embedding size, cell, units and layers, then copies its embedding matrix and
recurrent weights exactly. A bidirectional classifier gets the forward language
model in its forward half; the backward half starts fresh, or, with
`--backward-encoder-from`, from a backward language model that shares the forward
one's vocabulary and embedding (trained with `rnn-suite lm train --init-from
FORWARD --backwards --freeze-embedding`), since the classifier has one embedding
for both halves. ULMFiT instead fine-tunes a classifier on each of its two LMs and
averages them: twice the classifier training.
"""

import dataclasses
import json
from pathlib import Path

from apps.common import run_dir as run_dir_module
from apps.common.errors import UsageError

ARCHITECTURE = ("cell", "units", "layers", "embedding_dim")
LM_APP = "lm"


def read_settings(run, flag="--encoder-from", words_only=True):
    """The settings of a language model run (its config.json), checked.

    Args:
        run: The run folder (or its model.keras).
        flag: The flag that named it, for messages.
        words_only: Refuse a model of characters or subwords (a classifier of words
            can only start from a word model).

    Raises:
        UsageError: If `run` is not a run of `rnn-suite lm train`, or (`words_only`) not a
            word model.
    """
    if not Path(run).exists():
        raise UsageError(f"{flag} {run} does not exist (expected the run folder of "
                         "`rnn-suite lm train`)")
    path = run_dir_module.find_model(LM_APP, run, flag)
    config_file = path.parent / run_dir_module.CONFIG_FILE
    try:
        settings = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        settings = None
    if not isinstance(settings, dict) or not {"tokenizer", "window", *ARCHITECTURE} <= set(
            settings):
        raise UsageError(f"{flag} {run} is not a run of `rnn-suite lm train` (its "
                         f"{run_dir_module.CONFIG_FILE} has no language-model settings)")
    try:  # the vocabulary's real size (a small corpus may hold fewer words than asked)
        metrics = json.loads((path.parent / run_dir_module.METRICS_FILE).read_text())
        settings["vocabulary_size"] = int(metrics["vocabulary_size"])
    except (OSError, ValueError, KeyError, TypeError):
        settings["vocabulary_size"] = int(settings.get("vocab_size", 0))
    if words_only and settings["tokenizer"] != "word":
        raise UsageError(f"{flag} {run} is a {settings['tokenizer']} language model; "
                         "a classifier of words needs one trained with --tokenizer word")
    return settings


def _backward_recipe(forward_run):
    return (f"train it with `rnn-suite lm train --init-from {forward_run} --backwards "
            "--freeze-embedding`")


def check_backward_settings(forward, backward, forward_run, backward_run,
                            flag="--backward-encoder-from"):
    """Refuse a backward language model whose settings cannot fill the backward half.

    Args:
        forward, backward: The two runs' settings, from `read_settings`.
        forward_run, backward_run: Their folders, for messages.

    Raises:
        UsageError: If the backward model reads forwards, or the two models' architectures
            or vocabulary sizes differ.
    """
    if not backward.get("backwards"):
        raise UsageError(f"{flag} {backward_run} reads forwards; "
                         f"{_backward_recipe(forward_run)}")
    for name in (*ARCHITECTURE, "vocabulary_size"):
        if forward[name] != backward[name]:
            raise UsageError(f"{flag} {backward_run} has {name} {backward[name]}, the forward "
                             f"language model {forward[name]}: the two halves share one "
                             f"embedding and one shape; {_backward_recipe(forward_run)}")


def load_pair(forward_run, backward_run, flag="--backward-encoder-from"):
    """(forward model, backward model, vocabulary) of two runs that share their vocabulary and
    embedding exactly (the settings checked first by `check_backward_settings`).

    Raises:
        UsageError: If the vocabularies or the embedding matrices differ.
    """
    import numpy as np

    forward, vocabulary = load(forward_run)
    backward, backward_vocabulary = load(backward_run)
    if backward_vocabulary != vocabulary:
        raise UsageError(f"{flag} {backward_run} has another vocabulary than --encoder-from "
                         f"{forward_run}; {_backward_recipe(forward_run)}")
    if not np.array_equal(backward.get_layer("embedding").embeddings.numpy(),
                          forward.get_layer("embedding").embeddings.numpy()):
        raise UsageError(f"{flag} {backward_run} has another embedding than --encoder-from "
                         f"{forward_run} (the classifier's two halves read one); "
                         f"{_backward_recipe(forward_run)}")
    return forward, backward, vocabulary


def adopt(config, settings):
    """`config` with the language model's architecture (it must match to copy the weights)."""
    return dataclasses.replace(config, **{name: settings[name] for name in ARCHITECTURE})


def load(run):
    """(the language model, its vocabulary as a list of words) of a run `read_settings` accepted."""
    from apps.common import model_files, reversible_embedding, tokens  # noqa: F401 - registers

    model = model_files.load_model(run_dir_module.find_model(LM_APP, run), LM_APP)
    vocabulary = next(layer for layer in model.layers
                      if isinstance(layer, tokens.TokenVocabulary))
    return model, list(vocabulary.vocabulary)


def copy_encoder(classifier, language_model, layers, backward_model=None):
    """Set the classifier's `embedding` and `recurrent_1..layers` to the language model's weights.

    A `Bidirectional` recurrent layer gets the weights in its forward half, and
    `backward_model`'s (a backward language model with the same embedding) in its
    backward half.
    """
    import layers as rnn_layers

    embeddings = language_model.get_layer("embedding").embeddings
    classifier.get_layer("embedding").set_weights([embeddings.numpy()])
    for index in range(1, layers + 1):
        name = f"recurrent_{index}"
        target = classifier.get_layer(name)
        if isinstance(target, rnn_layers.Bidirectional):
            if backward_model is not None:
                target.backward_layer.set_weights(backward_model.get_layer(name).get_weights())
            target = target.forward_layer
        target.set_weights(language_model.get_layer(name).get_weights())
