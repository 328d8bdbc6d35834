"""`rnn-suite lm train --backwards`: a language model that reads every document from its end,
generates what comes before a prompt, and (`--freeze-embedding`) shares the embedding of the
forward model it starts from."""

import numpy as np

from app_testutils import read_json, run_cli
from apps.common import model_files, tokens
from apps.lm import data, model as model_module, sampling

from test_lm import TINY, _trained

WORDS = ["", "[UNK]", "[eod]", "the", "movie", "was", "good"]
COUNTING = "one two three four five six seven eight"


def test_a_backward_vocabulary_reverses_the_ids_and_reads_them_back():
    backward = tokens.TokenVocabulary(WORDS, backwards=True)
    ids = backward.encode(["The movie was good"])[0]
    assert ids.tolist() == [6, 5, 4, 3]
    assert backward.decode(ids) == "the movie was good"
    # A backward model's new text comes before the prompt.
    assert backward.join("was good", "the movie", np.array([4, 3])) == "the movie was good"
    assert backward.join("", "the movie", np.array([4, 3])) == "the movie"
    again = tokens.TokenVocabulary.from_config(backward.get_config())
    assert again.backwards and again.encode(["movie the"])[0].tolist() == [3, 4]
    forward = backward.reading(False)
    assert not forward.backwards and forward.encode(["the movie"])[0].tolist() == [3, 4]
    assert forward.reading(False) is forward


def test_the_backward_stream_is_each_document_reversed():
    backward = tokens.TokenVocabulary(WORDS, backwards=True)
    eod = tokens.EOD_ID
    assert data.stream(["the movie", "was good"], backward).tolist() == [
        eod, 4, 3, eod, 6, 5, eod]


def test_a_backward_model_learns_the_word_before_and_writes_it_first():
    model, vocabulary = _trained([COUNTING] * 300, "word", epochs=20, backwards=True)
    assert model_module.vocabulary_of(model).backwards
    # The prompt is read as the end of a document (a forward model reads it as the start).
    (line, text, _), = sampling.continuations(model, "seven eight", max_tokens=10,
                                              temperature=0)
    assert text == "one two three four five six"  # and then the document's start
    assert line == COUNTING


def test_train_backwards_then_generate_and_samples_read_in_order(capsys, in_tmp):
    corpus = in_tmp / "counting.txt"
    corpus.write_text("\n\n".join([COUNTING] * 400), encoding="utf-8")
    status, _, err = run_cli(capsys, "lm", "train", "--text", corpus, "--backwards",
                             "--units", "16", "--embedding-dim", "16", "--window", "20",
                             "--batch-size", "16", "--learning-rate", "0.02", "--epochs", "2",
                             "--sample-prompt", "eight", "--sample-tokens", "3",
                             "--output-dropout", "0", "--run-dir", "runs/lm/backward")
    assert status == 0, err
    run = in_tmp / "runs" / "lm" / "backward"
    assert read_json(run / "config.json")["backwards"] is True
    greedy = [line for line in (run / "samples.txt").read_text().splitlines()
              if line.startswith("greedy:")]
    # The new words first, then the prompt (whether this small model has learned to count
    # down is the test above's question).
    words = greedy[-1].split()[1:]
    assert len(words) == 4 and words[-1] == "eight" and set(words) <= set(COUNTING.split())
    status, out, err = run_cli(capsys, "lm", "generate", "--run", run, "seven eight",
                               "--temperature", "0", "--max-tokens", "2")
    assert status == 0, err
    words = out.strip().splitlines()[-1].split()
    assert len(words) == 4 and words[2:] == ["seven", "eight"]


def test_freeze_embedding_keeps_the_embedding_it_starts_from(capsys, in_tmp):
    status, _, err = run_cli(capsys, "lm", "train", *TINY, "--epochs", "1",
                             "--run-dir", "runs/lm/forward")
    assert status == 0, err
    status, _, err = run_cli(capsys, "lm", "train", *TINY, "--epochs", "1", "--init-from",
                             "runs/lm/forward", "--backwards", "--freeze-embedding",
                             "--run-dir", "runs/lm/backward")
    assert status == 0, err
    forward, backward = (model_files.load_model(in_tmp / "runs" / "lm" / name / "model.keras",
                                                "lm") for name in ("forward", "backward"))
    np.testing.assert_array_equal(backward.get_layer("embedding").get_weights()[0],
                                  forward.get_layer("embedding").get_weights()[0])
    assert not np.allclose(backward.get_layer("recurrent_1").get_weights()[0],
                           forward.get_layer("recurrent_1").get_weights()[0])
    assert model_module.vocabulary_of(backward).vocabulary == \
        model_module.vocabulary_of(forward).vocabulary
    assert model_module.vocabulary_of(backward).backwards


def test_freeze_embedding_needs_a_model_to_start_from(capsys, in_tmp):
    status, out, err = run_cli(capsys, "lm", "train", *TINY, "--freeze-embedding")
    assert status == 2
    assert "--freeze-embedding keeps the embedding" in err and "--init-from" in err
    assert not (in_tmp / "runs").exists()
