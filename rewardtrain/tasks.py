"""Thin Celery adapters of rewardtrain, each named after the service it calls: take ids, call the
service, safe to run twice. Training runs go to the `training` queue (GPU workers); best-of-N
requests to `scoring` (a worker that keeps models warm and answers in milliseconds); batch scoring
jobs to `scoring_batch` (so a long file never delays a request); the rest to `default`. The beat schedule is in config/settings/base.py."""
import logging

from celery import shared_task
from celery.signals import task_success, worker_process_shutdown, worker_shutdown

from .active.services import acquisition_chunk_score as _acquisition_chunk_score
from .active.services import acquisition_round_execute as _acquisition_round_execute
from .active.services import acquisition_round_select as _acquisition_round_select
from .active.services import acquisition_rounds_fail_stale as _acquisition_rounds_fail_stale
from .active.services import acquisition_rounds_schedule as _acquisition_rounds_schedule
from .monitoring.alerts import alerts_evaluate as _alerts_evaluate
from .monitoring.canaries import canary_scores_compute as _canary_scores_compute
from .scoring.jobs import scoring_job_execute as _scoring_job_execute
from .scoring.model_agreement import model_agreement_refresh as _model_agreement_refresh
from .scoring.model_agreement import model_agreements_refresh_due as _model_agreements_refresh_due
from .scoring.jobs import scoring_jobs_fail_stale as _scoring_jobs_fail_stale
from .scoring.services import scores_for_version as _scores_for_version
from .scoring.services import scores_recorded, scores_reply
from .snapshots.jobs import snapshot_job_execute as _snapshot_job_execute
from .snapshots.jobs import snapshot_jobs_fail_stale as _snapshot_jobs_fail_stale
from .training.policy import training_policies_trigger as _training_policies_trigger
from .training.runner import training_run_execute as _training_run_execute
from .training.services import training_runs_reap_stale as _training_runs_reap_stale


@shared_task(name="rewardtrain.tasks.training_run_execute", queue="training", acks_late=True)
def training_run_execute(run_id: int) -> str:
    """Trains one run. A second delivery finds it claimed (fresh heartbeat) or finished and exits."""
    return _training_run_execute(run_id=run_id)


@shared_task(name="rewardtrain.tasks.training_runs_reap_stale")
def training_runs_reap_stale() -> dict:
    """Beat, every minute: re-queues or fails runs whose worker stopped beating."""
    return _training_runs_reap_stale()


@shared_task(name="rewardtrain.tasks.snapshot_job_execute")
def snapshot_job_execute(job_id: int) -> str:
    return _snapshot_job_execute(job_id=job_id)


@shared_task(name="rewardtrain.tasks.snapshot_jobs_fail_stale")
def snapshot_jobs_fail_stale() -> list[int]:
    """Beat, every 10 minutes: snapshot jobs whose worker was lost are marked failed."""
    return _snapshot_jobs_fail_stale()


@shared_task(name="rewardtrain.tasks.training_policies_trigger")
def training_policies_trigger() -> dict:
    """Beat, every VERDICT_RETRAIN_CHECK_SECONDS: projects whose retrain count is reached get a snapshot and a run."""
    return _training_policies_trigger()


@shared_task(name="rewardtrain.tasks.acquisition_round_execute")
def acquisition_round_execute(round_id: int) -> str:
    """Claims a queued acquisition round and fans its pool scoring out as a chord."""
    return _acquisition_round_execute(round_id=round_id)


@shared_task(name="rewardtrain.tasks.model_agreement_refresh")
def model_agreement_refresh(project_id: int) -> str:
    """Scores a project's recently judged tasks with its active model, for the annotator table."""
    return _model_agreement_refresh(project_id=project_id)


@shared_task(name="rewardtrain.tasks.model_agreements_refresh_due")
def model_agreements_refresh_due() -> list[int]:
    """Beat, every 15 minutes: projects judged since their model preferences were computed."""
    return _model_agreements_refresh_due()


