"""Acquisition rounds: checks at creation, chunked scoring through a chord (eager here), picks opened
with a priority and served first, triggers after a promotion and on the schedule."""
import pytest
from django.core.files.storage import default_storage

from annotation.models import Task
from annotation.services import queue
from rewardtrain.active import services
from rewardtrain.active.services import AcquisitionError
from rewardtrain.models import AcquisitionChunk, AcquisitionPick, AcquisitionRound, ModelVersion, TrainingPolicy
from rewardtrain.registry.services import model_version_promote
from tests import factories

from .conftest import EASY, HARD, pool_tasks, register_active_model

pytestmark = pytest.mark.django_db


def run_round(capture, project, **kwargs):
    with capture(execute=True):
        round_ = services.acquisition_round_create(project=project, **kwargs)
    round_.refresh_from_db()
    return round_


def test_create_refuses_clearly_and_saves_nothing(project, trained_bert):
    with pytest.raises(AcquisitionError, match="has no active model: train a model and promote it"):
        services.acquisition_round_create(project=project, strategy="uncertainty", size=2)
    register_active_model(project, trained_bert["dir"])
    with pytest.raises(AcquisitionError, match="has no pool tasks"):
        services.acquisition_round_create(project=project, strategy="uncertainty", size=2)
    pool_tasks(project, EASY[:2])
    with pytest.raises(AcquisitionError, match="strategy: unknown strategy 'best'; choose one of random, "):
        services.acquisition_round_create(project=project, strategy="best", size=2)
    for size in (0, -1, 1.5, True, "3"):
        with pytest.raises(AcquisitionError, match="size: must be a whole number from 1 to 1,000,000"):
            services.acquisition_round_create(project=project, strategy="random", size=size)
    with pytest.raises(AcquisitionError, match="epsilon: must be a number from 0 to 1"):
        services.acquisition_round_create(project=project, strategy="random", size=1, epsilon=2)
    with pytest.raises(AcquisitionError, match="disagreement resamples the project's judged pairs"):
        services.acquisition_round_create(project=project, strategy="disagreement", size=1)
    assert not AcquisitionRound.objects.exists()


def test_one_round_in_flight_per_project(project, active_model, pool, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):  # queued, not run
        first = services.acquisition_round_create(project=project, strategy="uncertainty", size=2)
        with pytest.raises(AcquisitionError, match=f"round {first.pk} of this project is still queued"):
            services.acquisition_round_create(project=project, strategy="random", size=2)
    assert AcquisitionRound.objects.count() == 1


def test_uncertainty_round_scores_in_chunks_and_opens_the_closest_calls_first(
        project, active_model, pool, settings, django_capture_on_commit_callbacks):
    settings.VERDICT_ACQUISITION_CHUNK_TASKS = 3  # 8 pool tasks -> 3 chunks, one Celery task each
    hard = {t.pk for t in pool[len(EASY):]}
    factories.task(project, priority=7.0)  # an open task: the picks must come before it
    round_ = run_round(django_capture_on_commit_callbacks, project, strategy="uncertainty", size=3, epsilon=0,
                       diversity=0, user=None)

    assert (round_.status, round_.progress, round_.pool_size, round_.chunks_total, round_.chunks_done,
            round_.picked) == ("succeeded", 1.0, 8, 3, 3, 3), round_.error
    assert round_.model_version == active_model
    picks = list(AcquisitionPick.objects.filter(round=round_).order_by("rank"))
    assert {p.task_id for p in picks[:2]} == hard  # the model is sure about "thanks" vs "idiot"
    assert [p.score for p in picks] == sorted((p.score for p in picks), reverse=True)
    assert all(len(p.rewards) == 2 for p in picks)
    opened = Task.objects.filter(pk__in=[p.task_id for p in picks])
    assert set(opened.values_list("status", flat=True)) == {Task.Status.OPEN}
    priorities = dict(opened.values_list("id", "priority"))
    assert [priorities[p.task_id] for p in picks] == sorted(priorities.values(), reverse=True)
    assert min(priorities.values()) > 7.0
    assert Task.objects.filter(project=project, status=Task.Status.POOL).count() == 5
    assert sum(round_.pool_scores["pool"]) == 8 and sum(round_.pool_scores["picks"]) == 3
    # The chunks' score files are cleaned up once the picks are recorded.
    assert all(not default_storage.exists(c.result_path) for c in AcquisitionChunk.objects.filter(round=round_))

    annotator = factories.member(project, "annotator")
    served = [queue.task_next(project=project, annotator=annotator)]
    assert served[0].task_id == picks[0].task_id


