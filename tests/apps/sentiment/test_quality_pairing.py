"""`benchmarks/sentiment_quality.py --pair RUN_A RUN_B`: two finished runs, one paired test."""

import csv

import pytest

from apps.common.errors import UsageError
from benchmarks import sentiment_quality


def _run(folder, labels, probabilities):
    folder.mkdir()
    with open(folder / "test_predictions.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["index", "label", "probability"])
        writer.writerows(zip(range(len(labels)), labels, probabilities))
    return str(folder)


def test_pair_counts_the_disagreements_and_gives_the_exact_p_value(tmp_path, capsys):
    labels = [1, 0, 1, 0, 1, 0, 1, 0, 1, 1]
    # A is right on reviews 0-8, B on 0-3 and 9: A alone right on 4-8 (5), B alone on 9 (1).
    a = [0.9, 0.1, 0.8, 0.2, 0.7, 0.3, 0.6, 0.4, 0.9, 0.2]
    b = [0.9, 0.1, 0.8, 0.2, 0.3, 0.7, 0.4, 0.6, 0.1, 0.8]
    assert sentiment_quality.main(["--pair", _run(tmp_path / "a", labels, a),
                                   _run(tmp_path / "b", labels, b)]) == 0
    out = capsys.readouterr().out
    assert "test accuracy 0.9000" in out and "test accuracy 0.5000" in out
    # Two-sided exact binomial test of 5 of 6 at one half: 2 * (6 + 1) / 64.
    assert "wrong 5, the second" in out and "is wrong 1;" in out
    assert "p = 0.219" in out


def test_pair_scores_the_two_classifiers_averaged(tmp_path, capsys):
    labels = [1, 1, 0, 0]
    # Each alone is right on two reviews; averaged, (0.6, 0.6, 0.325, 0.65), on three:
    # review 1 that only B had and review 0 that only A had.
    a = [0.9, 0.4, 0.2, 0.6]
    b = [0.3, 0.8, 0.45, 0.7]
    sentiment_quality.main(["--pair", _run(tmp_path / "a", labels, a),
                            _run(tmp_path / "b", labels, b)])
    out = capsys.readouterr().out
    assert ("averaged: test accuracy 0.7500; against the first alone 1 / 0 (p = 1), "
            "against the second alone 1 / 0 (p = 1)") in out


def _peer(folder, labels, probabilities):
    with open(folder / sentiment_quality.PEER_PREDICTIONS, "w", newline="",
              encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["index", "label", "probability"])
        writer.writerows(zip(range(len(labels)), labels, probabilities))


def test_pair_pairs_the_average_with_the_peer_a_run_saved(tmp_path, capsys):
    labels = [1, 1, 0, 0, 1]
    # Averaged: (0.6, 0.6, 0.325, 0.65, 0.8) -> right on 0, 1, 2 and 4. The peer is
    # right on 0, 3 and 4: the average alone right on 1 and 2, the peer alone on 3.
    a = [0.9, 0.4, 0.2, 0.6, 0.8]
    b = [0.3, 0.8, 0.45, 0.7, 0.8]
    first = _run(tmp_path / "a", labels, a)
    second = _run(tmp_path / "b", labels, b)
    _peer(tmp_path / "b", labels, [0.7, 0.2, 0.9, 0.1, 0.6])
    sentiment_quality.main(["--pair", first, second])
    out = capsys.readouterr().out
    assert "test accuracy 0.6000): the average right where the peer is wrong 2, " in out
    assert "the peer right where the average is wrong 1, exact McNemar p = 1" in out


def test_pair_says_when_no_run_saved_the_peer(tmp_path, capsys):
    labels = [1, 0]
    sentiment_quality.main(["--pair", _run(tmp_path / "a", labels, [0.9, 0.1]),
                            _run(tmp_path / "b", labels, [0.8, 0.2])])
    assert "the peer is not paired: neither run has peer_test_predictions.csv" in (
        capsys.readouterr().out)


def test_pair_refuses_a_peer_scored_on_other_reviews(tmp_path):
    a = _run(tmp_path / "a", [1, 0], [0.9, 0.1])
    b = _run(tmp_path / "b", [1, 0], [0.8, 0.2])
    _peer(tmp_path / "a", [0, 0], [0.3, 0.2])
    with pytest.raises(UsageError, match="not scored on the same test reviews as the runs"):
        sentiment_quality.main(["--pair", a, b])


def test_pair_refuses_runs_scored_on_different_reviews(tmp_path):
    a = _run(tmp_path / "a", [1, 0, 1], [0.9, 0.1, 0.8])
    b = _run(tmp_path / "b", [1, 1, 1], [0.9, 0.1, 0.8])
    with pytest.raises(UsageError, match="not scored on the same test reviews"):
        sentiment_quality.main(["--pair", a, b])


def test_pair_refuses_a_folder_without_predictions(tmp_path):
    a = _run(tmp_path / "a", [1, 0], [0.9, 0.1])
    with pytest.raises(UsageError, match="has no test_predictions.csv"):
        sentiment_quality.main(["--pair", a, str(tmp_path)])
