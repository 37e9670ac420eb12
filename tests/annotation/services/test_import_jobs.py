"""Large uploads are imported by a worker as an import job (page and API), still all or nothing, with
the same file:line errors; small ones stay inline. Eager Celery here; tests/test_import_worker.py runs
a real worker."""
import io
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from annotation.models import Batch, ImportJob, PreferencePair, Prompt, Task
from annotation.services.imports.common import lines_count
from annotation.services.imports.jobs import _key, import_job_create, import_jobs_fail_stale
from annotation.services.imports.tasks import tasks_import
from tests import factories
from tests.annotation.api.test_resources import client_for


@pytest.fixture(autouse=True)
def small_inline_limit(settings, tmp_path):
    settings.VERDICT_IMPORT_INLINE_MAX_BYTES = 2_000
    settings.MEDIA_ROOT = tmp_path / "media"


def task_rows(n: int, bad_at: int | None = None) -> bytes:
    rows = [{"prompt": f"Question {i}?", "responses": [f"answer {i} a", f"answer {i} b"]} for i in range(1, n + 1)]
    if bad_at:
        rows[bad_at - 1] = {"prompt": f"Question {bad_at}?", "responses": ["only one"]}
    return factories.jsonl(rows)


def api_upload(user, project, data: bytes, name="big.jsonl"):
    upload = io.BytesIO(data)
    upload.name = name
    return client_for(user).post(f"/api/v1/projects/{project.pk}/batches/", {"file": upload}, format="multipart")


def test_a_small_upload_is_still_imported_inside_the_request(project, project_admin):
    data = task_rows(3)
    assert len(data) < 2_000
    response = api_upload(project_admin, project, data)
    assert response.status_code == 201
    assert response.json()["created"] == 3
    assert not ImportJob.objects.exists()


def test_a_large_upload_returns_202_and_a_worker_imports_it(project, project_admin, ml_engineer,
                                                            django_capture_on_commit_callbacks):
    data = task_rows(200)
    assert len(data) > 2_000
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = api_upload(project_admin, project, data)
    assert response.status_code == 202, response.content
    job = response.json()
    assert (job["status"], job["kind"], job["filename"], job["size"], job["batch"]) == (
        "queued", "tasks", "big.jsonl", len(data), None)
    stored = ImportJob.objects.get(pk=job["id"]).file.name
    assert default_storage.exists(stored)
    assert not Task.objects.filter(project=project).exists()  # nothing imported in the request

    for callback in queued:  # the eager "worker"
        callback()
    status = client_for(ml_engineer).get(f"/api/v1/import-jobs/{job['id']}/").json()
    assert (status["status"], status["progress"], status["rows_done"], status["rows_total"]) == (
        "succeeded", 1.0, 200, 200)
    assert status["result"] == {"created": 200, "duplicates": 0, "lines": 200}
    assert Batch.objects.get(pk=status["batch"]).tasks.count() == 200
    assert not default_storage.exists(stored)  # the upload is removed once imported


def test_a_job_with_a_bad_line_deep_in_the_file_fails_with_the_line_and_stores_nothing(
        project, project_admin, settings, django_capture_on_commit_callbacks):
    settings.VERDICT_IMPORT_BATCH_SIZE = 50  # rows are written in batches before the bad line is reached
    with django_capture_on_commit_callbacks(execute=True):
        response = api_upload(project_admin, project, task_rows(300, bad_at=290), name="tasks.jsonl")
    assert response.status_code == 202
    job = ImportJob.objects.get(pk=response.json()["id"])
    assert job.status == "failed"
    assert job.errors == ["tasks.jsonl:290: responses: a pairwise project takes exactly 2 responses (got 1)"]
    assert (Batch.objects.count(), Task.objects.count(), Prompt.objects.count()) == (0, 0, 0)
    body = client_for(project_admin).get(f"/api/v1/import-jobs/{job.pk}/").json()
    assert body["errors"] == job.errors and body["batch"] is None


def test_the_import_page_sends_a_large_file_to_a_job_page_that_polls_then_shows_the_result(
        client, project, project_admin, django_capture_on_commit_callbacks):
    client.force_login(project_admin)
    prefix = "\n\nHuman: hi {i}\n\nAssistant:"
    rows = [{"chosen": prefix.format(i=i) + " hello!", "rejected": prefix.format(i=i) + " go away"} for i in range(60)]
    upload = SimpleUploadedFile("hh.jsonl", factories.jsonl(rows))
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = client.post(reverse("project-import", args=[project.id]), {"kind": "pairs-hh", "file": upload,
                                                                                "batch_name": "HH sample"})
    job = ImportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("import-job", args=[project.id, job.pk])
    waiting = client.get(response["Location"]).content.decode()
    assert "Waiting for a worker" in waiting and 'hx-trigger="every 1s"' in waiting

    for callback in queued:
        callback()
    done = client.get(response["Location"]).content.decode()
    assert "Imported 60 new row(s) into batch “HH sample”" in done and "hx-trigger" not in done
    assert PreferencePair.objects.filter(project=project, batch__name="HH sample").count() == 60
    assert f'href="{reverse("import-job", args=[project.id, job.pk])}"' in client.get(
        reverse("project-import", args=[project.id])).content.decode()  # listed on the import page


