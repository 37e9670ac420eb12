"""Snapshot jobs: cutting a snapshot on a worker, with a status row the page and API can poll.

The job calls the same ``snapshot_create`` as the synchronous command, so the snapshot row is
still written once, complete; the job row only tells how far the cut has come.  Progress is
coarse: queued 0 → counting 0.1 → writing 0.3 → done 1.
"""
import logging
from datetime import date

from django.conf import settings

from django.db import transaction
from django.utils import timezone

from annotation.models import Project

from ..models import SnapshotJob
from ..stale import jobs_fail_stale
from .aggregation import pairs_selected
from .filters import SnapshotError, filters_build
from .services import empty_selection, snapshot_create

log = logging.getLogger(__name__)
Status = SnapshotJob.Status
FINISHED = (Status.SUCCEEDED, Status.FAILED)


def _filters(*, project: Project, params: dict):
    def day(value):
        return date.fromisoformat(value) if value else None

    return filters_build(project=project, criteria=params.get("criteria"), sources=params.get("sources", ()),
                         since=day(params.get("since")), until=day(params.get("until")),
                         batch_ids=params.get("batches", ()), min_agreement=params.get("min_agreement"),
                         exclude_gold=params.get("exclude_gold", False),
                         exclude_annotators=params.get("exclude_annotators", ()))


def snapshot_job_create(*, project: Project, params: dict, user=None) -> SnapshotJob:
    """A queued job; the filters are checked now (SnapshotError), the cut runs on a worker."""
    params = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in params.items()}
    filters = _filters(project=project, params=params)
    if not pairs_selected(project=project, filters=filters).exists():  # refused now, like the synchronous cut
        raise empty_selection()
    job = SnapshotJob.objects.create(project=project, params=params,
                                     created_by=user if user is not None and user.is_authenticated else None)

    def enqueue():
        from ..tasks import snapshot_job_execute as task

        task.delay(job.pk)

    transaction.on_commit(enqueue)
    return job


def snapshot_jobs_recent(*, project: Project, limit: int = 5) -> list[SnapshotJob]:
    """The page's job list: the latest jobs of the project, newest first."""
    return list(SnapshotJob.objects.filter(project=project).select_related("snapshot", "created_by")
                .order_by("-created_at", "-id")[:limit])


def _update(job_id: int, **fields) -> None:
    SnapshotJob.objects.filter(pk=job_id).update(**fields)


def snapshot_job_execute(*, job_id: int) -> str:
    """Cuts the job's snapshot. A second delivery finds the job taken and exits."""
    if not SnapshotJob.objects.filter(pk=job_id, status=Status.QUEUED).update(
            status=Status.RUNNING, started_at=timezone.now(), stage="counting", progress=0.1):
        return "not claimed"
    job = SnapshotJob.objects.select_related("project", "created_by").get(pk=job_id)
    params = job.params
    try:
        filters = _filters(project=job.project, params=params)
        selected = pairs_selected(project=job.project, filters=filters).count()
        _update(job_id, stage="writing", progress=0.3)
        snapshot = snapshot_create(project=job.project, filters=filters,
                                   aggregation=params.get("aggregation", "every"), seed=params.get("seed", 0),
                                   val_fraction=params.get("val_fraction", 0.1), user=job.created_by)
    except Exception as exc:
        if not isinstance(exc, SnapshotError):
            log.exception("Snapshot job %s failed", job_id)
        _update(job_id, status=Status.FAILED, error=str(exc) or type(exc).__name__, finished_at=timezone.now())
        return "failed"
    _update(job_id, status=Status.SUCCEEDED, snapshot=snapshot, stage="done", progress=1.0,
            finished_at=timezone.now())
    log.info("Snapshot job %s: %s pairs selected, snapshot %s", job_id, selected, snapshot.pk)
    return "succeeded"


def snapshot_jobs_fail_stale() -> list[int]:
    """Jobs still "running" long after they started lost their worker (a cut has no heartbeat):
    marked failed so nobody waits forever. A job that does finish later still records its snapshot."""
    seconds = int(getattr(settings, "VERDICT_SNAPSHOT_JOB_STALE_SECONDS", 6 * 3600))
    return jobs_fail_stale(model=SnapshotJob, seconds=seconds,
                           advice="cut the snapshot again.")
