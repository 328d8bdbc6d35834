"""`rnn-suite sentiment train|evaluate|predict` end to end, and every bad input."""

import csv

import keras
import numpy as np
import pytest
import tensorflow as tf
from app_testutils import read_json, run_cli
from sentiment_testutils import (MIRROR, MODEL_FLAGS, generated_csv, generated_reviews,
                                 write_csv)

from apps.sentiment import evaluation, model as model_module

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def test_training_writes_a_complete_run_and_the_loss_goes_down(sentiment_run):
    for name in ("config.json", "model.keras", "history.csv", "metrics.json",
                 "learning_curves.png", "confusion_matrix.png", "reliability.png",
                 "test_predictions.csv"):
        assert (sentiment_run / name).is_file(), name
    assert not (sentiment_run / "train.lock").exists()
    with open(sentiment_run / "history.csv", newline="") as handle:
        losses = [float(row["loss"]) for row in csv.DictReader(handle)]
    assert len(losses) == 3 and losses[-1] < losses[0]
    metrics = read_json(sentiment_run / "metrics.json")
    assert metrics["dataset"] == ("imdb" if MIRROR else "csv")
    assert metrics["epochs_done"] == 3
    for key in ("test_accuracy", "test_f1", "test_roc_auc", "test_ece", "temperature"):
        assert np.isfinite(metrics[key]), key
    config = read_json(sentiment_run / "config.json")
    assert (config["vocab_size"], config["pooling"]) == (800, "attention")
    if not MIRROR:  # the generated corpus is easy: the model must have learnt it
        assert metrics["test_accuracy"] > 0.8
    labels, probabilities = evaluation.read_predictions(sentiment_run / "test_predictions.csv")
    assert len(labels) == metrics["test_examples"]
    assert ((probabilities >= 0.5) == labels).mean() == pytest.approx(metrics["test_accuracy"])
    assert np.array(metrics["confusion_matrix"]).sum(axis=1).tolist() == np.bincount(
        labels, minlength=2).tolist()


def test_saved_model_loads_in_a_plain_keras_session_and_takes_raw_strings(sentiment_run):
    model = keras.models.load_model(sentiment_run / "model.keras")  # safe_mode on
    probabilities = np.asarray(model(tf.constant(["A wonderful film.", "A dull waste."])))
    assert probabilities.shape == (2, 1)
    assert np.all((probabilities > 0) & (probabilities < 1))


def test_predict_prints_label_and_probability(sentiment_run, capsys):
    status, out, err = run_cli(capsys, "sentiment", "predict", "--run", sentiment_run,
                               "This movie was a waste of time", "Great, wonderful, moving!")
    assert status == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 2
    for line, text in zip(lines, ["This movie was a waste of time", "Great, wonderful"]):
        label, probability, shown = line.split("\t")
        assert label in ("negative", "positive", "neg", "pos")
        assert 0.0 <= float(probability.split("=")[1]) <= 1.0
        assert shown.startswith(text)


def test_predict_explain_lists_the_weighted_words(sentiment_run, capsys, tmp_path):
    reviews = tmp_path / "reviews.txt"
    reviews.write_text("The plot was dull.\n\nA brilliant film!\n", encoding="utf-8")
    status, out, err = run_cli(capsys, "sentiment", "predict", "--run", sentiment_run,
                               "--file", reviews, "--explain", "--top", "3")
    assert status == 0, err
    lines = out.split("\n")[:-1]
    assert len(lines) == 3  # one a line of the file, the blank one too
    assert lines[1] == "-\t-\t(empty line)\t-"
    columns = lines[0].split("\t")
    assert len(columns) == 4 and columns[3].startswith("words: ")
    words = [part.split()[0] for part in columns[3][len("words: "):].split(", ")]
    assert len(words) == 3 and set(words) <= {"the", "plot", "was", "dull"}
    assert lines[2].split("\t")[2] == "A brilliant film!"


def test_predict_file_gives_one_line_per_input_line(sentiment_run, capsys, tmp_path):
    reviews = tmp_path / "reviews.txt"
    lines = ["A brilliant film, I loved it.", "", "Dull\u0085and boring, a waste.", "   ",
             "Great\u2028acting, moving story.", "?!... ;-)", "Awful plot.\r", "\u2029",
             "The last line has no line end"]
    reviews.write_bytes("\n".join(lines).encode("utf-8"))
    status, out, err = run_cli(capsys, "sentiment", "predict", "--run", sentiment_run,
                               "--file", reviews)
    assert status == 0, err
    assert out.endswith("\n")
    printed = out.split("\n")[:-1]
    assert printed == out.splitlines()  # no stray line breaks inside a line
    assert len(printed) == len(lines)
    placeholders = {2: "(empty line)", 4: "(empty line)", 6: "(no words: '?!... ;-)')",
                    8: "(empty line)"}
    for number, (line, text) in enumerate(zip(printed, lines), 1):
        label, probability, shown = line.split("\t")
        if number in placeholders:
            assert (label, probability, shown) == ("-", "-", placeholders[number])
        else:
            assert label in ("negative", "positive", "neg", "pos")
            assert shown == " ".join(text.split())  # the text's own line, on one line
    assert "line(s) 2, 4, 6, 8 have no words" in err
    assert len(err.strip().splitlines()) == 1


