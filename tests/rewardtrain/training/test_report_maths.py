"""rewardtrain.ml.report: the numbers the validation report is built from, on hand-made rows."""
import math

import pytest

from rewardtrain.ml import report


def test_equal_scores_count_as_wrong_and_ties_are_left_out():
    correct = report.pair_correct([2.0, 1.0, 0.5, 9.0], [1.0, 1.0, 0.7, 0.0], [False, False, False, True])
    assert correct.tolist() == [True, False, False]
    assert report.accuracy(correct) == pytest.approx(1 / 3)
    assert report.accuracy(report.pair_correct([], [], [])) is None


def test_longer_wins_baseline_counts_equal_lengths_as_wrong():
    assert report.longer_wins([10, 3, 5, 8], [4, 9, 5, 1], [False, False, False, True]) == {
        "accuracy": pytest.approx(1 / 3), "pairs": 3}


def test_agreement_ceiling_uses_only_rows_with_overlapping_votes():
    assert report.agreement_ceiling([1.0, 0.5, 1.0, 0.75], [1, 2, 3, 4]) == {
        "accuracy": pytest.approx((0.5 + 1.0 + 0.75) / 3), "pairs": 3}
    assert report.agreement_ceiling([1.0, 1.0], [1, None]) is None


def test_histograms_share_edges_and_count_every_reward():
    hist = report.reward_histograms([0.0, 1.0, 2.0], [2.0, -1.0], bins=3)
    assert hist["edges"] == pytest.approx([-1.0, 0.0, 1.0, 2.0])
    assert (hist["chosen"], hist["rejected"]) == ([0, 1, 2], [1, 0, 1])
    constant = report.reward_histograms([1.0], [1.0], bins=2)
    assert constant["edges"] == pytest.approx([0.5, 1.0, 1.5]) and sum(constant["chosen"]) == 1


def test_paired_bootstrap_interval_covers_the_difference_and_sees_a_clear_winner():
    better = [True] * 90 + [False] * 10
    worse = [True] * 60 + [False] * 40
    result = report.paired_bootstrap(better, worse, samples=500, seed=1)
    assert result["difference"] == pytest.approx(0.3)
    assert 0.15 < result["low"] < 0.3 < result["high"] < 0.45
    assert result["p_a_better"] == 1.0
    same = report.paired_bootstrap(better, better, samples=200)
    assert (same["difference"], same["low"], same["high"], same["p_a_better"]) == (0.0, 0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="same pairs"):
        report.paired_bootstrap([True], [True, False])


def test_report_values_are_made_json_safe():
    assert report.finite_or_none({"a": [math.nan, 1.0], "b": math.inf, "c": "x"}) == {"a": [None, 1.0], "b": None,
                                                                                       "c": "x"}
