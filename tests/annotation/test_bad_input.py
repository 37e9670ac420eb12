"""Bad and hostile input gives a 400 or a form error and stores nothing; never a 500."""
import base64
import gzip
import io
import json

import pytest
from django.urls import reverse

from annotation.models import Assignment, Batch, Judgement, Task
from annotation.services.imports.common import ImportFailed
from annotation.services.imports.tasks import tasks_import
from tests import factories
from tests.annotation.api.test_resources import client_for

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def lease_for(client, project, annotator):
    client.force_login(annotator)
    client.get(reverse("annotate", kwargs={"project_id": project.pk}))
    return Assignment.objects.get(annotator=annotator, status=Assignment.Status.ACTIVE)


def test_nul_in_the_web_rationale_and_skip_reason_is_a_form_error(client, project, annotator):
    factories.task(project)
    lease = lease_for(client, project, annotator)
    saved = client.post(reverse("annotate-submit", args=[project.pk, lease.pk]),
                        {"overall": "tie", "rationale": "bad\x00byte"}, **HTMX)
    assert saved.status_code < 500 and not Judgement.objects.exists()
    assert "NUL" in saved.content.decode()
    skipped = client.post(reverse("annotate-skip", args=[project.pk, lease.pk]), {"reason": "x\x00y"}, **HTMX)
    assert skipped.status_code < 500
    assert Assignment.objects.get(pk=lease.pk).status == Assignment.Status.ACTIVE


def test_nul_in_the_gold_search_is_no_task(client, project, project_admin):
    client.force_login(project_admin)
    response = client.get(reverse("gold-tasks", args=[project.pk]), {"task": "a\x00b"}, follow=True)
    assert response.status_code == 200 and "No task" in response.content.decode()


def test_a_gold_target_past_smallint_is_refused_on_the_api_and_the_page(client, project, project_admin):
    task = factories.task(project)
    first, second = task.slots.order_by("position").values_list("response_id", flat=True)
    api = client_for(project_admin).post(f"/api/v1/tasks/{task.pk}/gold/",
                                         {"gold_ranking": [[first], [second]], "target_judgements": 10**6}, format="json")
    assert api.status_code == 400
    client.force_login(project_admin)
    page = client.post(reverse("gold-task", args=[project.pk, task.pk]),
                       {"rank-A": "1", "rank-B": "2", "target_judgements": "1000000", "action": "mark"}, follow=True)
    assert page.status_code == 200 and "32767" in page.content.decode()
    assert not Task.objects.get(pk=task.pk).is_gold


def test_a_long_web_batch_name_is_a_form_error(client, project, project_admin):
    client.force_login(project_admin)
    upload = io.BytesIO(factories.jsonl([{"prompt": "Q?", "responses": ["a", "b"]}]))
    upload.name = "t.jsonl"
    response = client.post(reverse("project-import", args=[project.pk]),
                           {"kind": "tasks", "file": upload, "batch_name": "n" * 300})
    assert response.status_code == 400 and "255" in response.content.decode()
    assert not Batch.objects.exists()


@pytest.mark.parametrize("cursor", [base64.b64encode(b"o=x").decode(), base64.b64encode(b"p=abc").decode(), base64.b64encode(b"p=-1").decode(),
                                    base64.b64encode(b"p=" + b"9" * 40).decode(), base64.b64encode(b"p=1\x00").decode()])
def test_a_hand_made_cursor_is_a_400(project, ml_engineer, cursor):
    response = client_for(ml_engineer).get(f"/api/v1/projects/{project.pk}/tasks/", {"cursor": cursor})
    assert response.status_code == 400, response.content
    assert response.json()["error"]["message"] == "Invalid cursor"


def test_deeply_nested_json_in_a_judgement_is_a_400(project, annotator):
    factories.task(project)
    client = client_for(annotator)
    lease = client.post(f"/api/v1/projects/{project.pk}/next-task/").json()["assignment_id"]
    body = '{"ranking": ' + "[" * 100_000 + "]" * 100_000 + "}"
    response = client.post(f"/api/v1/assignments/{lease}/judgement/", body, content_type="application/json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "parse_error"


BAD_LINES = {
    "nested": ('{"prompt": "Q?", "responses": ["a", "b"], "metadata": ' + "[" * 50_000 + "]" * 50_000 + "}",
               "nested too deeply"),
    "nested-storable": ('{"prompt": "Q?", "responses": ["a", "b"], "metadata": {"a": ' + "[" * 100 + "]" * 100 + "}}",
                        "levels deep"),
    "nul-id": (json.dumps({"prompt": "Q?", "responses": ["a", "b"], "id": "x\x00"}), "id: contains a NUL"),
    "nul-model": (json.dumps({"prompt": "Q?", "responses": [{"text": "a", "model": "m\x00"}, "b"]}),
                  "responses[0].model: contains a NUL"),
    "nul-metadata": (json.dumps({"prompt": "Q?", "responses": ["a", "b"], "metadata": {"k\x00": 1}}), "NUL"),
    "nan-metadata": ('{"prompt": "Q?", "responses": ["a", "b"], "metadata": {"x": NaN}}', "NaN"),
    "surrogate-prompt": ('{"prompt": "Q\\ud800?", "responses": ["a", "b"]}', "prompt: contains a lone surrogate"),
    "surrogate-response": ('{"prompt": "Q?", "responses": ["a\\udfff", "b"]}', "responses[0]: contains a lone surrogate"),
}


@pytest.mark.parametrize("name", BAD_LINES)
def test_hostile_import_lines_are_file_line_errors(project, name):
    line, message = BAD_LINES[name]
    good = json.dumps({"prompt": "Fine?", "responses": ["a", "b"]})
    with pytest.raises(ImportFailed) as failed:
        tasks_import(project=project, fileobj=io.BytesIO(f"{good}\n{line}\n".encode()), filename="t.jsonl")
    assert failed.value.errors[0].startswith("t.jsonl:2: ") and message in failed.value.errors[0], failed.value.errors
    assert not Task.objects.exists()


def test_a_gzip_that_expands_too_far_stops_early(project, settings):
    settings.VERDICT_IMPORT_MAX_EXPANDED_BYTES = 1_000_000
    bomb = gzip.compress(b"\n" * 50_000_000, compresslevel=9)  # 50 MB of newlines in ~50 KB
    with pytest.raises(ImportFailed) as failed:
        tasks_import(project=project, fileobj=io.BytesIO(bomb), filename="bomb.jsonl.gz")
    assert "VERDICT_IMPORT_MAX_EXPANDED_BYTES" in failed.value.errors[0]


def test_millions_of_blank_lines_stop_at_the_line_limit(project, settings):
    settings.VERDICT_IMPORT_MAX_LINES = 1000
    with pytest.raises(ImportFailed) as failed:
        tasks_import(project=project, fileobj=io.BytesIO(b"\n" * 5000), filename="blank.jsonl")
    assert "VERDICT_IMPORT_MAX_LINES" in failed.value.errors[0]