def test_evaluate_writes_metrics_pictures_and_explanations(sentiment_run, capsys, tmp_path):
    out_dir = tmp_path / "eval"
    status, out, err = run_cli(capsys, "sentiment", "evaluate", "--run", sentiment_run,
                               "--explain", "--limit", "60", "--output", out_dir)
    assert status == 0, err
    report = read_json(out_dir / "evaluation.json")
    assert report["test_examples"] == 60
    assert sum(map(sum, report["confusion_matrix"])) == 60
    for key in ("test_accuracy", "test_precision", "test_recall", "test_f1", "test_roc_auc",
                "test_ece"):
        assert 0.0 <= report[key] <= 1.0, key
    assert (out_dir / "reliability.png").is_file() and (out_dir / "confusion_matrix.png").is_file()
    labels, probabilities = evaluation.read_predictions(out_dir / "test_predictions.csv")
    assert len(labels) == 60 and ((probabilities >= 0.5) == labels).mean() == pytest.approx(
        report["test_accuracy"])
    pages = sorted((out_dir / "explain").glob("*.html"))
    assert pages and len(pages) == len(report["explanations"]) <= 8
    page = pages[0].read_text(encoding="utf-8")
    assert "<span" in page and "background:rgb(" in page and "Prediction:" in page


def test_evaluate_on_every_row_of_your_own_csv(sentiment_run, capsys, tmp_path):
    texts, labels = generated_reviews(50, seed=5)  # neg/pos: a spelling of any polar run's classes
    path = write_csv(tmp_path / "held_out.csv", texts, labels, text_col="comment",
                     label_col="verdict")
    out_dir = tmp_path / "eval"
    status, out, err = run_cli(capsys, "sentiment", "evaluate", "--run", sentiment_run,
                               "--csv", path, "--text-col", "comment", "--label-col", "verdict",
                               "--output", out_dir)
    assert status == 0, err
    assert "50 held_out.csv reviews" in out
    report = read_json(out_dir / "evaluation.json")
    assert report["test_examples"] == 50 and report["dataset"] == "csv"
    assert report["test_data"]["files"] == {"csv": str(path.resolve())}
    assert report["test_data"]["settings"] == {"text_col": "comment", "label_col": "verdict"}
    assert (out_dir / "confusion_matrix.png").is_file()
    # The same texts through predict: its labels give the same accuracy.
    (tmp_path / "texts.txt").write_text("\n".join(texts) + "\n", encoding="utf-8")
    status, out, err = run_cli(capsys, "sentiment", "predict", "--run", sentiment_run,
                               "--file", tmp_path / "texts.txt")
    assert status == 0, err
    predicted = [line.split("\t")[0] for line in out.strip().splitlines()]
    assert len(predicted) == 50
    names = report["class_names"]
    truth = [1 if label == "pos" else 0 for label in labels]
    accuracy = np.mean([names.index(p) == t for p, t in zip(predicted, truth)])
    assert report["test_accuracy"] == pytest.approx(accuracy, abs=1e-12)


def test_evaluate_csv_columns_default_to_the_runs(sentiment_run, capsys, tmp_path):
    saved = read_json(sentiment_run / "config.json")
    texts, labels = generated_reviews(12, seed=6)
    path = write_csv(tmp_path / "mine.csv", texts, labels, text_col=saved["text_col"],
                     label_col=saved["label_col"])
    status, out, err = run_cli(capsys, "sentiment", "evaluate", "--run", sentiment_run,
                               "--csv", path, "--output", tmp_path / "eval", "--limit", "10")
    assert status == 0, err
    assert read_json(tmp_path / "eval" / "evaluation.json")["test_examples"] == 10


def test_evaluate_csv_whose_labels_are_not_the_runs_classes(sentiment_run, capsys, tmp_path):
    texts, _ = generated_reviews(12, seed=6)
    path = write_csv(tmp_path / "mine.csv", texts, ["meh", "wow"] * 6, text_col="text",
                     label_col="label")
    status, out, err = run_cli(capsys, "sentiment", "evaluate", "--run", sentiment_run,
                               "--csv", path, "--text-col", "text", "--label-col", "label",
                               "--output", tmp_path / "eval")
    assert status == 2
    assert len(err.strip().splitlines()) == 1
    assert "column 'label' holds 'meh', 'wow', not the run's classes" in err
    assert not (tmp_path / "eval").exists()


