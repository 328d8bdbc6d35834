"""`rnn-suite sentiment demo`: the page answers as `predict` does, in a real browser and through
gradio_client; bad input is a message on the page and the next request still works; under
200 requests from 8 clients nothing is lost and every answer is the sequential one."""

import concurrent.futures
import resource
import subprocess
import sys

import pytest
from app_testutils import run_cli
from demo_testutils import (answer_after, browser, click, client, dismiss_errors, needs_browser,
                            open_page, save_screenshot, served, set_text, value_of,
                            wait_for_error)

# predict prints P(positive) to 3 decimals, the page's number field holds 4: the two agree
# to half a unit of each (0.4915 on the page is 0.491 or 0.492 from predict).
ROUNDING = 5e-4 + 5e-5 + 1e-9
REVIEWS = ["A wonderful, moving film: I loved it!", "Awful and boring, a dull waste of time.",
           "the plot was fine but the ending was terrible"]


def predicted(run, texts):
    """`rnn-suite sentiment predict`, run as a user runs it: {review: (label, probability)}.

    A process of its own: the page is served in this one, and an in-process command
    under pytest's output capture would leave the server writing to a closed stream.
    """
    done = subprocess.run([sys.executable, "-m", "apps.cli", "sentiment", "predict", "--run",
                           str(run), *texts], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == len(texts)
    return {text: (line.split("\t")[0], float(line.split("\t")[1].split("=")[1]))
            for text, line in zip(texts, lines)}


# First: an in-process command under pytest's capture, before any page is served here.
def test_a_busy_port_is_a_one_line_error(sentiment_run, capsys):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        status, out, err = run_cli(capsys, "sentiment", "demo", "--run", str(sentiment_run),
                                   "--port", str(port))
    assert status == 2
    assert err.strip().count("\n") == 0 and f"port {port} on 127.0.0.1 is in use" in err
    assert "--port" in err and "Traceback" not in err


@pytest.fixture(scope="module")
def expected(sentiment_run):
    """What `predict` prints for REVIEWS: one process for the whole module."""
    return predicted(sentiment_run, REVIEWS)


@pytest.fixture(scope="module")
def page_address(sentiment_run):
    """The run's page, served once for the tests that only send it requests."""
    with served("sentiment", sentiment_run) as (address, _):
        yield address


def test_the_page_answers_as_predict_and_survives_bad_input(expected, page_address):
    page = client(page_address)
    for text, (label, probability) in expected.items():
        line, shown, words = page.predict(text, api_name="/sentiment_classify")
        assert line.startswith(f"{label}  (")
        assert shown == pytest.approx(probability, abs=ROUNDING)
        assert "tinted by its attention weight" in words  # the fixture pools with attention
    for bad, message in [("", "is empty"), ("!!! ...", "no words"),
                         ("a " * 1001, "at most 1,000")]:
        with pytest.raises(Exception, match=message):
            page.predict(bad, api_name="/sentiment_classify")
    assert page.predict(REVIEWS[0], api_name="/sentiment_classify")[0].startswith(
        expected[REVIEWS[0]][0])


@needs_browser
def test_in_a_browser_typed_reviews_get_predicts_verdict(expected, page_address, tmp_path):
    everything = expected
    with browser() as driver:
        open_page(driver, page_address, "#sentiment-review textarea")
        previous = None
        for text in REVIEWS[:2]:
            label, probability = everything[text]
            set_text(driver, "sentiment-review", text)
            line = answer_after(driver, "sentiment-verdict",
                                lambda: click(driver, "sentiment-go"), previous)
            assert line.startswith(f"{label}  (P(") and line.endswith(f" = {probability:.3f})")
            assert float(value_of(driver, "sentiment-probability")) == pytest.approx(
                probability, abs=ROUNDING)
            words = driver.find_element("css selector", "#sentiment-words").text
            assert "attention weight" in words
            assert text.split()[1].strip(",.!:").lower() in words.lower()  # the review's words
            previous = line
        shot = save_screenshot(driver, tmp_path, "sentiment_demo")
        set_text(driver, "sentiment-review", "")
        click(driver, "sentiment-go")
        wait_for_error(driver, "is empty")
        dismiss_errors(driver)
        set_text(driver, "sentiment-review", REVIEWS[2])  # the next request still works
        line = answer_after(driver, "sentiment-verdict", lambda: click(driver, "sentiment-go"),
                            previous)
        assert line.startswith(f"{everything[REVIEWS[2]][0]}  (")
    assert shot.stat().st_size > 10_000


def _folder_state(folder):
    return sorted((str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns)
                  for p in folder.rglob("*"))


def test_two_hundred_requests_from_eight_clients_are_all_answered_alike(page_address,
                                                                        sentiment_run):
    texts = [f"{REVIEWS[i % 3]} {'very ' * (i % 7)}really" for i in range(200)]
    address = page_address
    run_folder = _folder_state(sentiment_run)
    alone = client(address)
    sequential = {t: alone.predict(t, api_name="/sentiment_classify")[:2]
                  for t in sorted(set(texts))}
    clients = [client(address) for _ in range(8)]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(
            lambda item: clients[item[0] % 8].predict(item[1],
                                                      api_name="/sentiment_classify")[:2],
            enumerate(texts)))
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert len(answers) == 200
    assert [tuple(a) for a in answers] == [tuple(sequential[t]) for t in texts]
    # The peak resident memory of the server's process: flat, not growing per request.
    assert grown_mb < 200, f"the server grew by {grown_mb:.0f} MB over 200 requests"
    with pytest.raises(Exception, match="is empty"):  # bad input writes nothing either
        client(address).predict("", api_name="/sentiment_classify")
    assert _folder_state(sentiment_run) == run_folder  # nothing written to the run folder