def test_kway_tasks_dopt_with_labelled_pairs_and_disagreement(
        project, active_model, django_capture_on_commit_callbacks):
    project.mode = "ranking"
    project.save()
    pool_tasks(project, [("the cat runs", "the dog thanks", "the dog idiot", "a tree sits")] + EASY[:3] + HARD)
    for i in range(4):
        factories.imported_pair(project, prompt=f"the sky #{i}", chosen="big cat thanks", rejected="big cat idiot")
    for strategy in ("dopt", "disagreement"):
        round_ = run_round(django_capture_on_commit_callbacks, project, strategy=strategy, size=2, epsilon=0.5)
        assert round_.status == "succeeded", round_.error
        picks = list(round_.picks.order_by("rank"))
        assert len(picks) == 2 and [p.explore for p in picks] == [False, True]
        assert all(p.score >= 0 for p in picks)
    last = run_round(django_capture_on_commit_callbacks, project, strategy="uncertainty", size=10)
    assert (last.status, last.picked) == ("succeeded", 2)  # what the first two rounds left
    kway = AcquisitionPick.objects.get(task__slots__position=2)  # the 3-response task, picked by some round
    assert len(kway.rewards) == 3


def test_random_round_needs_no_scoring_and_a_failed_chunk_fails_the_round(
        project, active_model, pool, django_capture_on_commit_callbacks):
    round_ = run_round(django_capture_on_commit_callbacks, project, strategy="random", size=20)
    assert (round_.status, round_.picked, round_.chunks_total) == ("succeeded", 8, 0)
    assert not Task.objects.filter(status=Task.Status.POOL).exists()

    pool_tasks(project, [("new prompt", "a", "b")])
    ModelVersion.objects.filter(pk=active_model.pk).update(artifact_dir="models/missing")
    broken = ModelVersion.objects.get(pk=active_model.pk)
    from rewardtrain.scoring.cache import cache_clear
    cache_clear()
    round_ = run_round(django_capture_on_commit_callbacks, project, strategy="uncertainty", size=1)
    assert round_.status == "failed" and round_.error.startswith("Scoring chunk 0 failed:")
    assert Task.objects.filter(status=Task.Status.POOL).count() == 1  # nothing opened
    assert broken.pk == round_.model_version_id


def test_execute_and_select_are_safe_to_run_twice(project, active_model, pool, django_capture_on_commit_callbacks):
    round_ = run_round(django_capture_on_commit_callbacks, project, strategy="uncertainty", size=2)
    assert services.acquisition_round_execute(round_id=round_.pk) == "not queued"
    assert services.acquisition_round_select(round_id=round_.pk) == "not scoring"
    chunk = AcquisitionChunk.objects.filter(round=round_).first()
    assert services.acquisition_chunk_score(chunk_id=chunk.pk) == "done"
    assert AcquisitionPick.objects.filter(round=round_).count() == 2


def test_stale_rounds_are_failed_by_the_beat(project, active_model, pool, django_capture_on_commit_callbacks):
    from datetime import timedelta

    from django.utils import timezone

    with django_capture_on_commit_callbacks(execute=False):
        round_ = services.acquisition_round_create(project=project, strategy="uncertainty", size=2)
    AcquisitionRound.objects.filter(pk=round_.pk).update(updated_at=timezone.now() - timedelta(hours=2))
    assert services.acquisition_rounds_fail_stale() == [round_.pk]
    round_.refresh_from_db()
    assert round_.status == "failed" and "a worker was lost" in round_.error


def test_a_promotion_starts_a_round_when_the_policy_says_so(
        project, trained_bert, pool, django_capture_on_commit_callbacks):
    old = register_active_model(project, trained_bert["dir"], version=1)
    new = register_active_model(project, trained_bert["dir"], version=2, status=ModelVersion.Status.CANDIDATE)
    TrainingPolicy.objects.create(project=project, acquire_after_promote=True, acquire_strategy="uncertainty",
                                  acquire_size=2)
    with django_capture_on_commit_callbacks(execute=True):
        model_version_promote(model_version=new)
    round_ = AcquisitionRound.objects.get()
    assert (round_.trigger, round_.model_version, round_.status, round_.picked) == ("promote", new, "succeeded", 2)
    assert old.pk != new.pk


def test_the_auto_promote_path_also_starts_a_round(project, trained_bert, pool, django_capture_on_commit_callbacks):
    from rewardtrain.models import TrainingRun
    from rewardtrain.registry.auto_promote import model_version_auto_promote
    from tests.rewardtrain.training.conftest import learnable_project, snapshot_of

    snapshot = snapshot_of(learnable_project(project))
    run = TrainingRun.objects.create(project=project, snapshot=snapshot, trigger="schedule", status="succeeded")
    new = register_active_model(project, trained_bert["dir"], version=1, status=ModelVersion.Status.CANDIDATE)
    new.run = run
    new.validation_report = {"accuracy": 0.9, "n": 10, "active_model": None}
    new.save()
    TrainingPolicy.objects.create(project=project, auto_promote=True, acquire_after_promote=True,
                                  acquire_strategy="random", acquire_size=1)
    with django_capture_on_commit_callbacks(execute=True):
        decision = model_version_auto_promote(model_version=new)
    assert decision["outcome"] == "promoted", decision
    assert AcquisitionRound.objects.get().trigger == "promote"


