"""Batches as a unit of work: pause (reversible: the queue skips a paused batch's tasks), resume,
and retire (its unfinished tasks leave the queue for good as Task.Status.RETIRED; judged work stays)."""
from django.db import transaction

from annotation.models import Batch, Task


@transaction.atomic
def batch_pause(*, batch: Batch) -> Batch:
    Batch.objects.filter(pk=batch.pk).update(paused=True)
    batch.paused = True
    return batch


@transaction.atomic
def batch_resume(*, batch: Batch) -> Batch:
    Batch.objects.filter(pk=batch.pk).update(paused=False)
    batch.paused = False
    return batch


@transaction.atomic
def batch_retire(*, batch: Batch) -> int:
    """Retires the batch's tasks that are still waiting for judgements (pool or open); complete tasks
    and every judgement stay. Returns how many tasks were retired. Leases already handed out may
    still be answered (the answers are kept, as surplus)."""
    return Task.objects.filter(batch=batch, status__in=(Task.Status.POOL, Task.Status.OPEN)).update(
        status=Task.Status.RETIRED)
