"""The language model: it learns what can be learned, samples as asked, saves, resumes, and the
`rnn-suite lm` commands work from a raw prompt."""

import dataclasses

import keras
import numpy as np
import pytest

from app_testutils import killed_and_resumed, read_json, run_cli
from apps.common.errors import UsageError
from apps.common import documents as documents_module
from apps.common import tokens
from apps.lm import data, evaluation, model as model_module, sampling
from apps.lm.config import LMConfig

TINY = ["--dataset", "embedded", "--limit", "300", "--units", "16", "--embedding-dim", "16",
        "--window", "20", "--batch-size", "32", "--learning-rate", "0.01", "--seed", "3"]


def _config(**changes):
    base = LMConfig(units=32, embedding_dim=16, window=20, batch_size=32, learning_rate=0.01,
                    learning_rate_schedule="constant", dropout=0.0, embedding_dropout=0.0,
                    output_dropout=0.0, clipnorm=1.0)
    return dataclasses.replace(base, **changes)


def _trained(documents, kind, epochs, backwards=False, **changes):
    """A small LM fit on `documents` (read from their ends if `backwards`); returns (model,
    vocabulary)."""
    keras.utils.set_random_seed(0)
    config = _config(tokenizer=kind, **changes)
    vocabulary = tokens.build_vocabulary(documents, kind, 100).reading(backwards)
    model = model_module.build_model(config, vocabulary)
    train_data = data.pipeline(data.stream(documents, vocabulary), config.window,
                               config.batch_size, shuffle=True)
    model_module.compile_model(model, config, train_data=train_data)
    model.fit(train_data, epochs=epochs, verbose=0, shuffle=False)
    return model, vocabulary


def test_a_deterministic_cycle_is_learned_to_perplexity_near_one():
    documents = ["abcdefghij" * 40 for _ in range(6)]
    model, vocabulary = _trained(documents, "char", epochs=25)
    held_out = data.stream(["abcdefghij" * 20], vocabulary)
    log_probs = evaluation.token_log_probs(model, held_out, window=20)
    # Only the first letter after the opening [EOD] is not predictable; it is 1 of 201 tokens.
    assert evaluation.perplexity(log_probs[1:-1]) < 1.1


def test_uniformly_random_tokens_stay_near_the_vocabulary_size():
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(20)]
    documents = [" ".join(rng.choice(words, 300)) for _ in range(8)]
    model, vocabulary = _trained(documents, "word", epochs=6)
    held_out = data.stream([" ".join(rng.choice(words, 600))], vocabulary)
    value = evaluation.perplexity(evaluation.token_log_probs(model, held_out, window=20))
    assert 18 < value < 24, value  # 20 equally likely words: nothing to learn beyond them


def test_perplexity_of_a_short_stream_is_the_teacher_forced_one():
    vocabulary = tokens.build_vocabulary(["a b c d e f"], "word", 20)
    model = model_module.build_model(_config(), vocabulary)
    ids = data.stream(["a b c d e f a b"], vocabulary)
    logits = np.asarray(model(ids[None, :-1]))[0]
    log_softmax = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    expected = log_softmax[np.arange(len(ids) - 1), ids[1:]]
    np.testing.assert_allclose(evaluation.token_log_probs(model, ids, window=20), expected,
                               rtol=1e-5, atol=1e-5)


def test_long_streams_score_every_token_once_with_context():
    vocabulary = tokens.build_vocabulary(["a b c d e f"], "word", 20)
    model = model_module.build_model(_config(), vocabulary)
    ids = np.random.default_rng(1).integers(3, vocabulary.size, 203).astype(np.int32)
    scored = evaluation.token_log_probs(model, ids, window=16, batch_size=5)
    assert scored.shape == (202,) and np.all(np.isfinite(scored)) and np.all(scored < 0)
    # Token 100 is scored in the window that starts 8 tokens apart before it, or later.
    start = 88
    logits = np.asarray(model(ids[None, start:start + 16]))[0]
    log_softmax = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    np.testing.assert_allclose(scored[100], log_softmax[100 - start, ids[101]], atol=1e-5)