def test_the_schedule_starts_a_round_when_due(project, active_model, pool, django_capture_on_commit_callbacks):
    assert services.acquisition_rounds_schedule() == {}
    TrainingPolicy.objects.create(project=project, acquire_every_hours=6, acquire_strategy="random", acquire_size=1)
    with django_capture_on_commit_callbacks(execute=True):
        outcome = services.acquisition_rounds_schedule()
    round_ = AcquisitionRound.objects.get()
    assert outcome == {str(project.pk): f"started round {round_.pk}"}
    assert round_.trigger == "schedule"
    assert services.acquisition_rounds_schedule() == {str(project.pk): "not due"}


def test_the_acquisition_policy_is_set_from_the_page_and_the_api_and_checked(client, project, ml_engineer):
    from django.urls import reverse
    from rest_framework.test import APIClient

    from rewardtrain.training.policy import PolicyError, training_policy_update

    client.force_login(ml_engineer)
    assert 'name="acquire_strategy"' in client.get(reverse("run-list", args=[project.pk])).content.decode()
    response = client.post(reverse("run-policy", args=[project.pk]),
                           {"retrain_every": 0, "promote_confidence": 0.95, "acquire_after_promote": "on",
                            "acquire_every_hours": 12, "acquire_strategy": "uncertainty", "acquire_size": 20})
    assert response.status_code == 302
    policy = TrainingPolicy.objects.get(project=project)
    assert (policy.acquire_after_promote, policy.acquire_every_hours, policy.acquire_strategy,
            policy.acquire_size) == (True, 12, "uncertainty", 20)
    api = APIClient()
    api.force_authenticate(ml_engineer)
    url = f"/api/v1/projects/{project.pk}/training-policy/"
    changed = api.patch(url, {"acquire_strategy": "dopt", "acquire_size": 5}, format="json")
    assert changed.status_code == 200 and changed.json()["acquire_strategy"] == "dopt"
    assert api.patch(url, {"acquire_size": 0}, format="json").status_code == 400
    with pytest.raises(PolicyError, match="acquire_strategy must be one of random, uncertainty"):
        training_policy_update(project=project, acquire_strategy="best")
    assert TrainingPolicy.objects.get(project=project).acquire_size == 5


def test_candidate_sample_is_uniform_seeded_and_bounded():
    pool = list(range(1000, 1100))
    sample = services.candidate_sample(pool, max_candidates=10, seed=3)
    assert len(sample) == 10 and sample == sorted(sample) and set(sample) <= set(pool)
    assert services.candidate_sample(pool, max_candidates=10, seed=3) == sample  # recorded seed → same sample
    assert services.candidate_sample(pool, max_candidates=10, seed=4) != sample
    assert services.candidate_sample(pool, max_candidates=0, seed=3) == pool  # 0 = the whole pool
    assert services.candidate_sample(pool, max_candidates=100, seed=3) == pool
    # Uniform: over many seeds every task is drawn about equally often (10 % each).
    counts = {t: 0 for t in pool}
    for seed in range(2000):
        for t in services.candidate_sample(pool, max_candidates=10, seed=seed):
            counts[t] += 1
    assert 120 < min(counts.values()) and max(counts.values()) < 290


def test_a_capped_round_scores_a_recorded_sample_of_the_pool(
        project, active_model, pool, settings, django_capture_on_commit_callbacks):
    settings.VERDICT_ACQUISITION_CHUNK_TASKS = 2
    settings.VERDICT_ACQUISITION_MAX_CANDIDATES = 5  # the default cap: 5 of the 8 pool tasks are scored
    round_ = run_round(django_capture_on_commit_callbacks, project, strategy="uncertainty", size=3, seed=11)
    assert round_.status == "succeeded", round_.error
    assert (round_.pool_size, round_.params["max_candidates"], round_.params["candidates"],
            round_.chunks_total) == (8, 5, 5, 3)
    scored = [t for c in AcquisitionChunk.objects.filter(round=round_).order_by("index") for t in c.task_ids]
    pool_ids = sorted(t.pk for t in pool)
    assert scored == services.candidate_sample(pool_ids, max_candidates=5, seed=11)
    assert {p.task_id for p in round_.picks.all()} <= set(scored) and round_.picked == 3
    assert sum(round_.pool_scores["pool"]) == 5  # the histogram covers what was scored

    # Per round: 0 scores the whole (remaining) pool, whatever the setting says.
    whole = run_round(django_capture_on_commit_callbacks, project, strategy="uncertainty", size=1, max_candidates=0)
    assert (whole.status, whole.pool_size, whole.params["candidates"], whole.chunks_total) == ("succeeded", 5, 5, 3)


def test_max_candidates_is_checked(project, active_model, pool):
    for bad in (-1, 1.5, True, "10"):
        with pytest.raises(AcquisitionError, match="max_candidates: must be a whole number from 0 "):
            services.acquisition_round_create(project=project, strategy="uncertainty", size=2, max_candidates=bad)
    with pytest.raises(AcquisitionError, match="max_candidates: 2 candidates cannot yield 3 picks"):
        services.acquisition_round_create(project=project, strategy="uncertainty", size=3, max_candidates=2)
    assert not AcquisitionRound.objects.exists()
