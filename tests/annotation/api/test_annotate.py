"""The annotator JSON API: next task, judgement (idempotent), skip, permissions, validation, gold."""
import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotation.models import Assignment, Judgement, PreferencePair
from tests import factories

pytestmark = pytest.mark.django_db


def client_for(user, token=False):
    client = APIClient()
    if token:
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    else:
        client.force_authenticate(user)
    return client


def next_task(client, project):
    return client.post(f"/api/v1/projects/{project.pk}/next-task/")


def test_next_task_returns_the_task_in_display_order_without_revealing_models(project, annotator):
    factories.rubric(project, keys=("helpful",))
    task = factories.task(project, n_responses=3, prompt=[{"role": "user", "content": "Hi"},
                                                          {"role": "assistant", "content": "Hello"},
                                                          {"role": "user", "content": "Tell a joke"}])
    response = next_task(client_for(annotator, token=True), project)
    assert response.status_code == 200
    body = response.json()
    assert body["task"]["id"] == task.pk
    assert [r["label"] for r in body["task"]["responses"]] == ["A", "B", "C"]
    lease = Assignment.objects.get(pk=body["assignment_id"])
    assert [r["id"] for r in body["task"]["responses"]] == lease.display_order
    assert body["task"]["prompt"]["messages"][2] == {"role": "user", "content": "Tell a joke"}
    assert body["project"]["criteria"][0]["key"] == "helpful"
    assert body["project"]["strength_scale"][0] == "negligibly better"
    assert "source_model" not in body["task"]["responses"][0] and "is_gold" not in body["task"]


def test_next_task_twice_returns_the_same_lease(project, annotator):
    factories.task(project)
    factories.task(project)
    client = client_for(annotator)
    assert next_task(client, project).json()["assignment_id"] == next_task(client, project).json()["assignment_id"]


def test_next_task_is_204_when_nothing_is_left(project, annotator):
    assert next_task(client_for(annotator), project).status_code == 204


def test_submit_then_replay_returns_the_same_judgement(project, annotator):
    factories.task(project)
    client = client_for(annotator)
    lease = next_task(client, project).json()
    a, b = (r["id"] for r in lease["task"]["responses"])
    url = f"/api/v1/assignments/{lease['assignment_id']}/judgement/"
    payload = {"ranking": [[b], [a]], "strength": 3, "rationale": "B is correct", "duration_ms": 5100}

    first = client.post(url, payload, format="json")
    replay = client.post(url, payload, format="json")

    assert first.status_code == 201 and replay.status_code == 200
    assert first.json()["id"] == replay.json()["id"]
    assert first.json()["ranking"] == [[b], [a]] and first.json()["is_surplus"] is False
    assert Judgement.objects.count() == 1
    assert PreferencePair.objects.get().margin == 4.0
    assert next_task(client, project).status_code == 204


def test_skip_gives_the_task_up(project, annotator):
    factories.task(project)
    client = client_for(annotator)
    lease = next_task(client, project).json()
    response = client.post(f"/api/v1/assignments/{lease['assignment_id']}/skip/", {"reason": "not my language"},
                           format="json")
    assert response.status_code == 200 and response.json()["status"] == "skipped"
    assert next_task(client, project).status_code == 204
    judged = client.post(f"/api/v1/assignments/{lease['assignment_id']}/judgement/",
                         {"ranking": [[r["id"] for r in lease["task"]["responses"]]]}, format="json")
    assert judged.status_code == 409


def test_only_the_leaseholder_may_submit_or_skip(project, annotator):
    factories.task(project)
    lease = next_task(client_for(annotator), project).json()
    intruder = client_for(factories.member(project, "annotator"))
    ranking = [[r["id"]] for r in lease["task"]["responses"]]
    assert intruder.post(f"/api/v1/assignments/{lease['assignment_id']}/judgement/", {"ranking": ranking},
                         format="json").status_code == 404
    assert intruder.post(f"/api/v1/assignments/{lease['assignment_id']}/skip/", {"reason": "x"},
                         format="json").status_code == 404
    assert not Judgement.objects.exists()


def test_roles_and_membership_are_enforced(project):
    factories.task(project)
    assert next_task(client_for(factories.member(project, "ml")), project).status_code == 403
    outsider = factories.UserFactory()
    assert next_task(client_for(outsider), project).status_code == 404
    assert next_task(APIClient(), project).status_code in (401, 403)
    assert next_task(client_for(factories.member(project, "admin")), project).status_code == 200


