"""Regressions found by walking the admin's workspace as a first-time user (the QA pass)."""
from django.urls import reverse
from rest_framework.test import APIClient

from annotation.models import Membership, Project

from .test_manage import disputed_task


def test_adding_an_unknown_member_says_what_to_tick_not_a_command_flag(client, project, project_admin):
    client.force_login(project_admin)
    response = client.post(reverse("members", args=[project.pk]), {"username": "ghost", "role": "ml"})
    page = response.content.decode()
    assert response.status_code == 400
    assert "No user named “ghost”: tick “Create this user”" in page and "--create-user" not in page
    api = APIClient()
    api.force_authenticate(project_admin)
    response = api.post(f"/api/v1/projects/{project.pk}/members/", {"username": "ghost", "role": "ml"}, format="json")
    assert response.status_code == 400
    assert '"create_user": true' in response.json()["error"]["message"]
    assert not Membership.objects.filter(project=project, user__username="ghost").exists()


def test_disputed_page_states_the_threshold_as_the_percent_settings_use(client, project, project_admin):
    Project.objects.filter(pk=project.pk).update(dispute_threshold=0.25)
    disputed_task(project)
    client.force_login(project_admin)
    page = client.get(reverse("disputed", args=[project.pk])).content.decode()
    assert "more than 25 % of the judgements differ" in page
    assert f'<a href="{reverse("project-edit", args=[project.pk])}">Settings</a>' in page


def test_a_refused_rubric_keeps_what_the_admin_typed_and_a_nul_is_a_message_not_a_500(client, project, project_admin):
    client.force_login(project_admin)
    url = reverse("rubric-edit", args=[project.pk])
    before = project.rubric_id
    response = client.post(url, {"name": "Draft two", "key-0": "clarity", "label-0": "Clarity", "description-0": "Is it clear?",
                                 "key-1": "clarity", "label-1": "Again"})
    page = response.content.decode()
    assert response.status_code == 400 and "Criterion keys must be unique." in page
    assert 'value="Draft two"' in page and 'value="Is it clear?"' in page and 'value="Again"' in page
    response = client.post(url, {"name": "R", "key-0": "clarity", "label-0": "Cla\x00rity"})
    assert response.status_code == 400
    assert "Criterion “clarity”: NUL characters are not allowed in its label." in response.content.decode()
    response = client.post(url, {"name": "R\x00", "key-0": "clarity"})
    assert response.status_code == 400 and "Rubric name: NUL characters are not allowed." in response.content.decode()
    project.refresh_from_db()
    assert project.rubric_id == before


def test_the_audit_page_shows_details_as_json_not_python(client, project, project_admin):
    from annotation.services.audit import audit_record
    audit_record(action="member.role_added", project=project, target=project,
                 detail={"member": "<b>x</b>", "user_created": True, "previous": None})
    client.force_login(project_admin)
    page = client.get(reverse("audit-log", args=[project.pk])).content.decode()
    assert "&quot;user_created&quot;: true" in page and "&quot;previous&quot;: null" in page
    assert "True" not in page.split("<table")[1] and "&lt;b&gt;x&lt;/b&gt;" in page
