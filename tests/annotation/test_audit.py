"""The audit trail after a scripted sequence of governance actions (commands, the Django admin, pages
and the API), read back through the API and the page with filters; rows cannot be changed."""
import io
import json
from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from annotation.models import AuditEvent, Membership, PiiApplyJob
from annotation.services.audit import audit_record
from rewardtrain.models import Alert, ModelVersion
from tests import factories
from tests.factories import api_for


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def test_a_scripted_sequence_is_read_back_in_order(client, project, project_admin, tmp_path):
    ml = factories.member(project, "ml")
    root = factories.UserFactory(username="root", is_staff=True, is_superuser=True)
    # 1. a command adds a member; 2-3. the Django admin changes the role, then removes it
    call_command("add_member", str(project.pk), "carol", "--role", "annotator", "--create-user", stdout=io.StringIO())
    membership = Membership.objects.get(user__username="carol")
    client.force_login(root)
    change = client.post(f"/admin/annotation/membership/{membership.pk}/change/",
                         {"user": membership.user_id, "project": project.pk, "role": "ml"})
    assert change.status_code == 302
    assert client.post(f"/admin/annotation/membership/{membership.pk}/delete/", {"post": "yes"}).status_code == 302
    # 4. the PII policy on its page
    client.force_login(project_admin)
    client.post(f"/projects/{project.pk}/pii/", {"pii_policy": "mask-export"})
    # 5-6. snapshot downloads through the API and the page; 7. the export command
    snapshot = factories.snapshot_with_both_splits(project)
    assert api_for(ml).get(f"/api/v1/projects/{project.pk}/snapshots/{snapshot.pk}/download/trl/").status_code == 200
    assert client.get(f"/train/projects/{project.pk}/snapshots/{snapshot.pk}/download/parquet/").status_code == 200
    call_command("export_snapshot", str(snapshot.pk), "--format", "hh", "--out", str(tmp_path / "o.jsonl"),
                 stdout=io.StringIO(), stderr=io.StringIO())
    # 8-10. promote twice and roll back; 11. download the model
    v1, v2 = (ModelVersion.objects.create(project=project, version=v, artifact_dir=f"m{v}") for v in (1, 2))
    for model in (v1, v2):
        assert api_for(ml).post(f"/api/v1/models/{model.pk}/promote/").status_code == 200
    assert api_for(ml).post(f"/api/v1/projects/{project.pk}/models/rollback/").status_code == 200
    assert api_for(ml).get(f"/api/v1/models/{v1.pk}/download/").status_code == 200
    # 12-13. an alert acknowledged through the API, resolved on the monitoring page; 14. the training policy
    alert = Alert.objects.create(project=project, model_version=v1, rule="mean_drop", message="fell")
    assert api_for(ml).post(f"/api/v1/alerts/{alert.pk}/acknowledge/").status_code == 200
    assert api_for(ml).post(f"/api/v1/alerts/{alert.pk}/acknowledge/").status_code == 200  # a retry: no new row
    client.post(f"/train/projects/{project.pk}/monitoring/alerts/{alert.pk}/resolve/")
    assert api_for(ml).patch(f"/api/v1/projects/{project.pk}/training-policy/", {"retrain_every": 50},
                             format="json").status_code == 200

    trail = api_for(project_admin).get(f"/api/v1/projects/{project.pk}/audit-events/").json()["results"]
    latest, trail = trail[-3:], trail[:-3]
    assert [(e["action"], e["user"]) for e in latest] == [
        ("alert.acknowledged", ml.username), ("alert.resolved", project_admin.username),
        ("training_policy.changed", ml.username)]
    assert latest[0]["detail"]["rule"] == "mean_drop"
    assert latest[1]["target_type"] == "alert" and latest[1]["target_id"] == str(alert.pk)
    assert latest[2]["detail"]["retrain_every"] == {"from": 0, "to": 50}
    assert [(e["action"], e["user"]) for e in trail] == [
        ("member.role_added", ""), ("member.role_changed", "root"), ("member.role_removed", "root"),
        ("pii_policy.changed", project_admin.username), ("snapshot.downloaded", ml.username),
        ("snapshot.downloaded", project_admin.username), ("snapshot.exported", ""),
        ("model.promoted", ml.username), ("model.promoted", ml.username), ("model.rolled_back", ml.username),
        ("model.downloaded", ml.username)]
    assert trail[0]["detail"] == {"member": "carol", "role": "annotator", "user_created": True}
    assert trail[1]["detail"] == {"member": "carol", "from": "annotator", "to": "ml", "via": "admin"}
    assert trail[4]["detail"]["format"] == "trl" and trail[4]["target_type"] == "datasetsnapshot"
    assert trail[5]["detail"]["via"] == "page" and trail[6]["detail"]["format"] == "hh"
    assert trail[9]["detail"]["version"] == 1 and trail[9]["detail"]["previous_active"]["version"] == 2
    assert trail[9]["target_id"] == str(v1.pk)

    api = api_for(project_admin)
    base = f"/api/v1/projects/{project.pk}/audit-events/"
    assert len(api.get(base, {"action": "model."}).json()["results"]) == 4
    assert len(api.get(base, {"action": "model.promoted"}).json()["results"]) == 2
    assert {e["action"] for e in api.get(base, {"user": "root"}).json()["results"]} == {
        "member.role_changed", "member.role_removed"}
    today = date.today()
    assert len(api.get(base, {"since": today.isoformat(), "until": today.isoformat()}).json()["results"]) == 14
    assert len(api.get(base, {"action": "alert."}).json()["results"]) == 2
    assert api.get(base, {"until": (today - timedelta(days=1)).isoformat()}).json()["results"] == []
    assert api.get(base, {"since": "yesterday"}).status_code == 400

    page = client.get(f"/projects/{project.pk}/audit/", {"action": "member."}).content.decode()
    assert "<td>member.role_changed" in page and "<td>model.promoted" not in page and "(system)" in page


