import gzip
import io

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotation.models import Batch, Task
from tests import factories


def client_for(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


def jsonl(*rows) -> bytes:
    return factories.jsonl(rows)


def test_token_authentication_and_the_error_shape_for_anonymous_callers(project, project_admin):
    anonymous = client_for().get("/api/v1/projects/")
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "not_authenticated"
    bad_token = APIClient()
    bad_token.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert bad_token.get("/api/v1/projects/").status_code == 401
    assert client_for(project_admin).get("/api/v1/projects/").status_code == 200


def test_projects_list_shows_only_member_projects_with_roles(project, ml_engineer):
    factories.ProjectFactory(name="Secret project")
    body = client_for(ml_engineer).get("/api/v1/projects/").json()
    assert [(p["name"], p["roles"]) for p in body["results"]] == [(project.name, ["ml"])]
    hidden = factories.ProjectFactory()
    response = client_for(ml_engineer).get(f"/api/v1/projects/{hidden.pk}/")
    assert response.status_code == 404
    assert set(response.json()) == {"error"}


def test_rubric_versions_are_created_by_admins_and_read_by_members(project, project_admin, annotator):
    admin = client_for(project_admin)
    created = admin.post(f"/api/v1/projects/{project.pk}/rubrics/", {
        "name": "Main", "criteria": [{"key": "helpfulness", "label": "Helpful"}, {"key": "honesty"}]}, format="json")
    assert created.status_code == 201
    assert created.json()["version"] == 1 and created.json()["is_active"]
    again = admin.post(f"/api/v1/projects/{project.pk}/rubrics/", {"criteria": [{"key": "safety"}]}, format="json")
    assert again.json()["version"] == 2
    listed = client_for(annotator).get(f"/api/v1/projects/{project.pk}/rubrics/").json()
    assert [(r["version"], r["is_active"]) for r in listed] == [(2, True), (1, False)]
    assert [c["key"] for c in listed[1]["criteria"]] == ["helpfulness", "honesty"]
    duplicate = admin.post(f"/api/v1/projects/{project.pk}/rubrics/",
                           {"criteria": [{"key": "a"}, {"key": "a"}]}, format="json")
    assert duplicate.status_code == 400
    assert "criteria" in duplicate.json()["error"]["fields"]


def test_batch_upload_imports_tasks_and_lists_the_batch(project, project_admin, ml_engineer):
    project.mode = "ranking"  # 2 and 3 responses
    project.save()
    data = gzip.compress(jsonl({"prompt": "Q1?", "responses": ["a", "b"]},
                               {"prompt": "Q2?", "responses": [{"text": "c", "model": "m1"}, "d", "e"]}))
    upload = io.BytesIO(data)
    upload.name = "tasks.jsonl.gz"
    response = client_for(project_admin).post(f"/api/v1/projects/{project.pk}/batches/",
                                              {"file": upload, "name": "first"}, format="multipart")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["created"], body["duplicates"], body["batch"]["name"], body["batch"]["tasks"]) == (2, 0, "first", 2)
    listed = client_for(ml_engineer).get(f"/api/v1/projects/{project.pk}/batches/").json()["results"]
    assert [b["name"] for b in listed] == ["first"]


def test_a_bad_task_file_is_rejected_whole_with_every_error(project, project_admin):
    upload = io.BytesIO(jsonl({"prompt": "Fine?", "responses": ["a", "b"]}, {"prompt": "Q?", "responses": ["only"]},
                              {"responses": ["x", "y"]}))
    upload.name = "bad.jsonl"
    response = client_for(project_admin).post(f"/api/v1/projects/{project.pk}/batches/", {"file": upload},
                                              format="multipart")
    assert response.status_code == 400
    errors = response.json()["error"]["fields"]["file"]
    assert len(errors) == 2
    assert errors[0].startswith("bad.jsonl:2: responses")
    assert errors[1].startswith("bad.jsonl:3: prompt")
    assert not Batch.objects.filter(project=project).exists()
    assert not Task.objects.filter(project=project).exists()


def test_tasks_are_filtered_and_paged_with_a_cursor(project, ml_engineer):
    batch = Batch.objects.create(project=project, name="b")
    tasks = [factories.task(project, batch=batch if i % 2 else None, priority=i) for i in range(5)]
    factories.task(project, is_gold=True, gold_ranking=[[1], [2]])
    client = client_for(ml_engineer)
    url = f"/api/v1/projects/{project.pk}/tasks/"
    seen, page = [], client.get(url, {"page_size": 2}).json()
    while True:
        seen += [t["id"] for t in page["results"]]
        if not page["next"]:
            break
        page = client.get(page["next"]).json()
    assert len(seen) == 6 == len(set(seen))
    assert [t["id"] for t in client.get(url, {"batch": batch.pk}).json()["results"]] == [tasks[1].pk, tasks[3].pk]
    assert len(client.get(url, {"is_gold": "true"}).json()["results"]) == 1
    assert [t["id"] for t in client.get(url, {"min_priority": 3}).json()["results"]] == [tasks[3].pk, tasks[4].pk]
    first = client.get(url, {"status": "open"}).json()["results"][0]
    assert first["prompt"]["text"] and [r["position"] for r in first["responses"]] == [0, 1]
    bad = client.get(url, {"status": "nonsense"})
    assert bad.status_code == 400 and "status" in bad.json()["error"]["fields"]


