"""The assignment engine: who gets which task next, leases and their expiry."""
from django.db import transaction
from django.utils import timezone

from .models import Assignment


@transaction.atomic
def leases_expire(*, now=None) -> int:
    """Marks leases past their expiry as expired, returning their tasks to the queue."""
    now = now or timezone.now()
    return Assignment.objects.filter(status=Assignment.Status.ACTIVE, expires_at__lte=now).update(
        status=Assignment.Status.EXPIRED, finished_at=now
    )