@pytest.mark.parametrize("payload, message", [
    ({"ranking": [[0]]}, "ranking: must rank every response"),
    ({"ranking": "A"}, "ranking"),
    ({"strength": 7}, "strength: must be an index into the strength scale: 0..3."),
    ({"ranking": "tie"}, "ranking"),
    ({"rationale": ""}, "rationale: this project requires a rationale."),
    ({"ranking": [["x"]]}, "ranking[0][0]: A valid integer is required."),
])
def test_validation_errors_are_400_with_a_specific_message(project, annotator, payload, message):
    project.rationale_required = True
    project.save()
    factories.task(project)
    client = client_for(annotator)
    lease = next_task(client, project).json()
    a, b = (r["id"] for r in lease["task"]["responses"])
    body = {"ranking": [[a], [b]], "strength": 1, "rationale": "ok", **payload}
    if body["ranking"] == [[0]]:
        body["ranking"] = [[a]]
    response = client.post(f"/api/v1/assignments/{lease['assignment_id']}/judgement/", body, format="json")
    assert response.status_code == 400
    assert message in response.json()["error"]["message"]
    assert not Judgement.objects.exists()


def test_ties_not_allowed_is_a_400(project, annotator):
    project.allow_ties = False
    project.save()
    factories.task(project)
    client = client_for(annotator)
    lease = next_task(client, project).json()
    ids = [r["id"] for r in lease["task"]["responses"]]
    response = client.post(f"/api/v1/assignments/{lease['assignment_id']}/judgement/", {"ranking": [ids]},
                           format="json")
    assert response.status_code == 400
    assert response.json()["error"] == {"code": "invalid", "message": "ranking: ties are not allowed in this project."}


def test_project_admin_marks_gold_through_the_api(project, project_admin, annotator):
    task = factories.task(project)
    a, b = task.responses.values_list("id", flat=True)
    url = f"/api/v1/tasks/{task.pk}/gold/"
    assert client_for(annotator).post(url, {"gold_ranking": [[a], [b]]}, format="json").status_code == 403
    response = client_for(project_admin).post(url, {"gold_ranking": [[a], [b]], "target_judgements": 5},
                                              format="json")
    assert response.status_code == 200
    assert response.json() == {"id": task.pk, "is_gold": True, "gold_ranking": [[a], [b]],
                               "target_judgements": 5, "status": "open"}
    assert client_for(project_admin).post(url, {"gold_ranking": [[a]]}, format="json").status_code == 400
    assert client_for(project_admin).delete(url).json()["is_gold"] is False
    assert client_for(factories.UserFactory()).delete(url).status_code == 404


def test_hot_endpoints_stay_within_their_query_budget(project, annotator, django_assert_max_num_queries):
    """next-task and judgement are the load-bearing requests (BENCHMARKS.md): auth, project+roles
    in one query, the claim, the lease and the task view; a regression shows up here as extra queries."""
    factories.rubric(project, keys=("helpful",))
    factories.task(project)
    client = client_for(annotator, token=True)
    with django_assert_max_num_queries(10):
        lease = next_task(client, project).json()
    a, b = (r["id"] for r in lease["task"]["responses"])
    with django_assert_max_num_queries(12):
        response = client.post(f"/api/v1/assignments/{lease['assignment_id']}/judgement/",
                               {"ranking": [[a], [b]], "criteria": {"helpful": [[a], [b]]}}, format="json")
    assert response.status_code == 201


def test_an_annotator_gets_a_token_with_username_and_password_and_annotates_with_it(project, annotator):
    annotator.set_password("s3cret-pass")
    annotator.save()
    factories.task(project)
    anonymous = APIClient()
    wrong = anonymous.post("/api/v1/auth/token/", {"username": annotator.username, "password": "nope"}, format="json")
    assert wrong.status_code == 400
    assert "Unable to log in" in wrong.json()["error"]["fields"]["non_field_errors"][0]
    response = anonymous.post("/api/v1/auth/token/", {"username": annotator.username, "password": "s3cret-pass"},
                              format="json")
    assert response.status_code == 200
    token = response.json()["token"]
    assert anonymous.post("/api/v1/auth/token/", {"username": annotator.username, "password": "s3cret-pass"},
                          format="json").json()["token"] == token  # the same token every time
    anonymous.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert next_task(anonymous, project).status_code == 200


def test_put_on_the_judgement_revises_it_in_place(project, annotator):
    from annotation.models import Judgement
    from rest_framework.test import APIClient

    factories.task(project)
    client = APIClient()
    client.force_authenticate(annotator)
    lease = client.post(f"/api/v1/projects/{project.pk}/next-task/").json()
    a, b = [r["id"] for r in lease["task"]["responses"]]
    url = f"/api/v1/assignments/{lease['assignment_id']}/judgement/"
    assert client.post(url, {"ranking": [[a], [b]]}, format="json").status_code == 201
    revised = client.put(url, {"ranking": [[b], [a]], "strength": 1}, format="json")
    assert revised.status_code == 200, revised.json()
    assert revised.json()["revision"] == 1 and revised.json()["ranking"] == [[b], [a]]
    assert Judgement.objects.filter(annotator=annotator).count() == 1
