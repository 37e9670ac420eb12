"""A real worker process, over Redis, against the test database."""
from datetime import timedelta

import pytest
from django.utils import timezone

from annotation import tasks
from annotation.models import Assignment
from tests import factories

pytestmark = pytest.mark.integration


def test_health_check_runs_on_a_real_worker(live_worker):
    result = tasks.health_check.delay().get(timeout=60)
    assert result["ok"] is True
    assert result["database"] == "postgresql"


def test_worker_expires_stale_leases_in_the_database(live_worker):
    project = factories.ProjectFactory()
    user = factories.member(project, "annotator")
    task = factories.task(project)
    lease = Assignment.objects.create(project=project, task=task, annotator=user, display_order=[],
                                      expires_at=timezone.now() - timedelta(seconds=1))
    assert tasks.expire_leases.delay().get(timeout=60) == 1
    lease.refresh_from_db()
    assert lease.status == Assignment.Status.EXPIRED
