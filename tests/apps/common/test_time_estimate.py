"""A long training says early how long it will take (pixel MNIST takes hours on a CPU)."""

import pytest

from apps.common import training


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def _run(monkeypatch, seconds_per_batch, steps, epochs, first_epoch=0, first_batch=30.0,
         **kwargs):
    clock = Clock()
    monkeypatch.setattr(training.time, "perf_counter", clock)
    timer = training.StepTimer()
    estimate = training.TimeEstimate(timer, after_batches=20, **kwargs)
    callbacks = [timer, estimate]  # the order fit gives them
    for callback in callbacks:
        callback.set_params({"steps": steps, "epochs": epochs})
        callback.on_epoch_begin(first_epoch)
    for batch in range(min(steps, 40)):
        clock.now += first_batch if batch == 0 else seconds_per_batch
        for callback in callbacks:
            callback.on_train_batch_end(batch)
    return estimate.said


def test_a_long_run_is_told_its_epoch_and_total_time(monkeypatch, capsys):
    said = _run(monkeypatch, 1.5, steps=400, epochs=30)
    # 1.5 s x 400 batches = 10 min an epoch; 30 epochs = 5 h. The first batch (tracing) is left out.
    assert said == ("time: 1.50 s a batch here, so an epoch (400 batches) takes about 10 min and "
                    "the 30 epochs to run about 5.0 h, validation passes aside")
    assert said in capsys.readouterr().out


def test_a_resumed_run_counts_only_the_epochs_left(monkeypatch):
    said = _run(monkeypatch, 1.5, steps=400, epochs=30, first_epoch=27)
    assert "the 3 epochs to run about 30 min" in said


def test_the_time_limit_is_named_when_it_comes_first(monkeypatch):
    said = _run(monkeypatch, 1.5, steps=400, epochs=30, time_limit_minutes=120)
    assert said.endswith("--time-limit stops it after 120 min")
    assert "--time-limit" not in _run(monkeypatch, 1.5, steps=400, epochs=30,
                                      time_limit_minutes=600)


def test_a_quick_run_says_nothing(monkeypatch, capsys):
    assert _run(monkeypatch, 0.01, steps=400, epochs=3) == ""
    assert capsys.readouterr().out == ""


def test_after_batches_must_leave_a_batch_to_time():
    with pytest.raises(ValueError, match="after_batches must be at least 1, got 0"):
        training.TimeEstimate(training.StepTimer(), after_batches=0)
