"""`rnn-suite <app> demo` and `rnn-suite demo`: a local page for trained runs, served by Gradio.

Each app's `demo.py` has `render(trained, options)`, which lays out its part
of a page inside the current `gradio.Blocks` (a whole page, or one tab of
`rnn-suite demo --run A --run B`) and answers through the same functions as
its `predict` command, so the page's answer for an input is `predict`'s.

Safe by default: the page binds 127.0.0.1 (another `--host` prints a warning:
the page has no authentication), Gradio's sharing tunnel never starts, its
analytics are off, requests wait in a queue and run one at a time, and the
limits below are checked before the model runs and stated on the page. Bad
input is a readable message on the page; the server goes on serving.
"""

import concurrent.futures
import dataclasses
import functools
import importlib
import importlib.util
import ipaddress
import json
import os
import socket
import sys
import warnings
from pathlib import Path

from apps.common import run_dir as run_dir_module
from apps.common.errors import UsageError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
MAX_TEXT_CHARACTERS = 5_000
MAX_TEXT_WORDS = 1_000
MAX_IMAGE_BYTES = 10 * 1024 * 1024
MAX_IMAGE_PIXELS = 25_000_000  # the pixels a header may claim before the image is refused
REQUEST_SECONDS = 60
MAX_BEAM = 16  # the widest beam a page searches
QUEUE_SIZE = 32

# Gradio reads these when it is imported: no analytics, no version check over the network.
_GRADIO_ENVIRONMENT = {"GRADIO_ANALYTICS_ENABLED": "False", "GRADIO_SERVER_NAME": DEFAULT_HOST}


class DemoInputError(ValueError):
    """Bad input given on the page: its message is shown there, and the server goes on."""


@dataclasses.dataclass
class DemoOptions:
    """What the `demo` flags set for every run's part of the page."""

    beam_size: int = None


def add_demo_flags(parser, beam_size=False):
    """`--host`, `--port` (and `--beam-size` for the apps that search)."""
    from apps.common import config as config_module

    parser.add_argument("--host", default=DEFAULT_HOST,
                        help=f"address to bind (default: {DEFAULT_HOST}, this machine only; "
                             "the page has no authentication)")
    parser.add_argument("--port", type=_port, default=DEFAULT_PORT,
                        help=f"port to serve on (default: {DEFAULT_PORT})")
    if beam_size:
        parser.add_argument("--beam-size", type=config_module.positive_int, default=None,
                            help="the page's starting beam size (default: the run's)")


def _port(text):
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port from 1 to 65535, got {value}")
    return value


def check_port(host, port):
    """Fail with one line if `port` on `host` cannot be bound (busy, or not this machine's)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise UsageError(f"--host {host}: not an address of this machine") from None
    family, _, _, _, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(address)
        except OSError as error:
            if error.errno in (98, 48, 10048):  # EADDRINUSE on Linux, macOS, Windows
                raise UsageError(f"port {port} on {host} is in use (another demo or server?); "
                                 f"pass --port with a free one, e.g. --port {free_port(host)}"
                                 ) from None
            raise UsageError(f"cannot serve on {host}:{port}: {error.strerror}") from None


def free_port(host=DEFAULT_HOST):
    """A port the system says is free on `host` now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def _is_loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def checked_text(text, what="text"):
    """`text` stripped, or a `DemoInputError` for an empty or over-long one."""
    text = (text or "").strip()
    if not text:
        raise DemoInputError(f"the {what} is empty: type something first")
    if len(text) > MAX_TEXT_CHARACTERS:
        raise DemoInputError(f"the {what} has {len(text):,} characters; the page takes at most "
                             f"{MAX_TEXT_CHARACTERS:,}")
    words = len(text.split())
    if words > MAX_TEXT_WORDS:
        raise DemoInputError(f"the {what} has {words:,} words; the page takes at most "
                             f"{MAX_TEXT_WORDS:,}")
    return text


