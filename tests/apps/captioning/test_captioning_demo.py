"""`rnn-suite captioning demo`: the page captions an uploaded image as `predict` does (greedy
and beam), its word slider lays that word's attention over the image; a file that is no
image, or claims too many pixels, is a message on the page and the next request still works."""

import struct
import zlib

import numpy as np
import pytest
from captioning_testutils import shapes_images, write_image
from demo_testutils import (answer_after, browser, click, client, dismiss_errors, needs_browser,
                            open_page, run_commands, save_screenshot, served, value_of,
                            wait_for, wait_for_error)
from PIL import Image

CAPTION, ATTEND = "/captioning_caption", "/captioning_attend"
RUN_BEAM = 3  # captioning_testutils.TINY trains with --beam-size 3

def predict(run, *commands):
    """`rnn-suite captioning predict --run RUN <arguments>` for each list, in another process: their
    output lines."""
    return run_commands(*[["captioning", "predict", "--run", run, *arguments]
                          for arguments in commands])


def bomb_png(path, width=10_000, height=10_000):
    """A tiny PNG whose header claims width x height pixels (a decompression bomb's header)."""
    write_image(path, np.zeros((1, 1, 3), np.uint8))
    data = bytearray(path.read_bytes())
    header = b"IHDR" + struct.pack(">II", width, height) + bytes(data[24:29])
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(header))
    path.write_bytes(bytes(data))
    return path


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """Fresh shapes images (not the run's): an RGB PNG, an RGBA PNG and a JPEG, with bad files."""
    folder = tmp_path_factory.mktemp("upload")
    pixels, _ = shapes_images(3, seed=7, size=64)
    alpha = np.concatenate([pixels[1], np.full((64, 64, 1), 200, np.uint8)], axis=-1)
    good = [write_image(folder / "first.png", pixels[0]),
            write_image(folder / "second.png", alpha),
            write_image(folder / "third.jpg", pixels[2], quality=90)]
    (folder / "notes.png").write_text("not an image", encoding="utf-8")
    return good, folder / "notes.png", bomb_png(folder / "bomb.png")


@pytest.fixture(scope="module")
def predicted(shapes_run, images):
    """predict's caption of each good image: {(path, beam): caption}."""
    good = images[0]
    beam, greedy = predict(shapes_run, good, ["--beam-size", 1, *good])
    assert len(beam) == len(greedy) == len(good)
    return {**{(path, RUN_BEAM): line for path, line in zip(good, beam)},
            **{(path, 1): line for path, line in zip(good, greedy)}}


def test_the_page_captions_as_predict_and_survives_bad_files(shapes_run, images, predicted):
    from gradio_client import handle_file

    from apps.captioning import demo, evaluation, pictures
    from apps.captioning import model as model_module
    from apps.common import trained_run

    good, not_image, bomb = images
    trained = trained_run.open_run("captioning", str(shapes_run), demo.CONFIG_CLASS)
    captioner = model_module.Captioner(trained.model)
    with served("captioning", shapes_run) as (address, page):
        components = page.config["components"]
        markdown = " ".join(str(c.get("props", {}).get("value", "")) for c in components)
        assert str(shapes_run) in markdown and "test CIDEr-D (beam)" in markdown
        assert "Limits:" in markdown and "10 MB" in markdown and "25,000,000 pixels" in markdown
        examples = [c for c in components if c.get("type") == "dataset"]
        assert examples and "Test images of the run" in examples[0]["props"]["label"]
        page_client = client(address)
        for (path, beam), caption in predicted.items():
            shown, _, slider, label, picture = page_client.predict(handle_file(str(path)), beam,
                                                                   api_name=CAPTION)
            assert shown == caption, (path.name, beam)
            words = caption.split()
            assert slider["maximum"] == len(words) + 1  # the words and the end token
            assert label == f"word 1 of {len(words) + 1}: {words[0]}"
            # Word 2's picture: its attention over the pixels the model saw, blended as
            # predict --show-attention draws each panel.
            label, picture = page_client.predict(2, api_name=ATTEND)
            assert label == f"word 2 of {len(words) + 1}: {words[1]}"
            pixels = evaluation.read_images([path], trained.config)
            (result,), _ = evaluation.caption_pixels(captioner, pixels, trained.config, beam)
            expected = pictures.overlaid(demo.shown_pixels(pixels[0]), result["attention"][1],
                                         captioner.grid)
            drawn = np.asarray(Image.open(picture).convert("RGB"))
            assert np.abs(drawn.astype(int) - expected).max() <= 2
            other = np.asarray(Image.open(page_client.predict(1, api_name=ATTEND)[1]))
            assert np.abs(other[..., :3].astype(int) - drawn).max() > 10  # words look elsewhere
        for bad, message in [(not_image, "not an image"), (bomb, "10,000 x 10,000 pixels")]:
            with pytest.raises(Exception, match=message):
                page_client.predict(handle_file(str(bad)), RUN_BEAM, api_name=CAPTION)
        with pytest.raises(Exception, match="greater than maximum value"):
            page_client.predict(40, api_name=ATTEND)
        assert page_client.predict(handle_file(str(good[0])), RUN_BEAM,
                                   api_name=CAPTION)[0] == predicted[good[0], RUN_BEAM]


def _upload(driver, path):
    """Replace the page's file with `path`, as a user drops it on the upload box."""
    for clear in driver.find_elements("css selector", "#captioning-image button[aria-label=Clear]"):
        clear.click()
    box = wait_for(driver, lambda: driver.find_elements(
        "css selector", "#captioning-image input[type=file]"))
    box[0].send_keys(str(path))
    wait_for(driver, lambda: driver.find_elements(
        "css selector", f"#captioning-image td.filename[aria-label='{path.name}']"))


@needs_browser
def test_in_a_browser_an_uploaded_image_gets_predicts_caption(shapes_run, images, predicted,
                                                              tmp_path):
    from selenium.webdriver.common.keys import Keys

    good, not_image, _ = images
    with served("captioning", shapes_run) as (address, _), browser() as driver:
        open_page(driver, address, "#captioning-image input[type=file]")
        _upload(driver, good[0])
        caption = answer_after(driver, "captioning-caption", lambda: click(driver, "captioning-go"))
        assert caption == predicted[good[0], RUN_BEAM]
        words = caption.split()
        wait_for(driver, lambda: value_of(driver, "captioning-shown").startswith("word 1 of"))
        # Move the word slider to the second word: its attention is drawn.
        number = driver.find_element("css selector", "#captioning-word input[type=number]")
        number.send_keys(Keys.CONTROL, "a")
        number.send_keys("2", Keys.ENTER)
        wait_for(driver, lambda: value_of(driver, "captioning-shown")
                 == f"word 2 of {len(words) + 1}: {words[1]}")
        wait_for(driver, lambda: driver.find_elements("css selector", "#captioning-attention img"))
        save_screenshot(driver, tmp_path, "captioning_demo")
        _upload(driver, not_image)
        click(driver, "captioning-go")
        wait_for_error(driver, "not an image")
        dismiss_errors(driver)
        _upload(driver, good[2])  # the next request still works
        answer_after(driver, "captioning-caption", lambda: click(driver, "captioning-go"),
                     caption if predicted[good[2], RUN_BEAM] != caption else None)
        wait_for(driver, lambda: value_of(driver, "captioning-caption")
                 == predicted[good[2], RUN_BEAM])
    assert (tmp_path / "captioning_demo.png").stat().st_size > 10_000
