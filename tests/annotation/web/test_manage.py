"""The project admin's workspace pages, used as an admin would: settings, rubric, members, batches,
the task browser, the disputed queue and verdicts."""
import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from annotation.models import Adjudication, Batch, Membership, Project, Task
from annotation.services import queue
from tests import factories

from .test_projects import upload

PAGES = ["project-edit", "rubric-edit", "members", "batches", "task-list", "disputed"]


def settings_post(project=None, **overrides):
    data = {"name": project.name if project else "Fresh", "description": "", "mode": "pairwise",
            "instructions": "", "overlap": "2", "lease_seconds": "600", "gold_rate_percent": "0",
            "allow_ties": "on", "allow_both_bad": "on", "strength_scale": "slightly\nclearly",
            "max_overlap": "4", "dispute_threshold_percent": "25"}
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


@pytest.mark.parametrize("name", PAGES)
def test_every_page_is_for_project_admins_only(client, project, annotator, project_admin, ml_engineer, name):
    url = reverse(name, args=[project.pk])
    client.force_login(factories.UserFactory())
    assert client.get(url).status_code == 404
    for user in (annotator, ml_engineer):
        client.force_login(user)
        assert client.get(url).status_code == 403
    client.force_login(project_admin)
    assert client.get(url).status_code == 200


def test_creating_a_project_needs_the_permission_and_makes_the_creator_its_admin(client, db):
    user = factories.UserFactory()
    client.force_login(user)
    assert client.get(reverse("project-create")).status_code == 403
    user.user_permissions.add(Permission.objects.get(codename="add_project"))
    client.force_login(user)
    assert "New project" in client.get(reverse("home")).content.decode()
    bad = client.post(reverse("project-create"), settings_post(max_overlap="1"))
    assert bad.status_code == 400 and "must be at least the overlap (2)." in bad.content.decode()
    assert not Project.objects.exists()
    response = client.post(reverse("project-create"), settings_post(instructions="# Be kind"))
    project = Project.objects.get(name="Fresh")
    assert response["Location"] == reverse("project-detail", args=[project.pk])
    assert (project.overlap, project.max_overlap, project.strength_scale) == (2, 4, ["slightly", "clearly"])
    assert Membership.objects.get(project=project).user == user and project.memberships.get().role == "admin"


def test_settings_are_saved_and_bad_ones_change_nothing(client, project, project_admin):
    client.force_login(project_admin)
    url = reverse("project-edit", args=[project.pk])
    response = client.post(url, settings_post(project, gold_rate_percent="150", overlap="3"))
    assert response.status_code == 400 and "must be a percent from 0 to 100." in response.content.decode()
    project.refresh_from_db()
    assert project.overlap == 1
    client.post(url, settings_post(project, overlap="3", adaptive_overlap="on", gold_rate_percent="12.5",
                                   allow_ties=None, rationale_required="on"))
    project.refresh_from_db()
    assert (project.overlap, project.adaptive_overlap, project.gold_rate, project.allow_ties,
            project.rationale_required) == (3, True, 0.125, False, True)
    assert 'value="12.5"' in client.get(url).content.decode()


def test_instructions_preview_is_the_safe_renderer(client, project, project_admin):
    client.force_login(project_admin)
    html = client.post(reverse("markdown-preview"), {"instructions": "**bold** <script>alert(1)</script>"},
                       HTTP_HX_REQUEST="true").content.decode()
    assert "<strong>bold</strong>" in html and "<script>" not in html
    page = client.post(reverse("project-edit", args=[project.pk]), settings_post(project, instructions="*hi*",
                                                                                 preview="1"))
    assert "<em>hi</em>" in page.content.decode()
    project.refresh_from_db()
    assert project.instructions == ""  # a preview saves nothing


def test_rubric_is_edited_in_place_until_used_then_versioned(client, project, project_admin, annotator):
    client.force_login(project_admin)
    url = reverse("rubric-edit", args=[project.pk])
    client.post(url, {"name": "R", "key-0": "helpful", "label-0": "Helpful", "key-1": "honest"})
    rubric = Project.objects.get(pk=project.pk).rubric
    assert rubric.version == 1 and [c.key for c in rubric.criteria.all()] == ["helpful", "honest"]
    client.post(url, {"name": "R", "key-0": "helpful", "description-0": "Does it help?", "key-1": ""})
    rubric.refresh_from_db()
    assert [c.key for c in rubric.criteria.all()] == ["helpful"] and Project.objects.get(pk=project.pk).rubric == rubric
    project.refresh_from_db()
    factories.judged_pair(project, annotator)  # now a judgement uses v1
    response = client.post(url, {"name": "R", "key-0": "helpful", "key-1": "safe"}, follow=True)
    assert "Saved as a new version v2" in response.content.decode()
    assert Project.objects.get(pk=project.pk).rubric.version == 2
    assert [c.key for c in rubric.criteria.all()] == ["helpful"]  # v1 untouched
    bad = client.post(url, {"name": "R", "key-0": "overall"}, follow=True)
    assert "is reserved" in bad.content.decode()


