"""Thin Celery adapters: take ids, call a service, safe to run twice."""
import socket

from celery import shared_task
from django.db import connection

from . import queue


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
