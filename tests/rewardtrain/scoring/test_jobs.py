"""Batch scoring jobs with a real tiny model: score, curate (top k / threshold / top p %), policy A/B."""
import json

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from rewardtrain.scoring.cache import model_options
from rewardtrain.ml import RewardModel
from rewardtrain.models import ScoringJob
from rewardtrain.scoring import jobs
from rewardtrain.scoring.services import NoActiveModel, ScoringError

GOOD, BAD = "thanks", "idiot"


def upload(rows, name="rows.jsonl") -> SimpleUploadedFile:
    lines = [(r if isinstance(r, str) else json.dumps(r)) for r in rows]
    return SimpleUploadedFile(name, ("\n".join(lines) + "\n").encode())


def run(project, kind, files, **params) -> ScoringJob:
    job = jobs.scoring_job_create(project=project, kind=kind, files=files, params=params or None, enqueue=False)
    seen = []
    assert jobs.scoring_job_execute(job_id=job.pk, progress=seen.append) == "succeeded"
    job.refresh_from_db()
    assert seen[-1] == 1.0 and seen == sorted(seen)
    return job


def result_rows(job):
    with default_storage.open(job.result, "rb") as handle:
        return [json.loads(line) for line in handle]


def prompt_rows(n=6, per=3):
    return [{"prompt": f"the sky {i}", "responses": [f"blue {GOOD}", f"red {BAD}", f"the tree {GOOD} {GOOD}"][:per],
             "id": f"row-{i}"} for i in range(n)]


def test_score_writes_every_row_back_with_rewards_in_chunks(project, scoring_model, trained_bert, settings):
    settings.VERDICT_SCORING_CHUNK_ROWS = 4  # several chunks, and rows that straddle them
    rows = prompt_rows(5) + [{"prompt": [{"role": "user", "content": "a chat"}], "response": f"fine {GOOD}"}]
    job = run(project, "score", [upload(rows)])
    out = result_rows(job)
    assert [r.get("id") for r in out] == [r.get("id") for r in rows]  # order and extra keys kept
    direct = RewardModel(trained_bert["dir"], **model_options())
    expected = direct.score(["the sky 0"] * 3, rows[0]["responses"])[:, 0]
    assert out[0]["rewards"] == pytest.approx(expected.tolist(), abs=1e-5)
    assert sum(out[0]["p_best"]) == pytest.approx(1.0)
    assert "p_best" not in out[-1] and len(out[-1]["rewards"]) == 1
    assert job.summary["rows"] == 6 and job.summary["responses"] == 16
    assert sum(job.summary["histogram"]["counts"]) == 16
    assert job.model_version == scoring_model and job.status == "succeeded" and job.progress == 1.0


def test_curate_top_k_keeps_the_best_k_of_each_prompt(project, scoring_model):
    rows = prompt_rows(4) + [{"prompt": "the sky 0", "response": f"sits {BAD} {BAD}"}]  # the same prompt, later
    job = run(project, "curate", [upload(rows)], mode="top_k", k=1)
    kept = result_rows(job)
    assert len(kept) == 4 and job.summary["kept"] == 4 and job.summary["dropped"] == 9
    assert all(GOOD in item["response"] for item in kept)
    assert [item["prompt"] for item in kept] == [f"the sky {i}" for i in range(4)]  # file order
    assert all(set(item) >= {"prompt", "response", "reward", "reward_normalized", "id"} for item in kept)
    assert sum(job.summary["histogram"]["all"]) == 13 and sum(job.summary["histogram"]["kept"]) == 4


