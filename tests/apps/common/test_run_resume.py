"""Which interrupted run folder a `train` command resumes (apps/common/run_dir.py)."""

import json

import pytest

from apps.common import run_dir
from apps.common.config import build_config
from apps.common.errors import UsageError
from apps.mnist.config import MnistConfig


def _interrupted_run(tmp_path, **settings):
    config = build_config(MnistConfig, dict(run_dir=str(tmp_path / "run"), **settings))
    run = run_dir.start_training_run("mnist", config)
    (run.path / run_dir.LOCK_FILE).unlink()  # the process that trained it is gone
    return run.path


def test_the_same_settings_resume_and_other_settings_are_refused(tmp_path):
    path = _interrupted_run(tmp_path, units=8)
    same = build_config(MnistConfig, dict(run_dir=str(path), units=8, time_limit=3))
    assert run_dir.start_training_run("mnist", same).resumed
    (path / run_dir.LOCK_FILE).unlink()
    other = build_config(MnistConfig, dict(run_dir=str(path), units=9))
    with pytest.raises(UsageError, match="interrupted run with other settings"):
        run_dir.start_training_run("mnist", other)


def test_a_run_saved_before_a_setting_existed_resumes_with_its_default(tmp_path):
    path = _interrupted_run(tmp_path, units=8)
    saved = json.loads((path / run_dir.CONFIG_FILE).read_text())
    del saved["builtin_layers"], saved["chrono_init"]  # as an older release wrote it
    (path / run_dir.CONFIG_FILE).write_text(json.dumps(saved))
    again = build_config(MnistConfig, dict(run_dir=str(path), units=8))
    assert run_dir.start_training_run("mnist", again).resumed
    (path / run_dir.LOCK_FILE).unlink()
    (path / run_dir.CONFIG_FILE).write_text(json.dumps(saved))
    # Not with a value the old run cannot have been trained with.
    changed = build_config(MnistConfig, dict(run_dir=str(path), units=8, chrono_init=True))
    with pytest.raises(UsageError, match="interrupted run with other settings"):
        run_dir.start_training_run("mnist", changed)
