"""Translation training writes a complete run folder; the loss goes down; the model takes raw strings."""

import csv
import json

import numpy as np
import pytest
from app_testutils import read_json
from translation_testutils import DATASET, SENTENCE, TINY

from apps import cli
from apps.common import plots

RUN_FILES = ["config.json", "model.keras", "history.csv", "metrics.json",
             "learning_curves.png", "attention_1.png", "test_translations.tsv"]


def test_run_folder_has_every_file(translation_run):
    for name in RUN_FILES:
        assert (translation_run / name).is_file(), name
        assert (translation_run / name).stat().st_size > 0, name
    assert not (translation_run / "backup").exists()
    assert not (translation_run / "train.lock").exists()


def test_loss_goes_down(translation_run):
    history = plots.read_history(translation_run / "history.csv")
    assert list(history["epoch"]) == [0, 1, 2]
    assert history["loss"][-1] < history["loss"][0]
    assert history["val_loss"][-1] < history["val_loss"][0]


def test_metrics_say_what_was_measured(translation_run):
    metrics = read_json(translation_run / "metrics.json")
    assert metrics["dataset"] == DATASET
    assert metrics["test_sentences"] == 40
    for key in ("bleu_greedy", "bleu_beam", "chrf_greedy", "chrf_beam"):
        assert 0.0 <= metrics[key] <= 100.0, key
    assert "tok:13a" in metrics["bleu_signature"]
    assert metrics["sentences_per_second_greedy"] > 0
    assert metrics["sentences_per_second_beam"] > 0
    assert metrics["epochs_done"] == 3
    lines = (translation_run / "test_translations.tsv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "source\treference\tgreedy\tbeam"
    assert len(lines) == 41
    assert all(len(line.split("\t")) == 4 for line in lines)


def test_saved_model_takes_raw_strings(translation_run, translator):
    results = translator.translate([SENTENCE, "", "ñandú ☕ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 zzqx"], beam_size=2)
    assert isinstance(results[0]["translation"], str)
    assert results[1]["translation"] == ""  # empty in, empty out
    assert "[UNK]" not in results[2]["source_words"]
    # Subwords (the default): words never seen in training are spelled from pieces
    # (bytes at worst), never [UNK] (id 1), and the pieces spell the text back.
    assert translator.subword
    ids = translator.source_ids(["ñandú ☕ zzqx"]).numpy()[0]
    assert ids.size and (ids > 1).all()
    assert translator.parts.source_vectorizer.detokenize([ids]) == ["ñandú ☕ zzqx"]
    target_tokens = int(np.sum(translator.parts.target_vectorizer(["a b"]).numpy() > 0))
    logits = translator.model.predict(
        {"source": np.array([SENTENCE], dtype=object),
         "target": np.array(["a b"], dtype=object)}, verbose=0)
    assert logits.shape[:2] == (1, target_tokens + 1)  # [START] a b -> a b [END]


def test_greedy_and_beam_of_one_agree(translator):
    from translation_testutils import OTHER_SENTENCES

    sentences = [SENTENCE, *OTHER_SENTENCES]
    greedy = translator.search_ids(sentences, beam_size=None, max_output_length=12)
    beam = translator.search_ids(sentences, beam_size=1, max_output_length=12)
    width = max(greedy["tokens"].shape[1], beam["tokens"].shape[1])
    pad = lambda t: np.pad(t, [(0, 0), (0, width - t.shape[1])])  # noqa: E731
    np.testing.assert_array_equal(pad(greedy["tokens"]), pad(beam["tokens"][:, 0]))
    np.testing.assert_allclose(greedy["log_prob"], beam["log_prob"][:, 0], rtol=1e-5, atol=1e-5)


def test_beam_hypotheses_are_ordered_and_scored_by_the_model(translator):
    from translation_testutils import OTHER_SENTENCES

    sentences = [SENTENCE, *OTHER_SENTENCES]
    alpha = 0.7
    found = translator.search_ids(sentences, beam_size=4, max_output_length=12,
                                  length_alpha=alpha)
    scores = found["scores"]
    assert (np.diff(scores, axis=1) <= 1e-6).all()  # best first
    np.testing.assert_allclose(
        scores, found["log_prob"] / np.maximum(found["lengths"], 1) ** alpha, rtol=1e-5)
    for row, sentence in enumerate(sentences):
        sequences = [found["tokens"][row, k, :found["lengths"][row, k]] for k in range(4)]
        recomputed = translator.log_prob([sentence] * 4, sequences)
        np.testing.assert_allclose(recomputed, found["log_prob"][row], rtol=1e-4, atol=1e-4)


def test_attention_rows_sum_to_one_over_real_source_words(translator):
    from translation_testutils import OTHER_SENTENCES

    sentences = [SENTENCE, *OTHER_SENTENCES]
    search = translator.compiled(None, 1.0, with_attention=True)
    ids = translator.source_ids(sentences)
    found = search(ids, np.int32(8))
    attention = found["attention"].numpy()  # [B, T, S]
    real = ids.numpy() != 0
    lengths = found["lengths"].numpy()
    for b in range(len(sentences)):
        rows = attention[b, :lengths[b]]
        np.testing.assert_allclose(rows[:, real[b]].sum(axis=1), 1.0, rtol=1e-5)
        assert np.all(rows[:, ~real[b]] == 0.0)


def test_pipeline_knows_how_many_batches_an_epoch_has(translation_run):
    """Bucketed by length, the epoch still has a known length (the cosine schedule needs it)."""
    import keras

    from apps.translation import data

    model = keras.models.load_model(translation_run / "model.keras")
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 40, size=203)
    sources = [" ".join(["ba"] * int(n)) for n in lengths]
    targets = [" ".join(["ko"] * int(n)) for n in rng.permutation(lengths)]
    for batch_size, shuffle in ((8, True), (64, False), (500, True)):
        dataset = data.pipeline(model, sources, targets, batch_size, shuffle=shuffle, seed=1)
        counted = sum(1 for _ in dataset)
        assert int(dataset.cardinality()) == counted, (batch_size, shuffle)


def test_best_by_bleu_keeps_the_epoch_with_the_best_validation_bleu(tmp_path):
    run = tmp_path / "run"
    assert cli.main(["translation", "train", *TINY, "--epochs", "2", "--best-by", "bleu",
                     "--run-dir", str(run)]) == 0
    with open(run / "history.csv", encoding="utf-8") as handle:
        scores = [float(row["val_bleu"]) for row in csv.DictReader(handle)]
    assert len(scores) == 2 and all(0.0 <= s <= 100.0 for s in scores)
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["best_val_bleu"] == pytest.approx(max(scores))