def test_members_add_create_change_and_remove_but_never_the_last_admin(client, project, project_admin):
    client.force_login(project_admin)
    url = reverse("members", args=[project.pk])
    existing = factories.UserFactory(username="existing")
    client.post(url, {"username": "existing", "role": "annotator"})
    assert Membership.objects.filter(project=project, user=existing, role="annotator").exists()
    response = client.post(url, {"username": "newbie", "role": "ml", "create_user": "on"})
    page = response.content.decode()
    password = page.split('class="one-time-password">')[1].split("<")[0]
    assert client.login(username="newbie", password=password)
    client.force_login(project_admin)
    assert password not in client.get(url).content.decode()  # shown once
    assert client.post(url, {"username": "ghost", "role": "ml"}).status_code == 400

    client.post(reverse("member-set-role", args=[project.pk, existing.pk]), {"role": "admin"})
    assert set(Membership.objects.filter(project=project, user=existing).values_list("role", flat=True)) == {"admin"}
    client.post(reverse("member-remove", args=[project.pk, existing.pk]))
    assert not Membership.objects.filter(project=project, user=existing).exists()
    response = client.post(reverse("member-set-role", args=[project.pk, project_admin.pk]), {"role": "annotator"},
                           follow=True)
    assert "must keep at least one project admin" in response.content.decode()
    response = client.post(reverse("member-remove", args=[project.pk, project_admin.pk]), follow=True)
    assert "must keep at least one project admin" in response.content.decode()
    assert Membership.objects.filter(project=project, user=project_admin, role="admin").exists()


def test_paused_batches_are_not_served_until_resumed_and_retire_takes_them_out(client, project, project_admin,
                                                                                annotator):
    client.force_login(project_admin)
    client.post(reverse("project-import", args=[project.pk]),
                {"kind": "tasks", "file": upload("b.jsonl", [{"prompt": "Q?", "responses": ["a", "b"]}])})
    batch = Batch.objects.get(project=project)
    page = client.get(reverse("batches", args=[project.pk])).content.decode()
    assert "b.jsonl" in page and "open 1" in page and "0 / 1" in page
    client.post(reverse("batch-pause", args=[project.pk, batch.pk]))
    assert Batch.objects.get(pk=batch.pk).paused
    assert queue.task_next(project=project, annotator=annotator) is None
    client.post(reverse("batch-resume", args=[project.pk, batch.pk]))
    lease = queue.task_next(project=project, annotator=annotator)
    assert lease is not None and lease.task.batch_id == batch.pk
    response = client.post(reverse("batch-retire", args=[project.pk, batch.pk]), follow=True)
    assert "1 unfinished task(s) leave the queue" in response.content.decode()
    assert set(Task.objects.filter(batch=batch).values_list("status", flat=True)) == {Task.Status.RETIRED}


def disputed_task(project):
    task = factories.task(project)
    a, b = (factories.member(project, "annotator") for _ in range(2))
    factories.judged_pair(project, a, prefer=0, task=task, strength=1)
    factories.judged_pair(project, b, prefer=1, task=task)
    return task


def test_task_browser_filters(client, project, project_admin):
    client.force_login(project_admin)
    disputed = disputed_task(project)
    agreed = factories.task(project)
    factories.judged_pair(project, prefer=0, task=agreed)
    factories.judged_pair(project, prefer=0, task=agreed)
    gold = factories.task(project)
    Task.objects.filter(pk=gold.pk).update(is_gold=True, gold_ranking=[[1], [2]], status=Task.Status.COMPLETE)
    url = reverse("task-list", args=[project.pk])

    def ids(**params):
        page = client.get(url, params).content.decode()
        return {t.pk for t in (disputed, agreed, gold) if reverse("task-detail", args=[project.pk, t.pk]) in page}

    assert ids() == {disputed.pk, agreed.pk, gold.pk}
    assert ids(disputed="yes") == {disputed.pk}
    assert ids(disputed="no") == {agreed.pk, gold.pk}
    assert ids(gold="yes") == {gold.pk}
    assert ids(status="complete") == {gold.pk}


def test_disputed_queue_shows_every_judgement_and_records_a_verdict(client, project, project_admin):
    client.force_login(project_admin)
    task = disputed_task(project)
    from annotation.models import Judgement
    Judgement.objects.filter(task=task).update(rationale="<b>A</b> is <script>x</script> wrong")
    page = client.get(reverse("disputed", args=[project.pk])).content.decode()
    assert f"Task {task.pk}" in page and "disagreement 50%" in page
    assert "&lt;script&gt;x&lt;/script&gt;" in page and "<script>x" not in page
    assert "slightly better" in page  # the strength label of the first judgement
    detail = client.get(reverse("task-detail", args=[project.pk, task.pk])).content.decode()
    assert "Record verdict" in detail
    bad = client.post(reverse("task-adjudicate", args=[project.pk, task.pk]), {"rank-A": "1", "rank-B": "2"})
    assert bad.status_code == 400 and "say why" in bad.content.decode() and not Adjudication.objects.exists()
    assert '<option value="2" selected>' in bad.content.decode()  # the ranks chosen are kept
    bad = client.post(reverse("task-adjudicate", args=[project.pk, task.pk]), {"rank-A": "1", "note": "kept"})
    assert "missing B" in bad.content.decode() and ">kept</textarea>" in bad.content.decode()
    client.post(reverse("task-adjudicate", args=[project.pk, task.pk]),
                {"rank-A": "2", "rank-B": "1", "note": "B cites the source."})
    verdict = Adjudication.objects.get(task=task)
    slots = list(task.slots.order_by("position").values_list("response_id", flat=True))
    assert verdict.ranking == [[slots[1]], [slots[0]]] and verdict.decided_by == project_admin
    assert f"Task {task.pk}" not in client.get(reverse("disputed", args=[project.pk])).content.decode()
    assert f"Task {task.pk}" in client.get(reverse("disputed", args=[project.pk]) + "?all=1").content.decode()


def test_only_instruction_writers_may_use_the_preview(client, annotator):
    client.force_login(annotator)
    assert client.post(reverse("markdown-preview"), {"instructions": "*x*"}).status_code == 403
    assert client.get(reverse("markdown-preview")).status_code == 405