def test_setting_task_priority(project, ml_engineer, annotator):
    task = factories.task(project)
    url = f"/api/v1/projects/{project.pk}/tasks/{task.pk}/"
    response = client_for(ml_engineer).patch(url, {"priority": 7.5}, format="json")
    assert response.status_code == 200 and response.json()["priority"] == 7.5
    task.refresh_from_db()
    assert task.priority == 7.5
    assert client_for(ml_engineer).patch(url, {"priority": "high"}, format="json").status_code == 400
    assert client_for(annotator).patch(url, {"priority": 99}, format="json").status_code == 403
    other_project_task = factories.task(factories.ProjectFactory())
    missing = client_for(ml_engineer).patch(f"/api/v1/projects/{project.pk}/tasks/{other_project_task.pk}/",
                                            {"priority": 1}, format="json")
    assert missing.status_code == 404


def test_annotators_see_only_their_own_judgements(project, project_admin):
    alice, bob = factories.member(project, "annotator"), factories.member(project, "annotator")
    mine = factories.judged_pair(project, alice)
    theirs = factories.judged_pair(project, bob)
    url = f"/api/v1/projects/{project.pk}/judgements/"
    assert [j["id"] for j in client_for(alice).get(url).json()["results"]] == [mine.pk]
    assert client_for(alice).get(f"{url}{theirs.pk}/").status_code == 404
    assert client_for(alice).get(f"{url}{mine.pk}/").json()["annotator_username"] == alice.username
    assert {j["id"] for j in client_for(project_admin).get(url).json()["results"]} == {mine.pk, theirs.pk}
    by_bob = client_for(project_admin).get(url, {"annotator": bob.pk}).json()["results"]
    assert [j["id"] for j in by_bob] == [theirs.pk]


def test_pairs_are_readable_and_filterable_by_data_roles(project, ml_engineer, annotator):
    factories.rubric(project, keys=("helpfulness",))
    t = factories.task(project)
    a, b = t.slots.values_list("response_id", flat=True)
    factories.judgement(t, annotator, criteria={"helpfulness": [[b], [a]]})
    factories.imported_pair(project)
    url = f"/api/v1/projects/{project.pk}/pairs/"
    client = client_for(ml_engineer)
    assert len(client.get(url).json()["results"]) == 3
    overall = client.get(url, {"criterion": "overall", "source": "human"}).json()["results"]
    assert [(p["chosen"]["id"], p["rejected"]["id"]) for p in overall] == [(a, b)]
    assert [p["criterion"] for p in client.get(url, {"criterion": "helpfulness"}).json()["results"]] == ["helpfulness"]
    pair_id = overall[0]["id"]
    assert client.get(f"{url}{pair_id}/").json()["prompt"]["id"] == t.prompt_id
    assert client_for(annotator).get(url).status_code == 403


@pytest.mark.parametrize("path", [
    "/api/v1/projects/{big}/", "/api/v1/projects/{pid}/tasks/{big}/", "/api/v1/projects/{pid}/pairs/{big}/",
    "/api/v1/projects/{pid}/judgements/{big}/",
])
def test_ids_beyond_the_database_range_are_not_found_not_errors(project, project_admin, path):
    url = path.format(pid=project.pk, big=10**30)
    assert client_for(project_admin).get(url).status_code == 404


def test_filter_ids_beyond_the_database_range_are_rejected(project, project_admin):
    response = client_for(project_admin).get(f"/api/v1/projects/{project.pk}/tasks/", {"batch": 10**30})
    assert response.status_code == 400


def test_throttled_callers_get_429_in_the_error_shape(project, ml_engineer, monkeypatch):
    from django.core.cache import cache
    from rest_framework.throttling import UserRateThrottle

    cache.clear()
    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {"user": "2/min"})
    client = client_for(ml_engineer)
    statuses = [client.get(f"/api/v1/projects/{project.pk}/tasks/").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert client.get("/api/v1/projects/").json()["error"]["code"] == "throttled"
    cache.clear()


@pytest.mark.parametrize("key", ["overall", "Overall"])
def test_a_rubric_criterion_cannot_take_the_reserved_key_overall(project, project_admin, key):
    response = client_for(project_admin).post(f"/api/v1/projects/{project.pk}/rubrics/", {
        "criteria": [{"key": "helpfulness"}, {"key": key}]}, format="json")
    assert response.status_code == 400
    assert "is reserved" in str(response.json()["error"]["fields"]["criteria"])
    assert not project.rubrics.exists()


def test_an_operation_a_project_lacks_is_405_for_every_role(project, project_admin, ml_engineer, annotator):
    for user in (project_admin, ml_engineer, annotator):
        response = client_for(user).put(f"/api/v1/projects/{project.pk}/", {"name": "x"}, format="json")
        assert response.status_code == 405, (user, response.json())  # settings change by PATCH only
        assert client_for(user).delete(f"/api/v1/projects/{project.pk}/").status_code == 405
    project.refresh_from_db()
    assert project.name != "x"


def test_uploading_only_duplicates_answers_200_without_a_batch(project, project_admin):
    def post():
        upload = io.BytesIO(jsonl({"prompt": "Q1?", "responses": ["a", "b"]}))
        upload.name = "tasks.jsonl"
        return client_for(project_admin).post(f"/api/v1/projects/{project.pk}/batches/", {"file": upload},
                                              format="multipart")
    assert post().status_code == 201
    again = post()
    assert again.status_code == 200
    assert again.json() == {"batch": None, "created": 0, "duplicates": 1, "lines": 1, "pii_policy": "off", "pii": {}}
    assert project.batches.count() == 1
