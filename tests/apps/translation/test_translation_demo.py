"""`rnn-suite translation demo`: the page translates as `predict` does (greedy and beam, its
length alpha), draws `predict --show-attention`'s map, lists the beam's hypotheses best first;
bad input is a message on the page and the next request still works."""


import numpy as np
import pytest
from demo_testutils import (answer_after, browser, click, client, dismiss_errors, needs_browser,
                            open_page, run_commands, save_screenshot, served, set_text,
                            value_of, wait_for, wait_for_error)
from PIL import Image
from translation_testutils import OTHER_SENTENCES, SENTENCE

API = "/translation_translate"
RUN_BEAM = 3  # translation_testutils.TINY trains with --beam-size 3 (and length alpha 1)


def predict(run, *commands):
    """`rnn-suite translation predict --run RUN <flags>` for each list, in another process: their
    output lines."""
    return run_commands(*[["translation", "predict", "--run", run, *flags] for flags in commands])


@pytest.fixture(scope="module")
def predicted(translation_run, tmp_path_factory):
    """predict's lines: {(sentence, beam, alpha): line}, and its attention map of SENTENCE."""
    sentences = [SENTENCE, *OTHER_SENTENCES]
    picture = tmp_path_factory.mktemp("predict") / "attention.png"
    settings = [(["--beam-size", 1], 1, 1.0), ([], RUN_BEAM, 1.0),
                (["--length-alpha", 0], RUN_BEAM, 0.0)]
    *outputs, alone = predict(translation_run, *[[*flags, *sentences] for flags, _, _ in settings],
                              [SENTENCE, "--show-attention", picture])
    lines = {}
    for (_, beam, alpha), out in zip(settings, outputs):
        assert len(out) == len(sentences)
        lines.update({(s, beam, alpha): line for s, line in zip(sentences, out)})
    assert alone == [lines[SENTENCE, RUN_BEAM, 1.0]]
    return lines, np.asarray(Image.open(picture).convert("RGB"))


def test_the_page_answers_as_predict_and_survives_bad_input(translation_run, predicted):
    lines, attention = predicted
    with served("translation", translation_run) as (address, page):
        markdown = " ".join(str(c.get("props", {}).get("value", ""))
                            for c in page.config["components"])
        assert str(translation_run) in markdown and f"test BLEU (beam {RUN_BEAM})" in markdown
        assert "Limits:" in markdown and "a beam of at most 16" in markdown
        demo = client(address)
        for (sentence, beam, alpha), line in lines.items():
            shown, notes, picture, table = demo.predict(sentence, beam, alpha, api_name=API)
            assert shown == line, (sentence, beam, alpha)
            rows = table["data"]
            assert rows[0][1] == line  # the n-best list starts with the answer
            assert len(rows) == (1 if beam == 1 else RUN_BEAM)
            scores = [row[3] for row in rows]
            assert scores == sorted(scores, reverse=True)
            assert all(row[2] <= 0 for row in rows)  # log-probabilities
            if alpha == 0.0:
                assert [row[2] for row in rows] == scores  # no length normalisation
            if (sentence, beam, alpha) == (SENTENCE, RUN_BEAM, 1.0):
                # predict --show-attention's picture, pixel for pixel.
                drawn = np.asarray(Image.open(picture).convert("RGB"))
                assert drawn.shape == attention.shape
                assert np.abs(drawn.astype(int) - attention).max() <= 1
        for bad, beam, alpha, message in [("", RUN_BEAM, 1.0, "is empty"),
                                          ("ba " * 1001, RUN_BEAM, 1.0, "at most 1,000"),
                                          (SENTENCE, RUN_BEAM, -1.0, "length alpha"),
                                          (SENTENCE, 2.5, 1.0, "beam size must be a whole"),
                                          (SENTENCE, 17, 1.0, "maximum value 16")]:
            with pytest.raises(Exception, match=message):
                demo.predict(bad, beam, alpha, api_name=API)
        assert demo.predict(SENTENCE, 1, 1.0, api_name=API)[0] == lines[SENTENCE, 1, 1.0]


@needs_browser
def test_in_a_browser_a_typed_sentence_gets_predicts_translation(translation_run, predicted,
                                                                 tmp_path):
    lines, _ = predicted
    with served("translation", translation_run) as (address, _), browser() as driver:
        open_page(driver, address, "#translation-source textarea")
        assert value_of(driver, "translation-beam") == str(RUN_BEAM)  # the run's beam size
        set_text(driver, "translation-source", SENTENCE)
        line = answer_after(driver, "translation-translation",
                            lambda: click(driver, "translation-go"))
        assert line == lines[SENTENCE, RUN_BEAM, 1.0]
        table = wait_for(driver, lambda: driver.find_element(
            "css selector", "#translation-nbest").text.count("\n") >= RUN_BEAM
            and driver.find_element("css selector", "#translation-nbest").text)
        assert line in table and "log-probability" in table
        wait_for(driver, lambda: driver.find_elements("css selector", "#translation-attention img"))
        save_screenshot(driver, tmp_path, "translation_demo")
        set_text(driver, "translation-source", "")
        click(driver, "translation-go")
        wait_for_error(driver, "is empty")
        dismiss_errors(driver)
        other = OTHER_SENTENCES[1]
        set_text(driver, "translation-source", other)  # the next request still works
        click(driver, "translation-go")
        # The n-best list changes (its log-probabilities do, even where the words do not).
        wait_for(driver, lambda: driver.find_element("css selector", "#translation-nbest").text
                 not in ("", table))
        assert value_of(driver, "translation-translation") == lines[other, RUN_BEAM, 1.0]
    assert (tmp_path / "translation_demo.png").stat().st_size > 10_000