def test_greedy_generation_is_the_argmax_of_the_teacher_forced_logits():
    documents = data.generated_reviews(200)
    model, vocabulary = _trained(documents, "word", epochs=1)
    (text, new), = sampling.generate(model, vocabulary, "the movie", max_tokens=12,
                                     temperature=0)
    sequence = np.concatenate([sampling.prompt_ids(vocabulary, "the movie"), new])
    logits = np.asarray(model(sequence[None]))[0]
    prompt_length = len(sequence) - len(new)
    np.testing.assert_array_equal(np.argmax(logits[prompt_length - 1:-1], -1), new)
    if len(new) < 12:  # it stopped: the next most likely token ends the document
        assert np.argmax(logits[-1]) == tokens.EOD_ID
    assert text == vocabulary.decode(new)


def test_top_k_and_top_p_never_leave_their_set():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2000, 30))
    chosen = sampling.choose(logits, rng, temperature=1.5, top_k=3)
    top3 = np.argsort(-logits, axis=-1)[:, :3]
    assert all(c in row for c, row in zip(chosen, top3))
    probabilities = np.log(np.array([[0.5, 0.3, 0.15, 0.05]] * 500))
    chosen = sampling.choose(probabilities, rng, top_p=0.7)
    assert set(chosen) == {0, 1}  # 0.5 < 0.7 <= 0.8: the two most likely tokens


def test_the_same_seed_gives_the_same_samples():
    vocabulary = tokens.build_vocabulary(data.generated_reviews(50), "word", 60)
    model = model_module.build_model(_config(), vocabulary)
    kwargs = dict(max_tokens=15, temperature=1.0, num_samples=3)
    first = sampling.generate(model, vocabulary, "the plot", seed=7, **kwargs)
    again = sampling.generate(model, vocabulary, "the plot", seed=7, **kwargs)
    other = sampling.generate(model, vocabulary, "the plot", seed=8, **kwargs)
    assert [t for t, _ in first] == [t for t, _ in again]
    assert [t for t, _ in first] != [t for t, _ in other]


def test_a_prompt_of_only_unknown_characters_is_refused():
    vocabulary = tokens.build_vocabulary(["abc abc"], "char", 20)
    with pytest.raises(UsageError, match="has no character the model knows"):
        sampling.prompt_ids(vocabulary, "\u4f60\u597d")
    assert list(sampling.prompt_ids(vocabulary, "")) == [tokens.EOD_ID]


def test_tied_weights_and_the_saved_model(tmp_path):
    vocabulary = tokens.build_vocabulary(data.generated_reviews(50), "word", 60)
    model = model_module.build_model(_config(units=24, embedding_dim=16), vocabulary)
    names = [w.path for w in model.weights]
    assert sum("embeddings" in n for n in names) == 1 and not any("logits" in n for n in names)
    ids = data.stream(["the movie was great"], vocabulary)[None]
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(np.asarray(loaded(ids)), np.asarray(model(ids)), atol=1e-6)
    assert model_module.vocabulary_of(loaded).vocabulary == vocabulary.vocabulary


def test_word_vocabulary_is_a_sentiment_vocabulary():
    vocabulary = tokens.build_vocabulary(["It's GREAT!<br />Really great."], "word", 10)
    assert vocabulary.vocabulary == ["", "[UNK]", "[eod]", "great", "its", "really"]
    assert [list(ids) for ids in vocabulary.encode(["great unseen"])] == [[3, tokens.UNK_ID]]


def test_documents_from_a_file_folder_and_archive(tmp_path):
    import tarfile

    (tmp_path / "one.txt").write_text("first part\n\nsecond part\n\nthird part\n")
    documents, _ = documents_module.read_documents(tmp_path / "one.txt")
    assert documents == ["first part", "second part", "third part\n"]
    folder = tmp_path / "docs"
    folder.mkdir()
    for i in range(3):
        (folder / f"{i}.txt").write_text(f"document {i}")
    assert documents_module.read_documents(folder)[0] == ["document 0", "document 1", "document 2"]
    with tarfile.open(tmp_path / "docs.tar.gz", "w:gz") as archive:
        archive.add(folder, arcname="docs")
    assert documents_module.read_documents(tmp_path / "docs.tar.gz")[0] == ["document 0", "document 1",
                                                                "document 2"]


