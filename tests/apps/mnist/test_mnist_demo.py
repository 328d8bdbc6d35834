"""`rnn-suite mnist demo`: an uploaded image and a drawing get `predict`'s answer, through
gradio_client and in a real browser; bad input is a message on the page and the next request
still works."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from demo_testutils import (answer_after, browser, click, client, dismiss_errors, needs_browser,
                            open_page, save_screenshot, served, wait_for, wait_for_error)
from PIL import Image, ImageDraw



def digits(folder):
    """Hand-made digit images, as a user gives them: {name: path}."""
    folder.mkdir(exist_ok=True)
    paths = {}
    one = Image.new("L", (120, 120), 255)  # a dark one on white paper
    ImageDraw.Draw(one).line([(60, 15), (60, 105)], fill=0, width=12)
    paths["one"] = folder / "one.png"
    one.save(paths["one"])
    seven = Image.new("RGB", (90, 140), (10, 10, 10))  # a light seven on black, in colour
    ImageDraw.Draw(seven).line([(15, 20), (75, 20), (35, 125)], fill=(250, 240, 230), width=10)
    paths["seven"] = folder / "seven.jpg"
    seven.save(paths["seven"], quality=95)
    # As the sketchpad sends a drawing: RGBA, black strokes on a transparent canvas.
    zero = Image.new("RGBA", (280, 280), (0, 0, 0, 0))
    ImageDraw.Draw(zero).ellipse([(80, 40), (200, 240)], outline=(0, 0, 0, 255), width=22)
    paths["zero"] = folder / "zero.png"
    zero.save(paths["zero"])
    return paths


def bad_images(folder):
    """{path: the message the page shows for it}."""
    folder.mkdir(exist_ok=True)
    (folder / "text.png").write_bytes(b"this is not an image at all")
    Image.new("L", (64, 64), 255).save(folder / "blank.png")
    Image.new("1", (6000, 5000)).save(folder / "huge.png")  # 30 M pixels in a few kB
    return {folder / "text.png": "not an image this page can read",
            folder / "blank.png": "no digit in the image",
            folder / "huge.png": "at most 25,000,000 pixels"}


def predicted(run, paths):
    """`rnn-suite mnist predict`, run as a user runs it: {path: the line after "path: "}.

    A process of its own: the page is served in this one, and an in-process command
    under pytest's output capture would leave the server writing to a closed stream.
    """
    done = subprocess.run([sys.executable, "-m", "apps.cli", "mnist", "predict", "--run",
                           str(run), *map(str, paths)], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == len(paths)
    return {path: line.split(": ", 1)[1] for path, line in zip(paths, lines)}


def printed_top(line):
    """{class: probability} of a line "3  (3: 0.912, 5: 0.051, 8: 0.020)"."""
    inside = line.split("(", 1)[1].rstrip(")")
    return {k: float(p) for k, p in (item.split(": ") for item in inside.split(", "))}


def test_the_page_answers_as_predict_and_survives_bad_input(trained_run, tmp_path):
    from gradio_client import handle_file

    paths = digits(tmp_path / "digits")
    expected = predicted(trained_run, list(paths.values()))
    assert len(set(expected.values())) > 1  # the digits are told apart: the comparison bites
    with served("mnist", trained_run) as (address, _):
        page = client(address)
        for path, line in expected.items():
            shown, top, forming = page.predict(handle_file(str(path)), api_name="/mnist_classify")
            assert shown == line
            assert top["label"] == line.split()[0]
            assert {c["label"]: round(c["confidence"], 3) for c in top["confidences"]} == \
                pytest.approx(printed_top(line), abs=1.5e-3)
            with Image.open(forming) as picture:
                assert picture.format == "PNG" and picture.width > 800
        # The sketchpad's value: the composite is what is classified, as predict reads a file.
        drawing = {"background": None, "layers": [], "composite": handle_file(str(paths["zero"]))}
        assert page.predict(drawing, api_name="/mnist_classify_drawing")[0] == \
            expected[paths["zero"]]
        for bad, message in bad_images(tmp_path / "bad").items():
            with pytest.raises(Exception, match=message):
                page.predict(handle_file(str(bad)), api_name="/mnist_classify")
        with pytest.raises(Exception, match="nothing drawn"):
            page.predict({"background": None, "layers": [], "composite": None},
                         api_name="/mnist_classify_drawing")
        assert page.predict(handle_file(str(paths["one"])),
                            api_name="/mnist_classify")[0] == expected[paths["one"]]


def test_the_page_states_its_run_figure_limits_and_examples(trained_run):
    from apps.common import trained_run as trained_run_module
    from apps.mnist import data, demo
    from apps.mnist.config import MnistConfig

    with served("mnist", trained_run) as (address, page):
        text = " ".join(str(c.get("props", {}).get("value", ""))
                        for c in page.config["components"])
    assert str(trained_run) in text and "test accuracy **0." in text
    assert "Limits:" in text and "10 MB" in text and "25,000,000 pixels" in text
    trained = trained_run_module.open_run("mnist", str(trained_run), MnistConfig)
    folder = Path(trained_run).parent / "examples"
    folder.mkdir(exist_ok=True)
    examples = demo.test_examples(trained, folder)
    size = trained.model.input_shape[1]
    test = data.load(want="digits" if size == 8 else "mnist")
    assert len(examples) == demo.EXAMPLE_DIGITS
    labels = []
    for path in examples:
        index = int(Path(path).stem.split("#")[1].rstrip(")"))
        assert np.array_equal(np.asarray(Image.open(path)), test.x_test[index])
        labels.append(int(test.y_test[index]))
    assert len(set(labels)) == len(labels)  # one digit of each class


def _upload(driver, path):
    """Choose `path` in the Upload tab's file input, as a user does, and wait for it to land."""
    driver.find_element("css selector", "#mnist-upload input[type=file]").send_keys(str(path))
    wait_for(driver, lambda: driver.find_elements(
        "css selector", f"#mnist-upload td.filename[aria-label='{Path(path).name}']"))