@shared_task(name="rewardtrain.tasks.acquisition_chunk_score")
def acquisition_chunk_score(chunk_id: int) -> str:
    """One chunk of an acquisition round's pool, scored with the round's model (warm per-process cache)."""
    return _acquisition_chunk_score(chunk_id=chunk_id)


@shared_task(name="rewardtrain.tasks.acquisition_round_select")
def acquisition_round_select(round_id: int) -> str:
    """The chord's callback (an immutable signature: the chunks' results are not passed in): picks
    with the strategy and opens the picks."""
    return _acquisition_round_select(round_id=round_id)


@shared_task(name="rewardtrain.tasks.acquisition_rounds_fail_stale")
def acquisition_rounds_fail_stale() -> list[int]:
    """Beat, every 10 minutes: rounds without progress for VERDICT_ACQUISITION_STALE_SECONDS are failed."""
    return _acquisition_rounds_fail_stale()


@shared_task(name="rewardtrain.tasks.acquisition_rounds_schedule")
def acquisition_rounds_schedule() -> dict:
    """Beat, hourly: projects whose policy asks for a round every N hours get one when due."""
    return _acquisition_rounds_schedule()


@shared_task(name="rewardtrain.tasks.scores_for_version", queue="scoring", acks_late=False)
def scores_for_version(*, model_version_id: int, artifact_dir: str, prompt: str, responses: list[str],
                       reply_to: str | None = None) -> dict:
    """Best-of-N on the worker's warm model; the API waits for the answer, on the ``reply_to`` list when it
    gave one (Redis), else on the result backend. Acks early: a request whose worker died is answered by the
    client's retry, not by a redelivery nobody waits for."""
    try:
        scores = _scores_for_version(model_version_id=model_version_id, artifact_dir=artifact_dir, prompt=prompt,
                                     responses=responses)
    except Exception as exc:
        if reply_to:
            scores_reply(reply_to=reply_to, payload={"error": f"{type(exc).__name__}: {exc}"})
        raise
    if reply_to:
        scores_reply(reply_to=reply_to, payload={"scores": scores})
    return scores


@task_success.connect(sender=scores_for_version)
def _scores_for_version_recorded(sender=None, result=None, **_) -> None:
    """After the answer is stored for the waiting API (this signal fires then), not before it."""
    kwargs = sender.request.kwargs or {}
    scores_recorded(model_version_id=kwargs["model_version_id"], responses=kwargs["responses"], scores=result)


@worker_shutdown.connect
@worker_process_shutdown.connect
def _score_stats_flush_on_shutdown(**_) -> None:
    """A worker stopping normally writes the statistics it still holds."""
    from .scoring.stats import score_stats_flush

    try:
        score_stats_flush(force=True)
    except Exception:  # the database may already be gone; statistics are not worth a failed shutdown
        logging.getLogger(__name__).exception("Could not write the buffered score statistics")


@shared_task(name="rewardtrain.tasks.scoring_job_execute", queue="scoring_batch", acks_late=True)
def scoring_job_execute(job_id: int) -> str:
    """Runs one batch scoring job. A second delivery finds it taken and exits."""
    return _scoring_job_execute(job_id=job_id)


@shared_task(name="rewardtrain.tasks.scoring_jobs_fail_stale")
def scoring_jobs_fail_stale() -> list[int]:
    """Beat, every 10 minutes: scoring jobs whose worker was lost are marked failed."""
    return _scoring_jobs_fail_stale()


@shared_task(name="rewardtrain.tasks.canary_scores_compute")
def canary_scores_compute(model_version_id: int) -> dict | None:
    """A new version (and the active one) scored on the project's canary set; then the canary-shift rule."""
    return _canary_scores_compute(model_version_id=model_version_id)


@shared_task(name="rewardtrain.tasks.alerts_evaluate")
def alerts_evaluate() -> dict:
    """Beat, every 5 minutes: the monitoring alert rules (rewardtrain.monitoring.alerts)."""
    return _alerts_evaluate()
