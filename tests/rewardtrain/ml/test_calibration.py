"""Temperature scaling: sigmoid(delta / T) becomes a probability a user can take at its word."""

import numpy as np
import pytest

from rewardtrain.ml.calibration import (
    expected_calibration_error,
    fit_temperature,
    p_best,
    preference_probability,
)


def overconfident_comparisons(n: int, true_temperature: float, seed: int = 0) -> np.ndarray:
    """r(better) - r(worse) for comparisons whose real odds are sigmoid(s / true_temperature)."""
    rng = np.random.default_rng(seed)
    s = rng.normal(0.0, 4.0, size=n)  # the model's reward differences for (a, b)
    a_wins = rng.random(n) < 1.0 / (1.0 + np.exp(-s / true_temperature))
    return np.where(a_wins, s, -s)  # re-oriented so each entry is r(better) - r(worse)


@pytest.mark.parametrize("true_temperature", [0.5, 2.5])
def test_fit_recovers_a_known_temperature(true_temperature):
    delta = overconfident_comparisons(20000, true_temperature)
    assert fit_temperature(delta) == pytest.approx(true_temperature, rel=0.08)


def test_fitted_temperature_makes_an_overconfident_model_calibrated():
    fit_on, held_out = overconfident_comparisons(5000, 3.0, seed=1), overconfident_comparisons(5000, 3.0, seed=2)
    temperature = fit_temperature(fit_on)
    assert expected_calibration_error(held_out) > 0.1  # raw sigmoid(delta) claims far too much
    assert expected_calibration_error(held_out, temperature) < 0.03
    # Scaling never changes which response wins, so accuracy is untouched.
    assert ((held_out / temperature) > 0).mean() == (held_out > 0).mean()


def test_a_model_no_better_than_chance_gets_a_high_temperature_not_a_negative_one():
    rng = np.random.default_rng(3)
    assert fit_temperature(rng.normal(size=4000)) > 20
    assert fit_temperature(np.array([])) == 1.0


def test_p_best_is_a_distribution_that_the_temperature_flattens():
    rewards = [2.0, 0.5, -1.0]
    sharp, flat = p_best(rewards, 1.0), p_best(rewards, 4.0)
    assert sharp.sum() == pytest.approx(1.0) and flat.sum() == pytest.approx(1.0)
    assert list(np.argsort(-sharp)) == [0, 1, 2] and flat[0] < sharp[0]
    # Two responses: exactly the pairwise preference probability.
    assert p_best([1.3, 0.2], 2.0)[0] == pytest.approx(preference_probability(1.3, 0.2, 2.0))
    assert preference_probability(1.0, 0.0, 2.0) == pytest.approx(1 / (1 + np.exp(-0.5)))


def test_a_perfectly_separated_small_split_keeps_a_finite_temperature():
    """36 validation pairs all ranked right by tiny margins (a 30-step demo model): without Platt's
    smoothed targets T went to 0.0014 and a reward gap of 0.016 became P = 0.99999."""
    delta = np.linspace(0.001, 0.02, 36)
    temperature = fit_temperature(delta)
    probabilities = 1.0 / (1.0 + np.exp(-delta / temperature))
    assert np.isfinite(temperature) and temperature > 0
    assert 0.85 < probabilities.mean() < 37 / 38 + 0.01  # about what 36 wins out of 36 can show
    assert probabilities.max() < 0.9999 and probabilities.min() < 0.7  # unsmoothed: all above 0.9999
