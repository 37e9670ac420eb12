"""Fuzzing with hostile alphabets (NUL, lone surrogates, NaN, HH markers, deep nesting, huge numbers)
over the API and the web forms: any answer but a 5xx. Bounded examples keep it to tens of seconds."""
import io
import json
from urllib.parse import quote

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings, strategies as st
from rest_framework.test import APIClient

from annotation.models import Assignment
from annotation.services import queue
from tests import factories
from tests.annotation.api.test_resources import client_for

pytestmark = pytest.mark.django_db
FUZZ = settings(max_examples=10, deadline=None, database=None, derandomize=True,
                suppress_health_check=list(HealthCheck))

HOSTILE = st.sampled_from(["\x00", "\ud800", "\udfff", "\n\nHuman:", "\n\nAssistant:", "NaN", "[", "{", "\\u0000",
                           "%00", "é", "\u202e", "\uffff", "9" * 30, " ", "<script>", "*", ">", "    - "])
TEXT = st.lists(HOSTILE | st.characters(), max_size=20).map("".join)
NUMBER = st.integers(min_value=-(10**30), max_value=10**30) | st.floats(allow_nan=True, allow_infinity=True)
JSON = st.recursive(st.none() | st.booleans() | NUMBER | TEXT,
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3), max_leaves=12)


def dumps(value) -> str:
    return json.dumps(value, ensure_ascii=True)  # NaN, Infinity and lone surrogates go out as the JSON text they are


@pytest.fixture
def world(project):
    factories.rubric(project, keys=("helpful",))
    admin = factories.member(project, "admin")
    for _ in range(3):
        factories.task(project)
    lease = queue.task_next(project=project, annotator=admin)
    return {"project": project, "admin": admin, "lease": lease, "api": client_for(admin)}


def encoded(**fields) -> str:
    """Fields as a query string or form body, lone surrogates included as the bytes a client would send."""
    return "&".join(f"{k}={quote(str(v).encode('utf-8', 'surrogatepass'))}" for k, v in fields.items())


FORM = "application/x-www-form-urlencoded"


def as_sent(text: str) -> str:
    """A multipart field as the server decodes it (Django's test client cannot send lone surrogates)."""
    return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def no_server_error(response):
    assert response.status_code < 500, response.content[:500]


@FUZZ
@given(body=JSON, rationale=TEXT, reason=TEXT, target=NUMBER | TEXT)
def test_api_answers_hostile_bodies_without_5xx(world, body, rationale, reason, target):
    api, lease, project = world["api"], world["lease"], world["project"]
    task = lease.task
    no_server_error(api.post(f"/api/v1/assignments/{lease.pk}/judgement/", dumps(body), content_type="application/json"))
    no_server_error(api.post(f"/api/v1/assignments/{lease.pk}/judgement/",
                             dumps({"ranking": [[r] for r in lease.display_order], "rationale": rationale,
                                    "criteria": {"helpful": body}}), content_type="application/json"))
    no_server_error(api.post(f"/api/v1/tasks/{task.pk}/gold/", dumps({"gold_ranking": body, "target_judgements": target}),
                             content_type="application/json"))
    no_server_error(api.post(f"/api/v1/projects/{project.pk}/rubrics/", dumps({"name": rationale, "criteria": body}),
                             content_type="application/json"))
    no_server_error(api.get(f"/api/v1/projects/{project.pk}/tasks/?" + encoded(
        cursor=reason, min_priority=rationale, batch=reason, page_size=rationale)))
    no_server_error(api.get(f"/api/v1/projects/{project.pk}/pairs/?" + encoded(criterion=rationale, since=reason)))
    no_server_error(APIClient().post("/api/v1/auth/token/", dumps({"username": rationale, "password": body}),
                                     content_type="application/json"))


@FUZZ
@given(row=st.dictionaries(st.sampled_from(["prompt", "responses", "id", "metadata", "model"]) | TEXT, JSON, max_size=5),
       prompt=TEXT, response=TEXT, name=TEXT)
def test_imports_answer_hostile_lines_without_5xx(world, row, prompt, response, name):
    project = world["project"]
    lines = [dumps(row), dumps({"prompt": prompt or "p", "responses": [response or "r", "other"], "metadata": row,
                                "id": name})]
    upload = io.BytesIO("\n".join(lines).encode("utf-8", "surrogatepass"))
    upload.name = "fuzz.jsonl"
    no_server_error(world["api"].post(f"/api/v1/projects/{project.pk}/batches/", {"file": upload, "name": as_sent(name)},
                                      format="multipart"))


@FUZZ
@given(rationale=TEXT, reason=TEXT, search=TEXT, target=TEXT, batch_name=TEXT)
def test_web_forms_answer_hostile_text_without_5xx(world, rationale, reason, search, target, batch_name):
    project, admin = world["project"], world["admin"]
    client = Client()
    client.force_login(admin)
    lease = Assignment.objects.filter(annotator=admin, status=Assignment.Status.ACTIVE).first()
    if lease is not None:
        no_server_error(client.post(reverse("annotate-submit", args=[project.pk, lease.pk]),
                                    encoded(overall="tie", **{"c-helpful": "tie"}, rationale=rationale), FORM,
                                    HTTP_HX_REQUEST="true"))
        no_server_error(client.post(reverse("annotate-skip", args=[project.pk, lease.pk]), encoded(reason=reason),
                                    FORM, HTTP_HX_REQUEST="true"))
    no_server_error(client.get(reverse("gold-tasks", args=[project.pk]) + "?" + encoded(task=search)))
    task = world["lease"].task
    no_server_error(client.post(reverse("gold-task", args=[project.pk, task.pk]), encoded(
        **{"rank-A": "1", "rank-B": "2"}, target_judgements=target, action="mark"), FORM))
    upload = io.BytesIO(b'{"prompt": "Q?", "responses": ["a", "b"]}\n')
    upload.name = "t.jsonl"
    no_server_error(client.post(reverse("project-import", args=[project.pk]),
                                {"kind": "tasks", "file": upload,
                                 "batch_name": as_sent(batch_name)}))