def test_curate_threshold_and_top_percent(project, scoring_model):
    rows = prompt_rows(4)
    scored = result_rows(run(project, "curate", [upload(rows)], mode="top_percent", percent=100))
    rewards = sorted(item["reward"] for item in scored)
    middle = rewards[len(rewards) // 2]
    by_threshold = result_rows(run(project, "curate", [upload(rows)], mode="threshold", threshold=middle))
    assert sorted(i["reward"] for i in by_threshold) == [r for r in rewards if r >= middle]
    top = run(project, "curate", [upload(rows)], mode="top_percent", percent=25)
    kept = result_rows(top)
    assert len(kept) == 3  # ceil(12 * 25 %)
    assert sorted(i["reward"] for i in kept) == pytest.approx(rewards[-3:])


def test_policy_ab_win_rate_with_a_bootstrap_interval(project, scoring_model):
    a = [{"prompt": f"the dog {i}", "response": f"runs {BAD}"} for i in range(30)]
    b = [{"prompt": f"the dog {i}", "response": f"runs {GOOD}"} for i in reversed(range(30))]
    b.append({"prompt": "only in b", "response": "x"})
    job = run(project, "ab", [upload(a, "a.jsonl"), upload(b, "b.jsonl")])
    s = job.summary
    assert s["prompts_compared"] == 30 and s["only_in_b"] == 1 and s["only_in_a"] == 0
    assert s["wins_b"] == 30 and s["win_rate_b"] == 1.0 and s["ci95"] == [1.0, 1.0]
    table = result_rows(job)
    assert [r["prompt"] for r in table] == [f"the dog {i}" for i in range(30)]  # A's order
    assert all(r["winner"] == "B" and r["difference"] > 0 for r in table)
    assert sum(s["histogram"]["counts"]) == 30 and len(s["table"]) == 30


def test_bootstrap_interval_covers_the_rate_and_narrows_with_more_prompts():
    rate, low, high = jobs.win_rate_interval(wins=30, ties=10, losses=20)
    assert rate == pytest.approx(35 / 60) and low < rate < high
    _, low_big, high_big = jobs.win_rate_interval(wins=3000, ties=1000, losses=2000)
    assert high_big - low_big < (high - low) / 5
    with pytest.raises(ScoringError, match="no prompt appears in both files"):
        jobs.win_rate_interval(wins=0, ties=0, losses=0)


@pytest.mark.parametrize("rows, message", [
    ([{"prompt": "p"}], 'rows.jsonl:1: response: missing: give "response"'),
    (['{"prompt": "p", "response": "ok"}', "{not json"], "rows.jsonl:2: invalid JSON"),
    ([{"prompt": "p", "responses": []}], "rows.jsonl:1: responses: must be a non-empty list"),
    ([{"prompt": "p", "responses": ["a", {"text": ""}]}], "rows.jsonl:1: responses[1].text: must not be empty"),
    ([], "rows.jsonl: the file holds no rows"),
])
def test_a_bad_file_is_refused_whole_and_nothing_is_stored(project, scoring_model, rows, message):
    with pytest.raises(ScoringError) as error:
        jobs.scoring_job_create(project=project, kind="score", files=[upload(rows)], enqueue=False)
    assert message in str(error.value)
    assert not ScoringJob.objects.exists()
    assert not default_storage.exists("scoring/inputs")


@pytest.mark.parametrize("params, message", [
    ({"mode": "best"}, "mode: must be one of top_k, threshold, top_percent"),
    ({"mode": "top_k", "k": 0}, "k: a whole number"),
    ({"mode": "top_percent", "percent": 150}, "percent: the share of responses to keep"),
    ({"mode": "threshold"}, "threshold: required, a finite reward"),  # not "got None"
    ({"mode": "threshold", "threshold": "abc"}, "threshold: a finite reward .*, got 'abc'"),
])
def test_bad_curation_rules_are_refused(project, scoring_model, params, message):
    with pytest.raises(ScoringError, match=message):
        jobs.scoring_job_create(project=project, kind="curate", files=[upload(prompt_rows(1))], params=params,
                                enqueue=False)


def test_ab_needs_two_files_and_every_job_needs_a_model(project):
    with pytest.raises(NoActiveModel):
        jobs.scoring_job_create(project=project, kind="score", files=[upload(prompt_rows(1))], enqueue=False)
    with pytest.raises(ScoringError, match="file_b: a policy A/B job takes two files"):
        jobs.scoring_job_create(project=project, kind="ab", files=[upload(prompt_rows(1)), None], enqueue=False)


def test_a_second_delivery_does_not_run_the_job_again(project, scoring_model):
    job = run(project, "score", [upload(prompt_rows(1))])
    assert jobs.scoring_job_execute(job_id=job.pk) == "not claimed"


def test_gzip_input_is_read(project, scoring_model):
    import gzip

    raw = gzip.compress(b"".join(json.dumps(r).encode() + b"\n" for r in prompt_rows(2)))
    job = run(project, "score", [SimpleUploadedFile("rows.jsonl.gz", raw)])
    assert job.summary["rows"] == 2


def test_a_job_whose_worker_was_lost_is_marked_failed_by_the_beat_task(project, scoring_model, settings):
    from datetime import timedelta

    from django.utils import timezone

    from rewardtrain import tasks

    job = jobs.scoring_job_create(project=project, kind="score", files=[upload(prompt_rows(1))], enqueue=False)
    ScoringJob.objects.filter(pk=job.pk).update(status="running", started_at=timezone.now() - timedelta(hours=7))
    fresh = jobs.scoring_job_create(project=project, kind="score", files=[upload(prompt_rows(1))], enqueue=False)
    ScoringJob.objects.filter(pk=fresh.pk).update(status="running", started_at=timezone.now())
    assert tasks.scoring_jobs_fail_stale.delay().get() == [job.pk]
    job.refresh_from_db()
    assert job.status == "failed" and job.error.startswith("worker lost: still running 6 h after it started")
    assert ScoringJob.objects.get(pk=fresh.pk).status == "running"