def test_csv_training_and_its_class_names(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = generated_csv(tmp_path / "mine.csv", count=200)
    status, out, err = run_cli(capsys, "sentiment", "train", "--csv", path, "--text-col",
                               "review", "--label-col", "sentiment", *MODEL_FLAGS,
                               "--epochs", "1", "--pooling", "last", "--no-bidirectional",
                               "--cell", "lstm")
    assert status == 0, err
    run = next((tmp_path / "runs" / "sentiment").iterdir())
    metrics = read_json(run / "metrics.json")
    assert metrics["dataset"] == "csv" and metrics["test_examples"] == 40
    assert model_module.class_names(keras.models.load_model(run / "model.keras")) == ("neg", "pos")
    status, out, err = run_cli(capsys, "sentiment", "predict", "great film")  # --run latest
    assert status == 0 and out.split("\t")[0] in ("neg", "pos")
    # evaluate finds the CSV through the run's config.json
    status, out, err = run_cli(capsys, "sentiment", "evaluate", "--run", run)
    assert status == 0 and "40 csv test reviews" in out
    # a last-state model has no attention weights to show
    status, out, err = run_cli(capsys, "sentiment", "predict", "--explain", "great")
    assert status == 2 and "attention pooling" in err


def _tree(path):
    return sorted(p.relative_to(path) for p in path.rglob("*"))


@pytest.mark.parametrize("reviews,file_bytes,message", [
    ([""], None, "review 1 is empty"),
    (["good", "   "], None, "review 2 is empty"),
    (["?!... ;-)"], None, "review 1 has no words, only punctuation"),
    (["bad \udcff bytes"], None, "review 1 is not valid UTF-8"),  # as Python decodes argv
    (["good"], b"good film\n", "either as arguments or with --file"),
    ([], b"good film\nbad \xff\xfe film\n", "not valid UTF-8: line 2 has the byte 0xff"),
    ([], b"\n\n", "has no reviews"),
    ([], b"", "has no reviews"),
    ([], b" \n!!!\r\n\n", "has no reviews"),
    ([], None, "no reviews to classify"),
])
def test_bad_predict_input_is_one_line_exit_2(sentiment_run, capsys, tmp_path, reviews,
                                              file_bytes, message):
    before = _tree(sentiment_run)
    args = ["sentiment", "predict", "--run", sentiment_run, *reviews]
    if file_bytes is not None:
        (tmp_path / "reviews.txt").write_bytes(file_bytes)
        args += ["--file", tmp_path / "reviews.txt"]
    status, out, err = run_cli(capsys, *args)
    assert status == 2
    assert message in err and len(err.strip().splitlines()) == 1
    assert _tree(sentiment_run) == before


@pytest.mark.parametrize("content,message", [
    ("id,body,label\n1,good,1\n", "no column 'text'"),
    ("text,label\n" + "".join(f"review {i},{i % 3}\n" for i in range(30)),
     "exactly two classes, found 3"),
])
def test_bad_csv_for_training_writes_nothing(tmp_path, capsys, monkeypatch, content, message):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "bad.csv"
    path.write_text(content, encoding="utf-8")
    status, out, err = run_cli(capsys, "sentiment", "train", "--csv", path, *MODEL_FLAGS)
    assert status == 2
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists()


def test_bad_flags_and_missing_runs_are_one_line_errors(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for args, message in [
        (["train", "--pooling", "mean"], "invalid choice: 'mean'"),
        (["train", "--max-length", "0"], "--max-length must be a positive integer"),
        (["predict", "--run", tmp_path / "nowhere", "good"], "does not exist"),
        (["evaluate"], "no trained run under runs/sentiment"),
        (["train", "--csv", "x.csv", "--source", "files"], "name two different datasets"),
        (["train", "--jit"], "--jit is not available"),
    ]:
        status, out, err = run_cli(capsys, "sentiment", *args)
        assert status == 2, args
        assert message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "runs").exists()


def test_help_lists_the_sentiment_flags(capsys):
    status, out, err = run_cli(capsys, "sentiment", "train", "--help")
    assert status == 0
    for flag in ("--vocab-size", "--max-length", "--embedding-dim", "--pooling", "--csv",
                 "--text-col", "--label-col", "--cell", "--bidirectional", "--config"):
        assert flag in out



def test_test_predictions_file_keeps_every_decision(tmp_path):
    # Just below 0.5 in float32: six decimals would print 0.500000 and flip the decision.
    probabilities = np.array([0.49999997, 0.5, 0.9, 1e-8], np.float32)
    evaluation.write_predictions(tmp_path / "p.csv", [1, 0, 1, 0], probabilities)
    labels, read = evaluation.read_predictions(tmp_path / "p.csv")
    assert labels.tolist() == [1, 0, 1, 0]
    assert (read.astype(np.float32) == probabilities).all()
    assert ((read >= 0.5) == (probabilities >= 0.5)).all()
