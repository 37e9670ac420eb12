"""Per-model, per-day statistics of served scores (ScoreDaily) and their API."""
import time

import numpy as np
import pytest
from rest_framework.test import APIClient

from rewardtrain.models import ScoreDaily
from rewardtrain.scoring import stats


@pytest.fixture(autouse=True)
def flush_every_time(settings):
    settings.VERDICT_SCORE_STATS_FLUSH_SECONDS = 0
    stats._buffer.clear()
    yield
    stats._buffer.clear()


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_every_answer_is_counted_with_mean_std_quantiles_and_length_correlation(project, ml_engineer, scoring_model):
    client = api(ml_engineer)
    answers = []
    for i in range(3):
        responses = ["the cat thanks", "the cat sits on the big red tree idiot", "a dog runs " * (i + 1) + "thanks"]
        out = client.post(f"/api/v1/projects/{project.pk}/score/", {"prompt": f"p{i}", "responses": responses},
                          format="json").json()
        answers.append((responses, out))
    row = ScoreDaily.objects.get(model_version=scoring_model)
    rewards = np.array([r for _, out in answers for r in out["rewards"]])
    lengths = np.array([len(t) for responses, _ in answers for t in responses], dtype=float)
    assert row.count == 9 and sum(row.histogram) == 9
    day = api(ml_engineer).get(f"/api/v1/models/{scoring_model.pk}/score-stats/").json()
    assert len(day) == 1 and day[0]["count"] == 9
    assert day[0]["mean"] == pytest.approx(rewards.mean(), abs=1e-6)
    assert day[0]["std"] == pytest.approx(rewards.std(), abs=1e-6)
    assert day[0]["length_correlation"] == pytest.approx(np.corrcoef(lengths, rewards)[0, 1], abs=1e-6)
    normalized = sorted(z for _, out in answers for z in out["normalized"])
    assert normalized[0] - 0.1 <= day[0]["normalized_quantiles"]["p50"] <= normalized[-1] + 0.1


def test_quantiles_from_the_histogram_are_within_a_bin_of_the_exact_ones():
    z = np.random.default_rng(0).normal(0.5, 1.5, 20_000)
    q = stats._quantiles(stats.bin_counts(z).tolist())
    for name, p in (("p5", 5), ("p50", 50), ("p95", 95)):
        assert q[name] == pytest.approx(np.percentile(z, p), abs=stats.BIN_WIDTH)


def test_buffered_answers_are_written_once_the_interval_has_passed(project, scoring_model, settings):
    settings.VERDICT_SCORE_STATS_FLUSH_SECONDS = 3600
    stats._last_flush[0] = time.monotonic()  # as if it had just been written
    stats.score_stats_add(model_version_id=scoring_model.pk, responses=["ab", "abcd"], rewards=[1.0, 3.0],
                          normalized=[0.0, 1.0])
    assert stats.score_stats_flush() == 0 and not ScoreDaily.objects.exists()
    assert stats.score_stats_flush(force=True) == 1
    row = ScoreDaily.objects.get()
    assert (row.count, row.sum_reward, row.min_reward, row.max_reward) == (2, 4.0, 1.0, 3.0)
    assert stats.score_day_summary(row)["length_correlation"] == pytest.approx(1.0)


def test_recording_can_be_switched_off(project, ml_engineer, scoring_model, settings):
    settings.VERDICT_SCORE_STATS = False
    api(ml_engineer).post(f"/api/v1/projects/{project.pk}/score/", {"prompt": "p", "responses": ["a"]}, format="json")
    assert not ScoreDaily.objects.exists()
