"""`rnn-suite translation export`: beam (and greedy) search inside a SavedModel, as `predict`."""

import pytest
import tensorflow as tf
from serving_testutils import call_in_fresh_process, export, predict, strings
from translation_testutils import OTHER_SENTENCES, SENTENCE

from apps.translation import serving, text

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def test_export_translates_as_predict_in_a_fresh_process(translation_run, tmp_path, capsys):
    sentences = [SENTENCE, "", f"  {OTHER_SENTENCES[0]} ", *OTHER_SENTENCES[1:], "   "]
    out = export(capsys, "translation", translation_run, tmp_path / "beam")
    assert "signature serving_default: sentence (string [None]) -> finished (bool [None]), " \
           "log_prob (float32 [None]), translation (string [None])" in out
    export(capsys, "translation", translation_run, tmp_path / "greedy", "--beam-size", "1")
    beam = predict(capsys, "translation", "predict", "--run", translation_run, *sentences)
    greedy = predict(capsys, "translation", "predict", "--run", translation_run,
                     "--beam-size", "1", *sentences)

    answer = call_in_fresh_process(
        {"beam": tmp_path / "beam", "greedy": tmp_path / "greedy"},
        {name: (name, "serving_default", {"sentence": strings(sentences)})
         for name in ("beam", "greedy")}, tmp_path / "fresh")
    for name, expected in (("beam", beam), ("greedy", greedy)):
        got = answer[name]
        assert got["translation"] == [result["translation"] for result in expected], name
        assert got["log_prob"] == pytest.approx([r["log_prob"] for r in expected], abs=1e-5)
        assert got["finished"] == [r["finished"] for r in expected], name
    assert answer["beam"]["translation"][1] == answer["beam"]["translation"][-1] == ""


@pytest.mark.parametrize("tokens", [
    ["hello", ",", "world", "!"], ["it", "'", "s", "a", "t", "-", "shirt", "."],
    ["3", ".", "5", "%", "of", "1", ",", "000"], ['"', "hi", "there", '"', "he", "said", "."],
    ["¿", "qué", "hora", "es", "?"], ["«", "bonjour", "»", "(", "a", ")", "…"],
    ["a", "-", "b", "-", "c"], ["l", "’", "homme", "/", "femme"], ["123", "apples"],
    ["[UNK]", "is", "here"], ["ß", "x"], ["ǆ", "é"], ["2", ":", "30"], [], ["...", "ok"]],
    ids=lambda tokens: " ".join(tokens) or "empty")
def test_graph_detokenize_is_text_detokenize(tokens):
    got = serving.detokenize(tf.constant([" ".join(tokens)])).numpy()[0].decode("utf-8")
    assert got == text.detokenize(tokens)


def test_graph_space_normalisation_is_python_split():
    sentence = " a \u00a0b\u2003c\u0085d\x1ce\tf\u2028g  "
    got = serving.normalize_spaces(tf.constant([sentence, ""])).numpy()
    assert [g.decode("utf-8") for g in got] == [" ".join(sentence.split()), ""]