def test_train_generate_evaluate_from_the_command_line(capsys, in_tmp):
    status, out, err = run_cli(capsys, "lm", "train", *TINY, "--epochs", "2")
    assert status == 0, err
    (run,) = list((in_tmp / "runs" / "lm").iterdir())
    for name in ["config.json", "model.keras", "history.csv", "metrics.json", "samples.txt",
                 "learning_curves.png"]:
        assert (run / name).is_file(), name
    metrics = read_json(run / "metrics.json")
    from apps.common import plots

    history = plots.read_history(run / "history.csv")
    assert history["loss"][-1] < history["loss"][0]
    assert 1 < metrics["test_perplexity"] < metrics["vocabulary_size"]
    assert metrics["peer"]["test_perplexity"] > 1
    samples = (run / "samples.txt").read_text()
    assert samples.count("== epoch 1 ") == 1 and samples.count("== epoch 2 ") == 1
    capsys.readouterr()
    status, out, err = run_cli(capsys, "lm", "generate", "--run", run, "the acting",
                               "--num-samples", "2", "--seed", "5", "--max-tokens", "8")
    assert status == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith("the acting") for line in lines)
    status, again, _ = run_cli(capsys, "lm", "generate", "--run", run, "the acting",
                               "--num-samples", "2", "--seed", "5", "--max-tokens", "8")
    assert again == out
    status, out, err = run_cli(capsys, "lm", "evaluate", "--run", run)
    assert status == 0, err
    report = read_json(run / "evaluation.json")
    assert report["test_perplexity"] == pytest.approx(metrics["test_perplexity"], rel=1e-4)
    assert report["peer"]["test_perplexity"] == pytest.approx(
        metrics["peer"]["test_perplexity"], rel=1e-6)


@pytest.mark.parametrize("softmax", [[], ["--softmax", "sampled", "--sampled-tokens", "30"]],
                         ids=["full-softmax", "sampled-softmax"])
def test_a_killed_run_resumes(capsys, in_tmp, softmax):
    # Sampled softmax trains a wrapper around the LM: its backup must restore into it.
    run, metrics = killed_and_resumed(capsys, ["lm", "train", *TINY, "--epochs", "3", *softmax],
                                      in_tmp, epochs=3)
    assert metrics["epochs_done"] == 3
    samples = (run / "samples.txt").read_text()
    assert [samples.count(f"== epoch {n} ") for n in (1, 2, 3)] == [1, 1, 1]


def test_init_from_starts_from_the_language_model_and_fine_tunes_it(capsys, in_tmp):
    status, _, err = run_cli(capsys, "lm", "train", *TINY, "--epochs", "1",
                             "--run-dir", "runs/lm/general")
    assert status == 0, err
    general = in_tmp / "runs" / "lm" / "general"
    task = in_tmp / "task.txt"
    task.write_text("\n\n".join(["the ending was awful . skip it"] * 600), encoding="utf-8")
    # The builder the run uses: the general model's vocabulary and weights, exactly,
    # whatever other sizes the flags ask for.
    from apps.common import model_files
    from apps.lm import train as lm_train

    config = dataclasses.replace(LMConfig(), text=str(task), init_from=str(general), units=99,
                                 tokenizer="char", vocab_size=50)
    setup = lm_train.build_training(config, lm_train.load_data(config))
    start = model_files.load_model(general / "model.keras", "lm")
    assert model_module.vocabulary_of(setup.model).vocabulary == \
        model_module.vocabulary_of(start).vocabulary
    for built, loaded in zip(setup.model.weights, start.weights):
        np.testing.assert_array_equal(np.asarray(built), np.asarray(loaded))

    status, _, err = run_cli(capsys, "lm", "train", *TINY, "--text", str(task), "--dataset",
                             "auto", "--init-from", str(general), "--units", "64",
                             "--epochs", "3", "--run-dir", "runs/lm/task")
    assert status == 0, err
    tuned = in_tmp / "runs" / "lm" / "task"
    assert read_json(tuned / "config.json")["units"] == 16  # the general model's
    capsys.readouterr()
    perplexity = {}
    for run in (general, tuned):
        status, _, err = run_cli(capsys, "lm", "evaluate", "--run", run, "--text", str(task),
                                 "--no-peer")
        assert status == 0, err
        perplexity[run.name] = read_json(run / "evaluation.json")["test_perplexity"]
    assert perplexity["task"] < perplexity["general"] / 2, perplexity