def _clear_upload(driver):
    for button in driver.find_elements("css selector", "#mnist-upload button[aria-label='Clear']"):
        button.click()
    wait_for(driver, lambda: driver.find_elements("css selector",
                                                  "#mnist-upload input[type=file]"))


def _draw_a_stroke(driver):
    """Pick the sketchpad's brush and draw a stroke down the canvas, as a user does."""
    from selenium.webdriver.common.action_chains import ActionChains

    next(b for b in driver.find_elements("css selector", "#mnist-sketch button")
         if b.get_attribute("aria-label") == "Brush").click()
    canvas = max(driver.find_elements("css selector", "#mnist-sketch canvas"),
                 key=lambda c: c.size["width"] * c.size["height"])
    stroke = ActionChains(driver).move_to_element_with_offset(canvas, 10, -80).click_and_hold()
    for _ in range(14):
        stroke = stroke.move_by_offset(0, 10)
    stroke.release().perform()


@needs_browser
def test_in_a_browser_a_drawn_and_an_uploaded_digit_get_predicts_answer(trained_run, tmp_path,
                                                                         monkeypatch):
    from apps.mnist import demo

    drawings = []

    def recorded(sketch):  # what the page classifies, to ask predict about it afterwards
        drawings.append(image := original(sketch))
        return image

    original = demo.drawn_image
    monkeypatch.setattr(demo, "drawn_image", recorded)
    paths = digits(tmp_path / "digits")
    bad = next(iter(bad_images(tmp_path / "bad")))  # not an image
    with served("mnist", trained_run) as (address, _), browser() as driver:
        open_page(driver, address, "#mnist-sketch canvas")
        _draw_a_stroke(driver)
        drawn_line = answer_after(driver, "mnist-class",
                                  lambda: click(driver, "mnist-go-drawing"))
        drawings[-1].save(tmp_path / "drawn.png")
        everything = predicted(trained_run, [tmp_path / "drawn.png", *paths.values()])
        assert drawn_line == everything[tmp_path / "drawn.png"]
        # Two digits whose answers differ from each other and the last: each shows as a change.
        chosen = next([a, b] for a in paths.values() for b in paths.values()
                      if len({drawn_line, everything[a], everything[b]}) == 3)
        next(t for t in driver.find_elements("css selector", "button[role='tab']")
             if t.text.strip() == "Upload").click()
        wait_for(driver, lambda: driver.find_elements("css selector",
                                                      "#mnist-upload input[type=file]"))
        previous = drawn_line
        for path in chosen:
            _clear_upload(driver)
            _upload(driver, path)
            line = answer_after(driver, "mnist-class", lambda: click(driver, "mnist-go-upload"),
                                previous)
            assert line == everything[path]
            wait_for(driver, lambda: driver.find_elements("css selector", "#mnist-forming img"))
            assert line.split()[0] in driver.find_element("css selector", "#mnist-top").text
            previous = line
        save_screenshot(driver, tmp_path, "mnist_demo")
        _clear_upload(driver)
        _upload(driver, bad)
        click(driver, "mnist-go-upload")
        wait_for_error(driver, "not an image this page can read")
        dismiss_errors(driver)
        _clear_upload(driver)
        _upload(driver, chosen[0])  # the next request still works
        line = answer_after(driver, "mnist-class", lambda: click(driver, "mnist-go-upload"),
                            previous)
        assert line == everything[chosen[0]]
    assert (tmp_path / "mnist_demo.png").stat().st_size > 10_000
