"""A large upload through the API is imported by a real worker process (Redis, PostgreSQL), with progress."""
import io
import time

import pytest
from django.conf import settings

from annotation.models import Batch, Task
from tests import factories
from tests.annotation.api.test_resources import client_for

pytestmark = pytest.mark.integration


def test_a_real_worker_imports_a_large_upload_with_progress(live_worker):
    project = factories.ProjectFactory()
    admin = factories.member(project, "admin")
    filler = "x" * 40
    data = factories.jsonl({"prompt": f"Question {i}? {filler}", "responses": [f"yes {i} {filler}", f"no {i}"]}
                           for i in range(12_000))
    assert len(data) > settings.VERDICT_IMPORT_INLINE_MAX_BYTES  # the default limit, 1 MiB
    upload = io.BytesIO(data)
    upload.name = "large.jsonl"
    response = client_for(admin).post(f"/api/v1/projects/{project.pk}/batches/", {"file": upload, "name": "large"},
                                      format="multipart")
    assert response.status_code == 202, response.content
    job_url = f"/api/v1/import-jobs/{response.json()['id']}/"

    seen_running, deadline = [], time.monotonic() + 240
    while time.monotonic() < deadline:
        job = client_for(admin).get(job_url).json()
        if job["status"] == "running" and job["rows_done"]:
            seen_running.append((job["rows_done"], job["rows_total"], job["progress"]))
        if job["status"] in ("succeeded", "failed"):
            break
        time.sleep(0.2)
    assert job["status"] == "succeeded", job
    assert job["result"] == {"created": 12_000, "duplicates": 0, "lines": 12_000}
    assert seen_running and all(total == 12_000 and 0 < p < 1 for _, total, p in seen_running), seen_running
    assert Batch.objects.get(pk=job["batch"]).name == "large"
    assert Task.objects.filter(project=project).count() == 12_000