def test_other_projects_events_stay_out_and_only_admins_read(project, project_admin, annotator, ml_engineer, client):
    other = factories.ProjectFactory()
    audit_record(action="pii_policy.changed", project=other, target=other, detail={"from": "off", "to": "flag"})
    assert api_for(project_admin).get(f"/api/v1/projects/{project.pk}/audit-events/").json()["results"] == []
    for user in (annotator, ml_engineer):
        assert api_for(user).get(f"/api/v1/projects/{project.pk}/audit-events/").status_code == 403
        client.force_login(user)
        assert client.get(f"/projects/{project.pk}/audit/").status_code == 403
    assert api_for(project_admin).post(f"/api/v1/projects/{project.pk}/audit-events/", {}).status_code == 405


def test_rows_cannot_be_changed_or_deleted(project, client):
    event = audit_record(action="pii_policy.changed", project=project, target=project, detail={"to": "flag"})
    event.action = "nothing.happened"
    with pytest.raises(ValidationError):
        event.save()
    with pytest.raises(ValidationError):
        event.delete()
    for sql in ("UPDATE annotation_auditevent SET action = 'x'", "DELETE FROM annotation_auditevent"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.get().action == "pii_policy.changed"
    root = factories.UserFactory(username="root2", is_staff=True, is_superuser=True)
    client.force_login(root)
    assert client.post(f"/admin/annotation/auditevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    client.post(f"/admin/annotation/auditevent/{event.pk}/change/", {"action": "x"})
    assert AuditEvent.objects.get().action == "pii_policy.changed"
    with pytest.raises(ValueError, match="Unknown audit action"):
        audit_record(action="made.up")


def test_a_deleted_project_or_user_leaves_the_trail(project, project_admin):
    audit_record(action="pii_policy.changed", user=project_admin, project=project, target=project)
    name, pk = project.name, project.pk
    project.delete()
    event = AuditEvent.objects.get()
    assert (event.project_id, event.project_name, event.username) == (pk, name, project_admin.username)


def test_role_and_policy_changes_in_the_project_admin_page_are_audited(client, project):
    root = factories.UserFactory(username="root3", is_staff=True, is_superuser=True)
    carol = factories.member(project, "annotator", factories.UserFactory(username="carol3"))
    membership = Membership.objects.get(user=carol)
    dave = factories.UserFactory(username="dave3")
    client.force_login(root)
    form = {"name": project.name, "description": "", "instructions": "", "mode": project.mode, "rubric": "",
            "strength_scale": json.dumps(project.strength_scale), "allow_ties": "on", "allow_both_bad": "on",
            "overlap": 1, "max_overlap": 5, "dispute_threshold": 0.25, "lease_seconds": 600, "gold_rate": 0,
            "pii_policy": "flag",
            "memberships-TOTAL_FORMS": 2, "memberships-INITIAL_FORMS": 1, "memberships-MIN_NUM_FORMS": 0,
            "memberships-MAX_NUM_FORMS": 1000,
            "memberships-0-id": membership.pk, "memberships-0-project": project.pk, "memberships-0-user": carol.pk,
            "memberships-0-role": "admin",
            "memberships-1-id": "", "memberships-1-project": project.pk, "memberships-1-user": dave.pk,
            "memberships-1-role": "ml"}
    response = client.post(f"/admin/annotation/project/{project.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:3000]
    events = list(AuditEvent.objects.order_by("id").values_list("action", "username", "detail"))
    assert events == [
        ("pii_policy.changed", "root3", {"from": "off", "to": "flag", "via": "admin",
                                         "apply_job": PiiApplyJob.objects.get().pk}),
        ("member.role_added", "root3", {"member": "dave3", "role": "ml", "via": "admin"}),
        ("member.role_changed", "root3", {"member": "carol3", "from": "annotator", "to": "admin", "via": "admin"})]


def test_the_page_filters_by_a_select_of_known_actions_and_the_api_takes_any(client, project, project_admin):
    for action in ("alert.acknowledged", "alert.resolved", "model.promoted"):
        audit_record(action=action, project=project)
    client.force_login(project_admin)
    page = client.get(f"/projects/{project.pk}/audit/").content.decode()
    assert '<select name="action"' in page and '<option value="alert.">' in page
    assert '<option value="pii_policy.applied">' in page and '<option value="training_policy.changed">' in page
    filtered = client.get(f"/projects/{project.pk}/audit/", {"action": "alert."}).content.decode()
    assert filtered.count("<td>alert.") == 2 and "<td>model.promoted" not in filtered
    bad = client.get(f"/projects/{project.pk}/audit/", {"action": "<script>"})
    assert bad.status_code == 400 and "<script>" not in bad.content.decode()
    api = api_for(project_admin)
    base = f"/api/v1/projects/{project.pk}/audit-events/"
    assert len(api.get(base, {"action": "alert.resolved"}).json()["results"]) == 1
    assert api.get(base, {"action": "no.such"}).json()["results"] == []