def test_a_failed_job_page_lists_the_errors_escaped(client, project, project_admin, django_capture_on_commit_callbacks):
    client.force_login(project_admin)
    rows = [{"prompt": f"Q{i}", "responses": ["a", "b"]} for i in range(100)] + [{"prompt": [{"role": "<b>x</b>", "content": "hi"}], "responses": 3}]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("project-import", args=[project.id]),
                               {"kind": "tasks", "file": SimpleUploadedFile("t.jsonl", factories.jsonl(rows))})
    page = client.get(response["Location"]).content.decode()
    assert "Nothing was imported." in page and "t.jsonl:101: prompt[0].role: must be one of" in page
    assert "&lt;b&gt;x&lt;/b&gt;" in page and "<b>x</b>" not in page
    assert "lines read" not in page and "<progress" not in page  # not "0 of 101 lines read" after reading them all
    assert Task.objects.count() == 0


def test_job_pages_and_status_are_for_the_project_only(client, project, project_admin, annotator):
    job = import_job_create(project=project, kind="tasks", upload=SimpleUploadedFile("x.jsonl", task_rows(1)))
    client.force_login(annotator)
    assert client.get(reverse("import-job", args=[project.id, job.pk])).status_code == 403
    other = factories.ProjectFactory()
    client.force_login(factories.member(other, "admin"))
    assert client.get(reverse("import-job", args=[other.id, job.pk])).status_code == 404
    assert client_for(annotator).get(f"/api/v1/import-jobs/{job.pk}/").status_code == 403


def test_a_bad_batch_name_is_refused_before_anything_is_queued(client, project, project_admin):
    client.force_login(project_admin)
    response = client.post(reverse("project-import", args=[project.id]),
                           {"kind": "tasks", "file": SimpleUploadedFile("t.jsonl", task_rows(100)),
                            "batch_name": "x" * 300})
    assert response.status_code == 400 and "batch name: must be at most 255 characters" in response.content.decode()
    assert not ImportJob.objects.exists()


def test_progress_is_reported_every_batch_and_read_live_while_running(project, settings):
    settings.VERDICT_IMPORT_BATCH_SIZE = 10
    seen = []
    tasks_import(project=project, fileobj=io.BytesIO(task_rows(35)), filename="t.jsonl", progress=seen.append)
    assert seen == [10, 20, 30]
    assert lines_count(io.BytesIO(task_rows(35))) == 35
    assert lines_count(io.BytesIO(task_rows(2).rstrip(b"\n"))) == 2

    job = import_job_create(project=project, kind="tasks", upload=SimpleUploadedFile("x.jsonl", task_rows(1)))
    ImportJob.objects.filter(pk=job.pk).update(status="running", started_at=timezone.now())
    cache.set(_key(job.pk), {"rows_done": 500, "rows_total": 1000, "progress": 0.5, "at": 0})
    body = client_for(factories.member(project, "admin")).get(f"/api/v1/import-jobs/{job.pk}/").json()
    assert (body["status"], body["rows_done"], body["rows_total"], body["progress"]) == ("running", 500, 1000, 0.5)


def test_the_reaper_fails_jobs_whose_worker_stopped_reporting(project, settings):
    settings.VERDICT_IMPORT_JOB_STALE_SECONDS = 60
    long_ago = timezone.now() - timedelta(minutes=5)
    lost, alive, young = (import_job_create(project=project, kind="tasks",
                                            upload=SimpleUploadedFile("x.jsonl", task_rows(1))) for _ in range(3))
    ImportJob.objects.filter(pk__in=[lost.pk, alive.pk]).update(status="running", started_at=long_ago)
    ImportJob.objects.filter(pk=young.pk).update(status="running", started_at=timezone.now())
    import time
    cache.set(_key(alive.pk), {"rows_done": 1, "rows_total": 2, "progress": 0.5, "at": time.time()})
    assert import_jobs_fail_stale() == [lost.pk]
    lost.refresh_from_db()
    assert lost.status == "failed" and "worker lost" in lost.errors[0] and not lost.file
    assert ImportJob.objects.get(pk=alive.pk).status == "running"
    assert ImportJob.objects.get(pk=young.pk).status == "running"


def test_a_job_given_up_by_the_reaper_while_it_ran_keeps_nothing(transactional_db, settings, monkeypatch):
    """The reaper marks a slow job failed mid-import, from its own connection as the beat would: the
    worker's rows roll back and the job stays failed."""
    import threading

    from django.db import connection

    from annotation.services.imports import jobs

    project = factories.ProjectFactory()

    settings.VERDICT_IMPORT_BATCH_SIZE = 10
    report = jobs._progress_put

    def reaper_strikes(job_id, rows_done, rows_total):
        report(job_id, rows_done, rows_total)
        if rows_done == 20:
            def reap():
                ImportJob.objects.filter(pk=job_id).update(status="failed", errors=["worker lost"])
                connection.close()

            beat = threading.Thread(target=reap)
            beat.start()
            beat.join()

    monkeypatch.setattr(jobs, "_progress_put", reaper_strikes)
    # Autocommit here: the eager "worker" runs the job as soon as it is created.
    job = import_job_create(project=project, kind="tasks", upload=SimpleUploadedFile("x.jsonl", task_rows(50)))
    job.refresh_from_db()
    assert (job.status, job.errors, job.batch) == ("failed", ["worker lost"], None)
    assert (Batch.objects.count(), Task.objects.count()) == (0, 0)
