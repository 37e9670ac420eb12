"""The admin's API: PATCH project settings (checked like the page), members and roles, the disputed
queue and verdicts."""
import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from annotation.models import Adjudication, Membership, Project
from tests import factories

P = "/api/v1/projects/{}/"


@pytest.fixture
def api(project_admin):
    client = APIClient()
    client.force_authenticate(project_admin)
    return client


def test_patch_changes_settings_and_bad_input_changes_nothing(api, project):
    response = api.patch(P.format(project.pk), {"overlap": 3, "max_overlap": 6, "adaptive_overlap": True,
                                                "dispute_threshold": 0.3, "strength_scale": ["a bit", "a lot"],
                                                "instructions": "# Hi"}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["overlap"], body["max_overlap"], body["adaptive_overlap"], body["dispute_threshold"],
            body["strength_scale"]) == (3, 6, True, 0.3, ["a bit", "a lot"])
    for bad, message in [({"max_overlap": 2}, "max_overlap: must be at least the overlap (3)."),
                         ({"gold_rate": 1.5}, "gold_rate: must be from 0 to 1."),
                         ({"lease_seconds": 5}, "lease_seconds: must be a whole number from 30 to 604800."),
                         ({"dispute_threshold": 1}, "dispute_threshold: must be from 0 to 1 (not included)."),
                         ({"strength_scale": ["x", " "]}, "strength_scale: labels must not be empty."),
                         ({"overlap": "many"}, "overlap: A valid integer is required."),
                         ({"colour": "red"}, "colour: is not a project setting"),
                         ({"name": factories.ProjectFactory(name="Taken").name}, "name: a project named “Taken”")]:
        response = api.patch(P.format(project.pk), {"lease_seconds": 900, **bad}, format="json")
        assert response.status_code == 400, bad
        assert response.json()["error"]["message"].startswith(message), response.json()
    lone_surrogate = api.patch(P.format(project.pk), data='{"instructions": "bad \\ud800"}',
                               content_type="application/json")
    assert lone_surrogate.status_code == 400
    assert lone_surrogate.json()["error"]["message"].startswith("instructions: Surrogate characters are not allowed")
    project.refresh_from_db()
    assert (project.overlap, project.max_overlap, project.lease_seconds, project.instructions) == (3, 6, 600, "# Hi")


def test_mode_is_fixed_once_the_project_has_tasks(api, project):
    factories.task(project)
    response = api.patch(P.format(project.pk), {"mode": "ranking"}, format="json")
    assert response.status_code == 400
    assert "mode: cannot change once the project has tasks" in response.json()["error"]["message"]


def test_members_add_create_change_remove_and_keep_an_admin(api, project, project_admin):
    url = P.format(project.pk) + "members/"
    created = api.post(url, {"username": "nova", "role": "annotator", "create_user": True}, format="json")
    assert created.status_code == 201 and created["Cache-Control"] == "no-store"
    body = created.json()
    assert body["username"] == "nova" and body["roles"] == ["annotator"] and body["password"]
    assert APIClient().login(username="nova", password=body["password"])
    again = api.post(url, {"username": "nova", "role": "ml"}, format="json").json()
    assert again["roles"] == ["annotator", "ml"] and again["password"] is None
    assert api.post(url, {"username": "ghost", "role": "ml"}, format="json").status_code == 400
    listed = {m["username"]: m["roles"] for m in api.get(url).json()}
    assert listed == {"nova": ["annotator", "ml"], project_admin.username: ["admin"]}

    nova = get_user_model().objects.get(username="nova")
    assert api.patch(f"{url}{nova.pk}/", {"role": "admin"}, format="json").json()["roles"] == ["admin"]
    assert api.patch(f"{url}{nova.pk}/", {"role": "boss"}, format="json").status_code == 400
    assert api.delete(f"{url}{project_admin.pk}/").status_code == 204  # nova is admin now
    assert api.get(url).status_code == 404  # no longer a member
    api.force_authenticate(nova)
    last = api.delete(f"{url}{nova.pk}/")
    assert last.status_code == 409 and "must keep at least one project admin" in last.json()["error"]["message"]
    assert Membership.objects.filter(project=project, user=nova, role="admin").exists()
    assert api.get(f"{url}{factories.UserFactory().pk}/").status_code == 405


def test_disputed_queue_and_verdict(api, project):
    task = factories.task(project)
    slots = list(task.slots.order_by("position").values_list("response_id", flat=True))
    first, second = factories.member(project, "annotator"), factories.member(project, "annotator")
    factories.judged_pair(project, first, prefer=0, task=task, strength=0)
    factories.judged_pair(project, second, prefer=1, task=task)
    agreed = factories.task(project)
    factories.judged_pair(project, first, task=agreed)
    factories.judged_pair(project, second, task=agreed)

    rows = api.get(P.format(project.pk) + "quality/disputed/").json()["results"]
    assert [r["id"] for r in rows] == [task.pk]
    row = rows[0]
    assert row["disagreement"] == 0.5 and [r["id"] for r in row["responses"]] == slots
    assert [(j["annotator"], j["answer"], j["strength_label"]) for j in row["judgements"]] == [
        (first.username, "A > B", "negligibly better"), (second.username, "B > A", "")]

    url = f"/api/v1/tasks/{task.pk}/adjudication/"
    bad = api.post(url, {"ranking": [[slots[0]]], "note": "x"}, format="json")
    assert bad.status_code == 400 and "must rank every response" in bad.json()["error"]["message"]
    assert api.post(url, {"ranking": [[slots[1]], [slots[0]]]}, format="json").status_code == 400  # no note
    made = api.post(url, {"ranking": [[slots[1]], [slots[0]]], "note": "B is correct."}, format="json")
    assert made.status_code == 201 and made.json()["note"] == "B is correct."
    assert api.post(url, {"ranking": [slots], "note": "Both fine."}, format="json").status_code == 200
    assert Adjudication.objects.get(task=task).ranking == [slots]
    assert api.get(P.format(project.pk) + "quality/disputed/").json()["results"] == []
    assert len(api.get(P.format(project.pk) + "quality/disputed/?all=true").json()["results"]) == 1