def checked_beam(beam_size):
    """The beam size from the page, an int from 1 to `MAX_BEAM`, or a `DemoInputError`."""
    try:
        beam = int(beam_size)
    except (TypeError, ValueError):
        raise DemoInputError(f"the beam size must be a whole number from 1 to {MAX_BEAM}"
                             ) from None
    if beam != beam_size or not 1 <= beam <= MAX_BEAM:
        raise DemoInputError(f"the beam size must be a whole number from 1 to {MAX_BEAM}, "
                             f"got {beam_size}")
    return beam


def check_image_file(path):
    """Refuse an uploaded file that is too big, not an image, or whose header claims more
    pixels than the page takes; no pixel is decoded (the app decodes it as `predict` does)."""
    from PIL import Image, UnidentifiedImageError

    if not path:
        raise DemoInputError("no image: upload one first")
    size = os.path.getsize(path)
    if size > MAX_IMAGE_BYTES:
        raise DemoInputError(f"the image file has {size / 2**20:.1f} MB; the page takes at most "
                             f"{MAX_IMAGE_BYTES // 2**20} MB")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:  # reads the header only
                width, height = image.size
    except Image.DecompressionBombError:
        raise DemoInputError(f"the image claims more pixels than the page takes (at most "
                             f"{MAX_IMAGE_PIXELS:,})") from None
    except (UnidentifiedImageError, OSError):
        raise DemoInputError("the file is not an image this page can read (PNG, JPEG, GIF, "
                             "BMP, WebP, ...)") from None
    if width * height > MAX_IMAGE_PIXELS:
        raise DemoInputError(f"the image claims {width:,} x {height:,} pixels; the page takes "
                             f"at most {MAX_IMAGE_PIXELS:,} pixels")


def checked_image_file(path):
    """`check_image_file`, then the image decoded by `images.open_image`, as the commands
    decode theirs (a PIL image)."""
    from apps.common import images

    check_image_file(path)
    try:
        return images.open_image(path)
    except UsageError as error:  # pixels past the header that cannot be decoded
        raise DemoInputError(str(error)) from None


def limits_note(*lines):
    """The page's line that states its limits (Markdown)."""
    common = [f"requests are queued and answered one at a time, each within "
              f"{REQUEST_SECONDS} s"]
    return "Limits: " + "; ".join([*lines, *common]) + "."


_EXECUTOR = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="demo")


def answer(function):
    """Wrap a page handler: bad input and failures become a message on the page, and a
    request that runs past `REQUEST_SECONDS` is abandoned with one."""

    @functools.wraps(function)
    def handler(*args):
        import gradio as gr

        future = _EXECUTOR.submit(function, *args)
        try:
            return future.result(timeout=REQUEST_SECONDS)
        except concurrent.futures.TimeoutError:
            raise gr.Error(f"this request took longer than {REQUEST_SECONDS} s and was "
                           "abandoned; try a shorter input") from None
        except (DemoInputError, UsageError) as error:
            raise gr.Error(str(error)) from None
        except Exception as error:  # noqa: BLE001 - the page says so and the server goes on
            print(f"demo: a request failed: {type(error).__name__}: {error}", file=sys.stderr,
                  flush=True)
            raise gr.Error(f"the model could not answer this input ({type(error).__name__}); "
                           "the page still works for the next one") from None

    return handler


def run_summary(app, trained, headline):
    """One Markdown paragraph: which run, its test figure and its data (from metrics.json).

    Args:
        app: The app's name.
        trained: The `TrainedRun`.
        headline: `(label, key)` of the test figure in metrics.json (a dotted key reads
            nested values), as the app's `train` reports it.
    """
    lines = [f"**{app}** run `{trained.path.parent}`"]
    metrics_path = trained.path.parent / run_dir_module.METRICS_FILE
    metrics = {}
    if metrics_path.is_file():
        try:
            metrics = json.loads(metrics_path.read_text())
        except (OSError, ValueError):
            metrics = {}
    from apps.common.training_job import metric_value

    label, key = headline
    value = metric_value(metrics, key)
    if isinstance(value, (int, float)):
        lines.append(f"{label} **{value:.4g}**")
    else:
        lines.append(f"{label}: not recorded (no metrics.json beside the model)")
    if metrics.get("dataset_description"):
        lines.append(f"data: {metrics['dataset_description']}")
    return " · ".join(lines)


