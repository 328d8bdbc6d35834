"""McNemar's exact test (`apps.common.paired_test.mcnemar`) against known answers."""

import pytest
from scipy import stats

from apps.common.paired_test import mcnemar


def test_only_the_disagreements_count_and_p_is_the_two_sided_binomial():
    labels = [1] * 20
    ours = [1] * 12 + [0] * 8            # right on the first 12
    peer = [1] * 5 + [0] * 12 + [1] * 3  # right on the first 5 and the last 3
    result = mcnemar(labels, ours, peer)
    # Ours alone right on 5-11 (7), the peer alone on 17-19 (3).
    assert result["ours_only"] == 7 and result["peer_only"] == 3
    assert result["p_value"] == pytest.approx(stats.binomtest(7, 10, 0.5).pvalue)
    assert result["p_value"] == pytest.approx(2 * sum(stats.binom.pmf(k, 10, 0.5)
                                                      for k in range(0, 4)))


def test_booleans_are_decisions_of_a_binary_task():
    assert mcnemar([1, 0, 1], [True, False, False], [False, False, True]) == \
        {"ours_only": 1, "peer_only": 1, "p_value": 1.0}


def test_no_disagreement_is_no_evidence():
    assert mcnemar([0, 1], [0, 1], [0, 1])["p_value"] == 1.0


def test_a_decision_missing_is_an_error_that_says_so():
    with pytest.raises(ValueError, match="one decision per label"):
        mcnemar([0, 1, 2], [0, 1], [0, 1, 2])
