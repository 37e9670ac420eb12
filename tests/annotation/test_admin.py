"""The Django admin keeps the data honest: no cross-project rubrics, no mode change under existing
tasks, no in-place edits of a rubric version that judgements use, no reopened task that is full."""
import pytest
from django.contrib.auth import get_user_model

from annotation.models import Project, Task
from tests import factories


@pytest.fixture
def admin_client(client, db):
    get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client.login(username="root", password="pw")
    return client


def test_project_rubric_choices_are_only_that_projects_rubrics(admin_client, project):
    mine = factories.rubric(project)
    other = factories.rubric(factories.ProjectFactory(name="Elsewhere"))
    page = admin_client.get(f"/admin/annotation/project/{project.pk}/change/").content.decode()
    assert f'value="{mine.pk}"' in page
    assert f'value="{other.pk}"' not in page
    assert str(mine) in page and project.name in str(mine)


def test_mode_is_read_only_once_tasks_exist(admin_client, project):
    empty = factories.ProjectFactory(name="Empty")
    assert 'name="mode"' in admin_client.get(f"/admin/annotation/project/{empty.pk}/change/").content.decode()
    factories.task(project)
    page = admin_client.get(f"/admin/annotation/project/{project.pk}/change/").content.decode()
    assert 'name="mode"' not in page


def test_a_used_rubric_version_cannot_be_edited_in_place(admin_client, project, annotator):
    rubric = factories.rubric(project)
    criterion = rubric.criteria.first()
    assert admin_client.get(f"/admin/annotation/criterion/{criterion.pk}/change/").content.decode().count(
        'name="label"') == 1  # editable while unused
    factories.judgement(factories.task(project), annotator)
    page = admin_client.get(f"/admin/annotation/criterion/{criterion.pk}/change/").content.decode()
    assert 'name="label"' not in page  # shown read-only
    posted = admin_client.post(f"/admin/annotation/criterion/{criterion.pk}/change/",
                               {"rubric": rubric.pk, "key": criterion.key, "label": "Changed", "position": 0})
    assert posted.status_code == 403
    criterion.refresh_from_db()
    assert criterion.label != "Changed"


def test_the_plural_reads_criteria(admin_client):
    assert b"Criteria" in admin_client.get("/admin/annotation/").content
    assert b"Criterions" not in admin_client.get("/admin/annotation/").content


def test_reopen_leaves_a_full_task_complete(admin_client, project, annotator):
    full = factories.task(project)
    factories.judgement(full, annotator)
    Task.objects.filter(pk=full.pk).update(status=Task.Status.COMPLETE, completed_judgements=1, target_judgements=1)
    retired = factories.task(project)
    Task.objects.filter(pk=retired.pk).update(status=Task.Status.RETIRED)
    response = admin_client.post("/admin/annotation/task/", {"action": "reopen", "_selected_action": [full.pk, retired.pk]},
                                 follow=True)
    assert b"1 already have all their judgements" in response.content
    assert Task.objects.get(pk=full.pk).status == Task.Status.COMPLETE
    assert Task.objects.get(pk=retired.pk).status == Task.Status.OPEN
    assert Project.objects.count() == 1


def test_the_admin_refuses_a_reserved_criterion_key(admin_client, project):
    rubric = factories.rubric(project, keys=("helpfulness",))
    response = admin_client.post("/admin/annotation/criterion/add/",
                                 {"rubric": rubric.pk, "key": "overall", "label": "Overall", "position": 1})
    assert response.status_code == 200  # the form again, with the error
    assert "is reserved" in response.content.decode()
    assert list(rubric.criteria.values_list("key", flat=True)) == ["helpfulness"]