def demo_module(app):
    """The app's `demo.py`."""
    return importlib.import_module(f"apps.{app}.demo")


def build_page(runs, options):
    """A `gradio.Blocks` page for `runs` [(app, TrainedRun)]: one run, or one tab per run."""
    os.environ.update(_GRADIO_ENVIRONMENT)
    import gradio as gr

    with gr.Blocks(title="rnn-suite demo", analytics_enabled=False) as page:
        if len(runs) == 1:
            app, trained = runs[0]
            demo_module(app).render(trained, options, prefix=app)
        else:
            with gr.Tabs():
                for number, (app, trained) in enumerate(runs, 1):
                    with gr.Tab(f"{app}: {trained.path.parent.name}"):
                        demo_module(app).render(trained, options, prefix=f"{app}{number}")
    return page


def serve(page, host=DEFAULT_HOST, port=DEFAULT_PORT, block=True):
    """Serve `page` on host:port; `block=False` returns at once (tests), with the page running.

    Returns:
        The page's address.
    """
    check_port(host, port)
    if not _is_loopback(host):
        print(f"warning: --host {host}: the page is reachable from other machines and has no "
              "authentication", file=sys.stderr, flush=True)
    page.queue(default_concurrency_limit=1, max_size=QUEUE_SIZE)
    page.launch(server_name=host, server_port=port, share=False, quiet=True,
                prevent_thread_lock=True, max_file_size=MAX_IMAGE_BYTES, show_error=True,
                footer_links=[], ssr_mode=False, inbrowser=False)
    address = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/"
    print(f"demo: serving on {address} (Ctrl-C stops it)", flush=True)
    if block:
        try:
            page.block_thread()
        except KeyboardInterrupt:
            pass
        finally:
            page.close()
    return address


def app_of_run(run):
    """The app that trained `run` (a folder or its model file): metrics.json's "app", else
    the `runs/<app>/` its path sits in."""
    from apps import cli

    if run in (None, "latest"):
        raise UsageError("--run latest needs an app: use `rnn-suite <app> demo`, or name the "
                         "run folders")
    path = Path(run)
    if path.is_dir():
        path = path / run_dir_module.MODEL_FILE
    if not path.is_file():
        raise UsageError(f"--run {run}: no such run (expected a run folder holding "
                         f"{run_dir_module.MODEL_FILE}, or the model file)")
    metrics = path.parent / run_dir_module.METRICS_FILE
    try:
        app = json.loads(metrics.read_text()).get("app") if metrics.is_file() else None
    except (OSError, ValueError):
        app = None
    if app is None:
        app = next((part for part in reversed(path.parent.parts[:-1]) if part in cli.APPS), None)
    if app not in cli.APPS:
        raise UsageError(f"--run {run}: cannot tell which app trained it (no metrics.json "
                         "naming it, and not under runs/<app>/); use `rnn-suite <app> demo`")
    return app


def _check_gradio():
    if importlib.util.find_spec("gradio") is None:
        raise UsageError("the demo needs Gradio, which is not installed: pip install -e "
                         "'.[demo]' (or pip install gradio)")


def demo_many_command(args):
    """`rnn-suite demo --run A --run B`: one tab per run, each laid out by the run's app."""
    from apps.common import trained_run

    _check_gradio()
    check_port(args.host, args.port)
    runs = []
    for run in args.run:
        app = app_of_run(run)
        trained = trained_run.open_run(app, run, demo_module(app).CONFIG_CLASS)
        trained.model  # noqa: B018 - loaded once, at start-up
        runs.append((app, trained))
    page = build_page(runs, DemoOptions(beam_size=args.beam_size))
    return serve(page, args.host, args.port)


def demo_command(app, config_class, args):
    """`rnn-suite <app> demo --run DIR`: load the run once, then serve its page."""
    from apps.common import trained_run

    _check_gradio()
    check_port(args.host, args.port)  # before the model loads: a busy port fails at once
    trained = trained_run.open_run(app, args.run, config_class)
    trained.model  # noqa: B018 - loaded once, at start-up
    page = build_page([(app, trained)], DemoOptions(beam_size=getattr(args, "beam_size", None)))
    return serve(page, args.host, args.port)
