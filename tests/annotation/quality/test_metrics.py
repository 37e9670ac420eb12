"""The quality maths against examples worked by hand (the arithmetic is in each test)."""
import math

import numpy as np
import pytest

from annotation.quality import metrics
from annotation.quality.units import choice_labels

# Three units, three annotators each: AAA, AAB, BB-tie.
UNITS = [["A", "A", "A"], ["A", "A", "B"], ["B", "B", "tie"]]


def counts():
    return metrics.value_counts(UNITS, metrics.CHOICES)


def test_value_counts_is_units_by_category():
    assert counts().tolist() == [[3, 0, 0, 0], [2, 1, 0, 0], [0, 2, 1, 0]]


def test_percent_agreement_pools_annotator_pairs():
    # agreeing ordered pairs: unit 1: 3·2 = 6; unit 2: 2·1 = 2; unit 3: 2·1 = 2 → 10 of 3 · (3·2) = 18
    assert metrics.percent_agreement(counts()) == pytest.approx(10 / 18)


def test_fleiss_kappa_by_hand():
    # P̄ = (6/6 + 2/6 + 2/6) / 3 = 5/9; shares A 5/9, B 3/9, tie 1/9 → P̄e = (25 + 9 + 1) / 81 = 35/81
    # κ = (5/9 − 35/81) / (1 − 35/81) = (45 − 35) / (81 − 35) = 10/46
    assert metrics.fleiss_kappa(counts()) == pytest.approx(10 / 46)


def test_fleiss_kappa_needs_the_same_number_of_labels_everywhere():
    assert metrics.fleiss_kappa(metrics.value_counts([["A", "A"], ["A", "B", "B"]], metrics.CHOICES)) is None


def test_nominal_alpha_by_hand():
    # Coincidences o_ck = Σ_u (pairs c,k in u) / (m_u − 1): unit 1 o_AA = 6/2 = 3; unit 2 o_AA = 1,
    # o_AB = o_BA = 1; unit 3 o_BB = 1, o_Bt = o_tB = 1. n = 9, disagreeing mass 4 → Do = 4/9.
    # n_A = 5, n_B = 3, n_t = 1: De = (9² − 25 − 9 − 1) / (9 · 8) = 46/72. α = 1 − Do/De = 1 − 32/46 = 14/46.
    assert metrics.alpha(counts(), metrics.CHOICES, "nominal") == pytest.approx(14 / 46)


def test_interval_alpha_by_hand():
    # Two units, two annotators: (1, 1) and (−1, 1). Values: 1 ×3, −1 ×1, n = 4.
    # Do = Σ o_ck (c − k)² / n = (o_{−1,1} + o_{1,−1}) · 4 / 4 = (1 + 1) · 4 / 4 = 2
    # De = Σ n_c n_k (c − k)² / (n (n − 1)) = 2 · 3 · 1 · 4 / 12 = 2  → α = 1 − 2/2 = 0
    c = metrics.value_counts([[1.0, 1.0], [-1.0, 1.0]], [-1.0, 1.0])
    assert metrics.alpha(c, [-1.0, 1.0], "interval") == pytest.approx(0.0)
    perfect = metrics.value_counts([[2.0, 2.0], [-1.0, -1.0]], [-1.0, 2.0])
    assert metrics.alpha(perfect, [-1.0, 2.0], "interval") == pytest.approx(1.0)


def test_alpha_is_undefined_without_variation():
    assert metrics.alpha(metrics.value_counts([["A", "A"], ["A", "A"]], metrics.CHOICES), metrics.CHOICES,
                         "nominal") is None


