"""`rnn-suite lm demo`: the page's continuation is `rnn-suite lm generate`'s for the same prompt,
settings and seed, through gradio_client and in a real browser; bad input is a message on the
page and the next request still works."""

import subprocess
import sys

import pytest
from demo_testutils import (answer_after, browser, click, client, dismiss_errors, needs_browser,
                            open_page, save_screenshot, served, set_text, wait_for_error)

# (prompt, max tokens, temperature, top-k (0: all), top-p (1: all), seed)
# "typed" and "new document" keep the page's defaults, as a user leaves them.
ASKED = {
    "sampled": ("the acting", 12, 1.0, 5, 0.9, 7),
    "greedy": ("this movie was", 8, 0.0, 0, 1.0, 0),
    "typed": ("the acting", 60, 1.0, 0, 1.0, 0),
    "new document": ("", 60, 1.0, 0, 1.0, 0),
}


def _flags(prompt, max_tokens, temperature, top_k, top_p, seed):
    flags = [prompt, "--max-tokens", str(max_tokens), "--temperature", str(temperature),
             "--seed", str(seed)]
    flags += ["--top-k", str(top_k)] if top_k else []
    return flags + (["--top-p", str(top_p)] if top_p != 1 else [])


@pytest.fixture(scope="module")
def generated(lm_run):
    """{name: the line `rnn-suite lm generate` prints for ASKED[name]}, run as a user runs it.

    Processes of their own (started together, to save time): the page is served in
    this one, and an in-process command under pytest's output capture would leave
    the server writing to a closed stream.
    """
    running = {name: subprocess.Popen(
        [sys.executable, "-m", "apps.cli", "lm", "generate", "--run", str(lm_run),
         *_flags(*asked)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for name, asked in ASKED.items()}
    lines = {}
    for name, process in running.items():
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
        lines[name] = out.rstrip("\n")
        assert "\n" not in lines[name]
    return lines


def test_the_page_continues_as_generate_and_survives_bad_input(lm_run, generated):
    assert generated["sampled"].startswith("the acting ")
    assert generated["sampled"] != generated["typed"]  # the settings matter: the check bites
    with served("lm", lm_run) as (address, _):
        page = client(address)
        for name, asked in ASKED.items():
            line, note = page.predict(*asked, api_name="/lm_generate")
            assert line == generated[name], name
            count = int(note.split()[0])
            assert 0 < count <= asked[1] and len(line.split()) <= len(asked[0].split()) + count
            assert note.endswith("the end-of-document token." if count < asked[1] else
                                 f"the cap of {asked[1]} tokens.")
        for bad, message in [
                (("x " * 1001, 10, 1.0, 0, 1.0, 0), "at most 1,000"),
                (("zzzq qqqz", 10, 1.0, 0, 1.0, 0), "has no word the model knows"),
                # The controls' own bounds, checked by Gradio before the handler runs.
                (("the acting", 201, 1.0, 0, 1.0, 0), "greater than maximum value 200"),
                (("the acting", 10, -1.0, 0, 1.0, 0), "less than minimum value 0"),
                (("the acting", 10, 1.0, -3, 1.0, 0), "less than minimum value 0"),
                (("the acting", 10, 1.0, None, 1.0, 0), "top-k must be a number")]:
            with pytest.raises(Exception, match=message):
                page.predict(*bad, api_name="/lm_generate")
        assert page.predict(*ASKED["sampled"], api_name="/lm_generate")[0] == \
            generated["sampled"]


def test_the_page_states_its_run_figure_and_limits(lm_run):
    with served("lm", lm_run) as (address, page):
        text = " ".join(str(c.get("props", {}).get("value", ""))
                        for c in page.config["components"])
    assert str(lm_run) in text and "test perplexity **" in text
    assert "Limits:" in text and "5,000 characters" in text and "at most 200 new tokens" in text


@needs_browser
def test_in_a_browser_a_typed_prompt_gets_generates_text(lm_run, generated, tmp_path):
    with served("lm", lm_run) as (address, _), browser() as driver:
        open_page(driver, address, "#lm-prompt textarea")
        set_text(driver, "lm-prompt", ASKED["typed"][0])
        line = answer_after(driver, "lm-text", lambda: click(driver, "lm-go"))
        assert line == generated["typed"]
        assert "new tokens; stopped at" in driver.find_element("css selector", "#lm-note").text
        save_screenshot(driver, tmp_path, "lm_demo")
        set_text(driver, "lm-prompt", "zzzq qqqz")
        click(driver, "lm-go")
        wait_for_error(driver, "has no word the model knows")
        dismiss_errors(driver)
        set_text(driver, "lm-prompt", "")  # the next request still works: a new document
        line = answer_after(driver, "lm-text", lambda: click(driver, "lm-go"), line)
        assert line == generated["new document"]
    assert (tmp_path / "lm_demo.png").stat().st_size > 10_000


def test_a_backward_models_page_asks_for_the_end_of_a_text(tmp_path):
    from apps import cli
    from test_lm import TINY

    run = tmp_path / "backward"
    assert cli.main(["lm", "train", *TINY, "--epochs", "1", "--backwards",
                     "--run-dir", str(run)]) == 0
    with served("lm", run) as (address, page):
        labels = [str(c.get("props", {}).get("label", "")) for c in page.config["components"]]
        line, _ = client(address).predict("the ending was great", 5, 0.0, 0, 1.0, 0,
                                          api_name="/lm_generate")
    assert "Prompt: the end of a text (empty: a whole new document)" in labels
    assert "What came before, then the prompt (as rnn-suite lm generate prints it)" in labels
    assert line.endswith(" the ending was great") and len(line.split()) > 4
