"""Issue 14's last QA leftovers in the admin workspace: adding someone who is already a member, rubric
descriptions without a bound, and bidirectional control characters that make a project name lie."""
import pytest
from django.urls import reverse

from annotation.models import Criterion, Membership, Project
from tests import factories
from tests.factories import api_for

from .test_manage import settings_post


def test_adding_an_existing_member_with_another_role_says_the_role_was_added_beside_theirs(client, project,
                                                                                          project_admin):
    """Roles add up (the API's members test relies on it): the message used to say "bob is now ML
    engineer", as if the role had been replaced, while bob was still an annotator too."""
    bob = factories.member(project, "annotator", factories.UserFactory(username="bob"))
    client.force_login(project_admin)
    response = client.post(reverse("members", args=[project.pk]), {"username": "bob", "role": "ml"}, follow=True)
    page = response.content.decode()
    assert "is now ML engineer" not in page
    assert ("ML engineer added: bob was already Annotator and now has both roles (Annotator and ML engineer). "
            "To replace their role instead, use “Change role to” in the table.") in page
    assert sorted(Membership.objects.filter(project=project, user=bob).values_list("role", flat=True)) == ["annotator", "ml"]
    # The way the message points to: the roles become exactly ML engineer.
    client.post(reverse("member-set-role", args=[project.pk, bob.pk]), {"role": "ml"})
    assert list(Membership.objects.filter(project=project, user=bob).values_list("role", flat=True)) == ["ml"]


def test_adding_a_member_again_with_the_same_role_says_nothing_changed(client, project, project_admin):
    bob = factories.member(project, "annotator", factories.UserFactory(username="bob"))
    client.force_login(project_admin)
    page = client.post(reverse("members", args=[project.pk]), {"username": "bob", "role": "annotator"},
                       follow=True).content.decode()
    assert "bob already is Annotator; nothing changed." in page
    assert Membership.objects.filter(project=project, user=bob).count() == 1
    page = client.post(reverse("members", args=[project.pk]), {"username": "newbie", "role": "annotator",
                                                              "create_user": "on"}, follow=True).content.decode()
    assert "newbie is now Annotator." in page


def test_a_criterion_description_has_a_bound_with_a_clear_message(client, project, project_admin):
    client.force_login(project_admin)
    url = reverse("rubric-edit", args=[project.pk])
    response = client.post(url, {"name": "R", "key-0": "clarity", "label-0": "Clarity", "description-0": "x" * 2001})
    assert response.status_code == 400
    assert "Criterion “clarity”: the description is 2001 characters; at most 2000 are allowed" in response.content.decode()
    assert not Criterion.objects.filter(rubric__project=project, key="clarity").exists()
    ok = client.post(url, {"name": "R", "key-0": "clarity", "label-0": "Clarity", "description-0": "x" * 2000})
    assert ok.status_code == 302
    assert len(Criterion.objects.get(rubric__project=project, key="clarity").description) == 2000
    api = api_for(project_admin)
    response = api.post(f"/api/v1/projects/{project.pk}/rubrics/", {
        "name": "R2", "criteria": [{"key": "tone", "description": "y" * 2001}]}, format="json")
    assert response.status_code == 400 and "2000" in str(response.json())


SPOOFS = ["Safety\u202etxt.exe", "Ranking\u2066 evil\u2069", "A\u202aB"]


@pytest.mark.parametrize("name", SPOOFS)
def test_bidi_controls_in_a_project_name_are_refused_in_the_form_and_the_api(client, project, project_admin, name):
    client.force_login(project_admin)
    response = client.post(reverse("project-edit", args=[project.pk]), settings_post(project, name=name))
    page = response.content.decode()
    assert response.status_code == 400 and "must not contain bidirectional control characters (U+" in page
    response = api_for(project_admin).patch(f"/api/v1/projects/{project.pk}/", {"name": name}, format="json")
    assert response.status_code == 400
    assert "bidirectional control characters" in response.json()["error"]["message"]
    project.refresh_from_db()
    assert project.name != name and not Project.objects.filter(name=name).exists()


def test_a_name_in_a_right_to_left_script_is_fine(client, project, project_admin):
    response = api_for(project_admin).patch(f"/api/v1/projects/{project.pk}/", {"name": "مشروع التقييم"},
                                            format="json")
    assert response.status_code == 200