def test_the_page_states_its_run_figure_and_limits(sentiment_run):
    from apps.common import demo, trained_run
    from apps.sentiment.config import SentimentConfig

    pytest.importorskip("gradio")
    trained = trained_run.open_run("sentiment", str(sentiment_run), SentimentConfig)
    page = demo.build_page([("sentiment", trained)], demo.DemoOptions())  # laid out, not served
    text = page.config["components"]
    markdown = " ".join(str(c.get("props", {}).get("value", "")) for c in text)
    assert str(sentiment_run) in markdown and "test accuracy" in markdown
    assert "Limits:" in markdown and "5,000 characters" in markdown and "60 s" in markdown


def test_examples_are_the_runs_test_reviews(sentiment_run):
    from apps.common import trained_run
    from apps.sentiment import demo, evaluation, train as sentiment_train
    from apps.sentiment.config import SentimentConfig

    trained = trained_run.open_run("sentiment", str(sentiment_run), SentimentConfig)
    examples = demo.test_examples(trained)
    reviews = sentiment_train.load_reviews(trained.config)
    test_texts = list(reviews.x_test)
    labels, probabilities = evaluation.read_predictions(sentiment_run / evaluation.PREDICTIONS)
    right = [(p >= 0.5) == y for y, p in zip(labels, probabilities)]
    assert examples and all(e in test_texts for e in examples)
    shown_right = [right[test_texts.index(e)] for e in examples]
    assert shown_right == sorted(shown_right, reverse=True)  # right ones first, then wrong


def test_several_runs_are_tabs_of_one_page_each_answering_for_its_own_run(sentiment_run,
                                                                         expected):
    from apps.common import demo, trained_run
    from apps.sentiment.config import SentimentConfig

    pytest.importorskip("gradio")
    runs = [("sentiment", trained_run.open_run("sentiment", str(sentiment_run), SentimentConfig))
            for _ in range(2)]
    page = demo.build_page(runs, demo.DemoOptions())
    address = demo.serve(page, port=demo.free_port(), block=False)
    try:
        tabs = [c["props"].get("label") for c in page.config["components"]
                if c.get("type") == "tabitem"]
        assert tabs == [f"sentiment: {sentiment_run.name}"] * 2
        first, second = (client(address).predict(REVIEWS[0], api_name=f"/sentiment{n}_classify")
                         for n in (1, 2))
        label, probability = expected[REVIEWS[0]]
        assert first[:2] == second[:2]
        assert first[0].startswith(f"{label}  (") and first[1] == pytest.approx(probability,
                                                                               abs=ROUNDING)
    finally:
        page.close()