def test_weighted_sums_at_unit_weights_are_the_plain_statistics():
    # The bootstrap's linear form must give the package's α and our κ and raw agreement on the data itself.
    rng = np.random.default_rng(3)
    units = [list(rng.choice(metrics.CHOICES, size=3, p=[0.5, 0.3, 0.15, 0.05])) for _ in range(60)]
    c = metrics.value_counts(units, metrics.CHOICES)
    plain = metrics.Agreement(c, metrics.CHOICES, "nominal").statistics(np.ones(len(c)) @ metrics.Agreement(
        c, metrics.CHOICES, "nominal").features)
    assert plain["alpha"] == pytest.approx(metrics.alpha(c, metrics.CHOICES, "nominal"))
    assert plain["fleiss_kappa"] == pytest.approx(metrics.fleiss_kappa(c))
    assert plain["percent_agreement"] == pytest.approx(metrics.percent_agreement(c))
    values = [list(rng.choice([-2.0, -1.0, 0.0, 1.0, 2.0], size=int(rng.integers(2, 5)))) for _ in range(60)]
    domain = [-2.0, -1.0, 0.0, 1.0, 2.0]
    v = metrics.value_counts(values, domain)
    interval = metrics.Agreement(v, domain, "interval")
    assert interval.statistics(np.ones(len(v)) @ interval.features)["alpha"] == pytest.approx(
        metrics.alpha(v, domain, "interval"))
    assert interval.statistics(np.ones(len(v)) @ interval.features)["fleiss_kappa"] is None  # unequal counts


def test_bootstrap_is_seeded_and_brackets_the_estimate():
    units = [["A", "A"]] * 30 + [["A", "B"]] * 10
    c = metrics.value_counts(units, metrics.CHOICES)
    blocks = metrics.task_blocks(list(range(len(units))))
    [ci] = metrics.agreement_bootstrap(blocks, [metrics.Agreement(c, metrics.CHOICES, "nominal")])
    assert [ci] == metrics.agreement_bootstrap(blocks, [metrics.Agreement(c, metrics.CHOICES, "nominal")])
    low, high = ci["percent_agreement"]
    assert low < 0.75 < high and 0.5 < low and high <= 1


def test_bootstrap_moves_a_tasks_units_together():
    # task 7 has three units, task 9 one: every resample takes whole runs of the same task
    starts, lengths = metrics.task_blocks([7, 7, 7, 9])
    assert starts.tolist() == [0, 3] and lengths.tolist() == [3, 1]


def test_wilson_interval_known_value():
    # 8 of 10, z = 1.96: centre (0.8 + 0.19208) / 1.38415 = 0.71674; half 1.96·√(0.016 + 0.0096040)/1.38415 = 0.22657
    low, high = metrics.wilson_interval(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-4) and high == pytest.approx(0.9433, abs=1e-4)
    assert metrics.wilson_interval(0, 0) is None


def test_binomial_test_against_half():
    # P(X ≥ 15 | n = 20, p = ½) = 21700 / 2^20 ; two-sided doubles it
    assert metrics.binomial_p(15, 20) == pytest.approx(2 * 21700 / 2**20)
    assert metrics.binomial_p(10, 20) == pytest.approx(1.0)


def test_bradley_terry_two_models_closed_form():
    # 30 wins to 10: θ₁ − θ₂ = log(30/10) = log 3, centred ±(log 3)/2; Elo gap 400·log10(3) = 190.8
    theta = metrics.bradley_terry(np.array([[0, 30.0], [10.0, 0]]))
    assert theta[0] == pytest.approx(math.log(3) / 2, abs=1e-3) and theta[1] == pytest.approx(-theta[0])
    board = metrics.leaderboard({(0, 1): [30, 10, 0]}, 2)
    assert board["rating"][0] - board["rating"][1] == pytest.approx(400 * math.log10(3), abs=0.5)
    assert board["win_rate"][0, 1] == pytest.approx(0.75)
    assert board["rating_low"][0] < board["rating"][0] < board["rating_high"][0]


def test_ties_count_half_a_win_each_way():
    board = metrics.leaderboard({(0, 1): [10, 10, 20]}, 2)
    assert board["win_rate"][0, 1] == pytest.approx(0.5) and board["theta"][0] == pytest.approx(0, abs=1e-6)


def test_choice_labels_of_a_k_way_ranking_give_every_pair():
    # ranking 12 > {10, 11}: pairs (10, 11) tie; (10, 12) B won by 1 place; (11, 12) B; strength 2 → unit 3
    labels = choice_labels(ranking=[[12], [10, 11]], both_bad=False, strength=2)
    assert labels == {(10, 11): ("tie", 0.0), (10, 12): ("B", -3.0), (11, 12): ("B", -3.0)}
    assert choice_labels(ranking=[[10, 11]], both_bad=True, strength=None) == {(10, 11): ("both_bad", 0.0)}
    assert choice_labels(ranking=[[10], [11], [12]], both_bad=False, strength=None)[(10, 12)] == ("A", 2.0)
