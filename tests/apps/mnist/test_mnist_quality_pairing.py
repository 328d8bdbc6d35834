"""`benchmarks/mnist_quality.py --pair RUN_A RUN_B`: two finished runs, one paired test."""

import pytest

from apps.common.errors import UsageError
from apps.mnist import evaluation
from benchmarks import mnist_quality


def _run(folder, labels, predicted):
    folder.mkdir()
    evaluation.write_predictions(folder / evaluation.PREDICTIONS, labels, predicted)
    return str(folder)


def test_pair_counts_the_disagreements_of_ten_classes(tmp_path, capsys):
    labels = [3, 7, 1, 0, 9, 4, 4, 2, 8, 5]
    # A wrong on digit 9 only; B wrong on 4-8, each with another class: A alone right on
    # five, B alone right on none.
    a = [3, 7, 1, 0, 9, 4, 4, 2, 8, 6]
    b = [3, 7, 1, 0, 8, 5, 9, 7, 1, 6]
    paired = mnist_quality.pair_runs(_run(tmp_path / "a", labels, a),
                                     _run(tmp_path / "b", labels, b))
    assert paired == {"ours_only": 5, "peer_only": 0, "p_value": pytest.approx(2 / 32)}
    out = capsys.readouterr().out
    assert "test accuracy 90.00%" in out and "test accuracy 40.00%" in out
    assert "p = 0.0625" in out


def test_pair_through_main_trains_nothing_and_needs_no_budget(tmp_path, capsys):
    labels = [1, 2, 3]
    assert mnist_quality.main(["--pair", _run(tmp_path / "a", labels, labels),
                               _run(tmp_path / "b", labels, [1, 2, 0])]) == 0
    assert "the first right where the second is wrong 1" in capsys.readouterr().out


def test_a_training_run_still_needs_its_budget(capsys):
    with pytest.raises(SystemExit) as exit_info:
        mnist_quality.main(["--only", "row"])
    assert exit_info.value.code == 2
    assert "--minutes is required" in capsys.readouterr().err


def test_pair_refuses_runs_scored_on_different_digits(tmp_path):
    a = _run(tmp_path / "a", [1, 0, 1], [1, 0, 1])
    b = _run(tmp_path / "b", [1, 2, 1], [1, 0, 1])
    with pytest.raises(UsageError, match="not scored on the same test digits"):
        mnist_quality.pair_runs(a, b)


def test_pair_refuses_a_folder_without_predictions(tmp_path):
    a = _run(tmp_path / "a", [1, 0], [1, 0])
    with pytest.raises(UsageError, match="has no test_predictions.csv.*mnist evaluate"):
        mnist_quality.pair_runs(a, str(tmp_path))
