"""Each kind of bad input: a one-line message saying what was expected, exit status 2."""

import pytest
from app_testutils import TINY, run_cli


def _assert_usage_error(status, err, *fragments):
    assert status == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert lines[0].startswith("rnn-suite")
    for fragment in fragments:
        assert fragment in lines[0]


def test_missing_image(trained_run, tmp_path, capsys):
    status, _, err = run_cli(capsys, "mnist", "predict", "--run", trained_run, tmp_path / "no.png")
    _assert_usage_error(status, err, "no.png does not exist", "expected an image file")


def test_file_that_is_not_an_image(trained_run, tmp_path, capsys):
    notes = tmp_path / "notes.png"
    notes.write_text("not pixels")
    status, _, err = run_cli(capsys, "mnist", "predict", "--run", trained_run, notes)
    _assert_usage_error(status, err, "is not an image", "expected an image file")


def test_run_dir_without_model(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    status, _, err = run_cli(capsys, "mnist", "evaluate", "--run", tmp_path / "empty")
    _assert_usage_error(status, err, "has no model.keras", "rnn-suite mnist train")


def test_run_dir_that_does_not_exist(tmp_path, capsys):
    status, _, err = run_cli(capsys, "mnist", "evaluate", "--run", tmp_path / "nowhere")
    _assert_usage_error(status, err, "does not exist", "model.keras")


@pytest.mark.parametrize("damage", ["not_zip", "truncated", "garbled_weights"])
def test_corrupted_model(trained_run, tmp_path, capsys, damage):
    import zipfile

    good = (trained_run / "model.keras").read_bytes()
    run = tmp_path / damage
    run.mkdir()
    model = run / "model.keras"
    if damage == "not_zip":
        model.write_text("hello")
    elif damage == "truncated":
        model.write_bytes(good[: len(good) // 2])
    else:
        with zipfile.ZipFile(trained_run / "model.keras") as source, \
                zipfile.ZipFile(model, "w") as target:
            for name in source.namelist():
                target.writestr(name, b"garbage" if name.endswith(".h5") else source.read(name))
    image = tmp_path / "digit.png"
    from PIL import Image

    Image.new("L", (28, 28)).save(image)
    status, _, err = run_cli(capsys, "mnist", "predict", "--run", run, image)
    _assert_usage_error(status, err, "cannot load", "model.keras")


@pytest.mark.parametrize("flags, fragments", [
    (["--mode", "columns"], ["--mode", "invalid choice", "pixel", "permuted", "row"]),
    (["--cell", "transformer"], ["--cell", "invalid choice", "rnn", "gru", "lstm"]),
    (["--units", "0"], ["--units must be a positive integer, got 0"]),
    (["--units", "many"], ["--units", "expected an integer"]),
    (["--learning-rate", "0"], ["--learning-rate must be > 0"]),
    (["--dropout", "1.5"], ["--dropout must be < 1.0"]),
])
def test_bad_flags(capsys, flags, fragments):
    status, _, err = run_cli(capsys, "mnist", "train", *flags)
    _assert_usage_error(status, err, *fragments)


def test_chrono_init_of_a_cell_without_gates_is_refused_with_nothing_written(in_tmp, capsys):
    status, _, err = run_cli(capsys, "mnist", "train", *TINY, "--cell", "rnn", "--chrono-init",
                             "--run-dir", "chrono")
    _assert_usage_error(status, err, "--chrono-init", "--cell rnn has no gates")
    assert not (in_tmp / "chrono").exists()


def test_bad_value_in_config_file(tmp_path, capsys):
    config = tmp_path / "c.json"
    config.write_text('{"mode": "spiral"}')
    status, _, err = run_cli(capsys, "mnist", "train", "--config", config)
    _assert_usage_error(status, err, "--mode must be one of pixel, permuted, row")
    config.write_text('{"unit": 3}')
    status, _, err = run_cli(capsys, "mnist", "train", "--config", config)
    _assert_usage_error(status, err, "unknown setting(s) unit")
    status, _, err = run_cli(capsys, "mnist", "train", "--config", tmp_path / "none.json")
    _assert_usage_error(status, err, "does not exist")


def test_data_dir_without_mnist(tmp_path, capsys):
    status, _, err = run_cli(capsys, "mnist", "train", *TINY, "--source", "auto",
                             "--data-dir", tmp_path)
    _assert_usage_error(status, err, f"--data-dir {tmp_path} lacks the data", "mnist.npz",
                        "train-images-idx3-ubyte")


def test_data_dir_that_does_not_exist(tmp_path, capsys):
    status, _, err = run_cli(capsys, "mnist", "train", "--data-dir", tmp_path / "nope")
    _assert_usage_error(status, err, "is not a folder")


def test_unknown_app_and_missing_command(capsys):
    status, _, err = run_cli(capsys, "speech", "train")
    _assert_usage_error(status, err, "invalid choice", "mnist")
    status, _, err = run_cli(capsys, "mnist")
    _assert_usage_error(status, err, "required")
