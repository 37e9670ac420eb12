"""Jobs without a heartbeat (snapshot cuts, batch scoring): one still "running" long after it started has
lost its worker, so the beat marks it failed and nobody waits forever."""
from datetime import timedelta

from django.utils import timezone


def jobs_fail_stale(*, model, seconds: int, advice: str) -> list[int]:
    """Marks `model` rows running for more than `seconds` since `started_at` failed; returns their ids."""
    running = model.Status.RUNNING
    limit = timezone.now() - timedelta(seconds=seconds)
    stale = list(model.objects.filter(status=running, started_at__lt=limit).values_list("pk", flat=True))
    model.objects.filter(pk__in=stale, status=running).update(
        status=model.Status.FAILED, finished_at=timezone.now(),
        error=f"worker lost: still running {seconds / 3600:g} h after it started; {advice}")
    return stale
