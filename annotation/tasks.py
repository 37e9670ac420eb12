"""Thin Celery adapters: take ids, call one service, safe to run twice.

Registered task names are a wire contract (django-celery-beat stores them in its tables, and
queued messages carry them), so `expire_leases` keeps its name; it calls `queue.leases_expire`.
New tasks are named after the service they call."""
import socket

from celery import shared_task
from django.db import connection

from annotation.quality import units as quality_units
from annotation.services import queue
from annotation.services.imports.jobs import import_job_execute as _import_job_execute
from annotation.services.imports.jobs import import_jobs_fail_stale as _import_jobs_fail_stale


@shared_task(name="annotation.tasks.health_check")
def health_check() -> dict:
    """Proves a worker is alive and can reach the database."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        db_ok = cursor.fetchone()[0] == 1
    return {"ok": db_ok, "worker": socket.gethostname(), "database": connection.vendor}


@shared_task(name="annotation.tasks.expire_leases")
def expire_leases() -> int:
    return queue.leases_expire()


@shared_task(name="annotation.tasks.quality_refresh")
def quality_refresh(project_id: int, name: str, params: list) -> None:
    quality_units.quality_refresh(project_id=project_id, name=name, params=params)


@shared_task(name="annotation.tasks.quality_refresh_due")
def quality_refresh_due() -> list[str]:
    """Beat: refreshes the quality pages' numbers of projects whose judgements changed."""
    return quality_units.quality_refresh_due()


@shared_task(name="annotation.tasks.import_job_execute")
def import_job_execute(job_id: int) -> str:
    """Imports one uploaded file (all or nothing). A second delivery finds the job taken and exits."""
    return _import_job_execute(job_id=job_id)


@shared_task(name="annotation.tasks.import_jobs_fail_stale")
def import_jobs_fail_stale() -> list[int]:
    """Beat, every 5 minutes: import jobs whose worker stopped reporting progress are marked failed."""
    return _import_jobs_fail_stale()


@shared_task(name="annotation.tasks.webhook_deliver")
def webhook_deliver(delivery_id: int) -> str:
    from annotation.services.webhooks import webhook_deliver as deliver

    return deliver(delivery_id=delivery_id)


@shared_task(name="annotation.tasks.webhook_deliveries_resend_stale")
def webhook_deliveries_resend_stale() -> list[int]:
    from annotation.services.webhooks import webhook_deliveries_resend_stale as resend

    return resend()


@shared_task(name="annotation.tasks.pii_apply")
def pii_apply(job_id: int) -> str:
    """Applies a PII policy change to stored text (annotation/pii/apply.py); a second delivery exits."""
    from annotation.pii.apply import pii_apply_run

    return pii_apply_run(job_id=job_id)
