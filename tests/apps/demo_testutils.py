"""Helpers for the demo-page tests: serve a run's page in this process, drive it in Chromium.

The browser tests need Chromium and its driver from the system (Debian: `apt-get
install chromium chromium-driver`; `.ci/run` installs them when it can); Selenium
is told where both are, so nothing is downloaded at test time. Without them the
browser tests skip, naming the packages; the `gradio_client` checks still run.
"""

import contextlib
import json
import shutil
import subprocess
import sys
import time

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
needs_browser = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="needs a headless Chromium and its driver: apt-get install chromium "
           "chromium-driver (Debian/Ubuntu), which .ci/run does when it runs as root")
WAIT_SECONDS = 120


@contextlib.contextmanager
def served(app, run, **options):
    """Serve the page of `app`'s run on a free port of 127.0.0.1; yields (address, page)."""
    pytest.importorskip("gradio", reason="the demo extra is not installed (pip install -e "
                                         "'.[demo]'); the test command installs it")
    from apps.common import demo, trained_run

    trained = trained_run.open_run(app, str(run), demo.demo_module(app).CONFIG_CLASS)
    page = demo.build_page([(app, trained)], demo.DemoOptions(**options))
    address = demo.serve(page, port=demo.free_port(), block=False)
    try:
        yield address, page
    finally:
        page.close()


def client(address):
    """A `gradio_client.Client` of the page."""
    from gradio_client import Client

    return Client(address, verbose=False)


@contextlib.contextmanager
def browser():
    """A headless Chromium driven by Selenium (the system's browser and driver)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1200,1500"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def open_page(driver, address, first_element):
    """Load the page and wait until `first_element` (a CSS selector) is there."""
    driver.get(address)
    return wait_for(driver, lambda: driver.find_elements("css selector", first_element))


def wait_for(driver, condition, timeout=WAIT_SECONDS):
    """Poll `condition()` until it is truthy; its value (fails the test after `timeout`)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"the page did not answer within {timeout} s")


def value_of(driver, elem_id):
    """The text in the textbox (or number box) with this `elem_id`."""
    found = driver.find_elements("css selector", f"#{elem_id} textarea, #{elem_id} input")
    return found[0].get_attribute("value") if found else ""


def set_text(driver, elem_id, text):
    """Replace the text of the textbox with this `elem_id`, as a user types it."""
    from selenium.webdriver.common.keys import Keys

    box = driver.find_element("css selector", f"#{elem_id} textarea, #{elem_id} input")
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(Keys.DELETE)
    if text:
        box.send_keys(text)


def click(driver, elem_id):
    driver.find_element("css selector", f"#{elem_id}").click()


def answer_after(driver, elem_id, action, previous=None):
    """Do `action()`, then wait until the textbox `elem_id` holds a value other than `previous`."""
    action()
    return wait_for(driver, lambda: (value := value_of(driver, elem_id)) and value != previous
                    and value)


def error_toasts(driver):
    """The texts of the error messages the page shows."""
    return [e.text for e in driver.find_elements("css selector", "[data-testid='toast-text']")]


def wait_for_error(driver, expected):
    """Wait until an error message holding `expected` shows; returns all shown."""
    return wait_for(driver, lambda: [t for t in error_toasts(driver) if expected in t])


def dismiss_errors(driver):
    for button in driver.find_elements("css selector", "[data-testid='toast-close']"):
        with contextlib.suppress(Exception):
            button.click()


def save_screenshot(driver, tmp_path, name):
    """Save the page as `tmp_path/<name>.png`; also into $RNN_SUITE_SCREENSHOTS when set
    (how the README's screenshots are made: by the tests, then checked by eye)."""
    import os

    path = tmp_path / f"{name}.png"
    driver.save_screenshot(str(path))
    folder = os.environ.get("RNN_SUITE_SCREENSHOTS")
    if folder:
        os.makedirs(folder, exist_ok=True)
        shutil.copy(path, os.path.join(folder, path.name))
    return path


# Several `rnn-suite` commands, one after the other, in one process: TensorFlow loads once.
_COMMANDS = """
import json, sys
from apps import cli
for argv in json.loads(sys.argv[1]):
    print("\\x1e", flush=True)
    status = cli.main(argv)
    if status:
        sys.exit(status)
"""


def run_commands(*commands):
    """Run each `rnn-suite` argument list in one other process; each one's output lines.

    A process of its own, as a user runs the commands: the page is served in this one,
    and an in-process command under pytest's output capture would leave the server
    writing to a closed stream.
    """
    done = subprocess.run([sys.executable, "-c", _COMMANDS,
                           json.dumps([[str(a) for a in argv] for argv in commands])],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return [part.strip("\n").split("\n") for part in done.stdout.split("\x1e\n")[1:]]
