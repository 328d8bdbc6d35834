"""`rnn-suite sentiment export`: the SavedModel, loaded in a fresh process, answers as `predict`."""

import math

import pytest
from serving_testutils import call_in_fresh_process, export, predict, strings

from apps.common import text

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

REVIEWS = ["A great and wonderful film, I loved it!", "Dull.<br /><br />A boring, awful mess.",
           "It's fine", "the   movie\twas   \u00e9tonnant and moving"]
NO_WORDS = ["", "!!! ???"]


def test_export_answers_as_predict_in_a_fresh_process(sentiment_run, tmp_path, capsys):
    out = export(capsys, "sentiment", sentiment_run, tmp_path / "export")
    assert "signature serving_default: review (string [None]) -> label (string [None]), " \
           "probability (float32 [None]), words (int32 [None])" in out
    assert (tmp_path / "export" / "saved_model.pb").is_file()
    expected = predict(capsys, "sentiment", "predict", "--run", sentiment_run, *REVIEWS)

    answer = call_in_fresh_process({"export": tmp_path / "export"}, {
        "reviews": ("export", "serving_default", {"review": strings(REVIEWS + NO_WORDS)})},
        tmp_path / "fresh")
    got = answer["reviews"]
    assert answer["signatures"] == {"export": ["serving_default"]}
    for index, result in enumerate(expected):
        assert got["label"][index] == result["label"]
        assert got["probability"][index] == pytest.approx(result["probability"], abs=1e-5)
    assert got["words"][:len(REVIEWS)] == [len(words) for words in text.words(REVIEWS)]
    # A review without words: no label, no probability (predict prints a placeholder).
    assert got["label"][len(REVIEWS):] == ["", ""]
    assert all(math.isnan(p) for p in got["probability"][len(REVIEWS):])
    assert got["words"][len(REVIEWS):] == [0, 0]
