"""The demo pages' shared checks: text and image limits, ports, which app a run belongs to,
and the page of several runs as tabs."""

import json
import socket
import struct
import zlib

import pytest

from apps.common import demo
from apps.common.errors import UsageError


def test_text_is_stripped_and_its_limits_are_checked():
    assert demo.checked_text("  a fine film \n") == "a fine film"
    with pytest.raises(demo.DemoInputError, match="the review is empty"):
        demo.checked_text(" \n\t", "review")
    with pytest.raises(demo.DemoInputError, match="5,001 characters; the page takes at most 5,000"):
        demo.checked_text("x" * 5001)
    with pytest.raises(demo.DemoInputError, match="1,001 words; the page takes at most 1,000"):
        demo.checked_text("a " * 1001)
    assert demo.checked_text("a " * 1000) == ("a " * 1000).strip()


def _png_header_claiming(width, height):
    """A PNG whose header claims width x height pixels (and holds almost no data)."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 8)) + chunk(b"IEND", b""))


def test_images_are_refused_by_header_size_content_and_file_size(tmp_path, monkeypatch):
    from PIL import Image

    good = tmp_path / "good.png"
    Image.new("RGB", (40, 30), "white").save(good)
    assert demo.checked_image_file(str(good)).size == (40, 30)

    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png_header_claiming(100_000, 100_000))
    with pytest.raises(demo.DemoInputError, match="claims more pixels than the page takes"):
        demo.checked_image_file(str(bomb))  # past Pillow's own limit: refused when opened
    big = tmp_path / "big.png"
    big.write_bytes(_png_header_claiming(6_000, 5_000))  # under Pillow's limit, over ours
    with pytest.raises(demo.DemoInputError, match="claims 6,000 x 5,000 pixels"):
        demo.checked_image_file(str(big))

    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(demo.DemoInputError, match="not an image"):
        demo.checked_image_file(str(text))

    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(good.read_bytes()[:60])
    with pytest.raises(demo.DemoInputError, match="damaged|not an image"):
        demo.checked_image_file(str(truncated))

    monkeypatch.setattr(demo, "MAX_IMAGE_BYTES", 10)
    with pytest.raises(demo.DemoInputError, match="the image file has .* MB; the page takes"):
        demo.checked_image_file(str(good))
    with pytest.raises(demo.DemoInputError, match="no image"):
        demo.checked_image_file(None)


def test_a_busy_port_names_itself_and_a_free_one():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(UsageError, match=rf"port {port} on 127.0.0.1 is in use.*--port \d+"):
            demo.check_port("127.0.0.1", port)
    demo.check_port("127.0.0.1", demo.free_port())  # a free one passes


def test_which_app_a_run_belongs_to(tmp_path):
    by_metrics = tmp_path / "anywhere" / "run"
    by_metrics.mkdir(parents=True)
    (by_metrics / "model.keras").write_bytes(b"")
    (by_metrics / "metrics.json").write_text(json.dumps({"app": "translation"}))
    assert demo.app_of_run(str(by_metrics)) == "translation"
    assert demo.app_of_run(str(by_metrics / "model.keras")) == "translation"

    by_folder = tmp_path / "runs" / "mnist" / "20261203-101010"
    by_folder.mkdir(parents=True)
    (by_folder / "model.keras").write_bytes(b"")
    assert demo.app_of_run(str(by_folder)) == "mnist"

    unknown = tmp_path / "elsewhere"
    unknown.mkdir()
    (unknown / "model.keras").write_bytes(b"")
    with pytest.raises(UsageError, match="cannot tell which app trained it"):
        demo.app_of_run(str(unknown))
    with pytest.raises(UsageError, match="no such run"):
        demo.app_of_run(str(tmp_path / "missing"))
    with pytest.raises(UsageError, match="needs an app"):
        demo.app_of_run("latest")


def test_the_limits_line_states_queue_and_time():
    line = demo.limits_note("a review of at most 5,000 characters")
    assert line.startswith("Limits: a review of at most 5,000 characters; requests are queued")
    assert f"{demo.REQUEST_SECONDS} s" in line


def test_a_run_summary_reads_the_runs_metrics(tmp_path):
    from apps.common.trained_run import TrainedRun

    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.json").write_text(json.dumps(
        {"beam": {"CIDEr-D": 0.3781}, "dataset_description": "Flickr8k, 753 images"}))
    summary = demo.run_summary("captioning", TrainedRun("captioning", run / "model.keras"),
                               ("test CIDEr-D (beam)", "beam.CIDEr-D"))
    assert f"`{run}`" in summary and "test CIDEr-D (beam) **0.3781**" in summary
    assert "data: Flickr8k, 753 images" in summary
    (run / "metrics.json").unlink()
    assert "not recorded" in demo.run_summary(
        "captioning", TrainedRun("captioning", run / "model.keras"), ("x", "y"))
