"""The active-learning pool: tasks imported with `pool` are stored but never served until opened."""
import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotation.models import Task
from annotation.services import queue
from annotation.services.gold import task_mark_gold
from annotation.services.imports.tasks import tasks_import
from tests import factories

pytestmark = pytest.mark.django_db


def rows(n, start=0):
    return [{"prompt": f"Pool question {i}?", "responses": [f"A{i}", f"B{i}"]} for i in range(start, start + n)]


def test_pool_import_stores_pool_tasks_and_a_plain_import_opens_them(project):
    result = tasks_import(project=project, fileobj=io.BytesIO(factories.jsonl(rows(3))), filename="pool.jsonl", pool=True)
    assert result.created == 3
    assert set(Task.objects.values_list("status", flat=True)) == {Task.Status.POOL}
    tasks_import(project=project, fileobj=io.BytesIO(factories.jsonl(rows(2, start=3))), filename="open.jsonl")
    assert Task.objects.filter(status=Task.Status.OPEN).count() == 2


def test_pool_tasks_are_never_served_nor_prefetched_even_with_the_highest_priority(project, annotator):
    project.gold_rate = 1.0
    project.save()
    pool = factories.task(project, priority=100.0)
    gold_pool = factories.task(project, priority=100.0)
    task_mark_gold(task=gold_pool, gold_ranking=[[r] for r in gold_pool.responses.values_list("id", flat=True)])
    Task.objects.filter(pk__in=[pool.pk, gold_pool.pk]).update(status=Task.Status.POOL)
    open_task = factories.task(project, priority=0.0)

    lease = queue.task_next(project=project, annotator=annotator)
    assert lease.task_id == open_task.pk
    assert queue.task_prefetch(project=project, annotator=annotator) is None  # only pool tasks are left
    other = factories.member(project, "annotator")
    assert queue.task_next(project=project, annotator=other) is None  # the open task has its one slot taken


def test_import_tasks_command_pool_flag(tmp_path, project, capsys):
    path = tmp_path / "pool.jsonl"
    path.write_bytes(factories.jsonl(rows(2)))
    call_command("import_tasks", str(project.pk), str(path), "--pool")
    assert "Imported 2 new" in capsys.readouterr().out
    assert list(Task.objects.values_list("status", flat=True)) == [Task.Status.POOL] * 2


def test_batch_api_pool_flag(project, project_admin):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=project_admin)[0].key}")
    upload = io.BytesIO(factories.jsonl(rows(2)))
    upload.name = "pool.jsonl"
    response = client.post(f"/api/v1/projects/{project.pk}/batches/", {"file": upload, "pool": "true"},
                           format="multipart")
    assert response.status_code == 201, response.json()
    assert list(Task.objects.values_list("status", flat=True)) == [Task.Status.POOL] * 2
    upload = io.BytesIO(factories.jsonl(rows(1, start=5)))
    upload.name = "open.jsonl"
    client.post(f"/api/v1/projects/{project.pk}/batches/", {"file": upload}, format="multipart")
    assert Task.objects.filter(status=Task.Status.OPEN).count() == 1


def test_import_page_pool_checkbox(client, project, project_admin):
    client.force_login(project_admin)
    url = reverse("project-import", args=[project.id])
    assert 'name="pool"' in client.get(url).content.decode()
    upload = SimpleUploadedFile("pool.jsonl", factories.jsonl(rows(2)))
    response = client.post(url, {"kind": "tasks", "file": upload, "pool": "on"}, follow=True)
    assert "into the active-learning pool" in response.content.decode()
    assert list(Task.objects.values_list("status", flat=True)) == [Task.Status.POOL] * 2

    pairs = SimpleUploadedFile("pairs.jsonl", json.dumps({"prompt": "q", "chosen": "a", "rejected": "b"}).encode())
    refused = client.post(url, {"kind": "pairs-trl", "file": pairs, "pool": "on"})
    assert refused.status_code == 400
    assert "Only tasks to annotate can go into the pool" in refused.content.decode()
