"""A PII policy change applies to what is already stored (issue 15): texts imported while the policy
was off are scanned and listed; mask-import rewrites stored prompts, responses and rationales in place
(confirmed; hashes recomputed, so re-imports still collapse); snapshots cut before a switch to a masking
policy are masked as they are downloaded. Rationales follow the policy when saved."""
import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from annotation.models import AuditEvent, Judgement, PiiApplyJob, PiiFinding, Project, Prompt, Response
from annotation.pii.services import project_set_pii_policy
from annotation.services.imports.pairs import pairs_import
from annotation.services.imports.tasks import tasks_import
from rewardtrain.snapshots.exports import FORMATS, artifact_chunks
from rewardtrain.snapshots.filters import filters_build
from rewardtrain.snapshots.services import snapshot_create
from tests import factories
from tests.factories import api_for, jsonl

EMAIL, PHONE, KEY = "jane.doe@example.com", "020 7946 0958", "AKIAIOSFODNN7EXAMPLE"
Policy = Project.PiiPolicy


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def rows():
    return [{"prompt": f"Mail {EMAIL} or ring {PHONE}.", "chosen": "Will do.", "rejected": f"Key {KEY}"},
            {"prompt": "Mail john@example.org please.", "chosen": "Will do.", "rejected": "No."},
            {"prompt": "Nothing personal (order 4155552671).", "chosen": "Fine.", "rejected": "Bad."}]


def import_rows(project, data=None):
    return pairs_import(project=project, fileobj=io.BytesIO(jsonl(data or rows())), filename="pairs.jsonl")


def stored() -> str:
    return json.dumps([list(Prompt.objects.values_list("text", "messages")),
                       list(Response.objects.values_list("text", flat=True)),
                       list(Judgement.objects.values_list("rationale", "history"))])


def switch(project, policy, user=None, **kwargs):
    return project_set_pii_policy(project=project, policy=policy, user=user, **kwargs)


def test_flag_scans_what_was_imported_while_off(project, project_admin, client, django_capture_on_commit_callbacks):
    import_rows(project)
    assert not PiiFinding.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        switch(project, Policy.FLAG, project_admin)
    job = PiiApplyJob.objects.get()
    assert (job.status, job.record, job.mask) == ("done", True, False) and job.done == job.total > 0
    assert job.counts["email"] == 2 and job.counts["phone"] == 1 and job.counts["secret"] == 1
    assert EMAIL in stored()  # flag keeps the text
    client.force_login(project_admin)
    page = client.get(f"/projects/{project.pk}/pii/").content.decode()
    assert "j***@e***.com" in page and "stored prompt" in page and EMAIL not in page and "done" in page
    applied = AuditEvent.objects.get(action="pii_policy.applied")
    assert applied.username == project_admin.username and applied.detail["counts"]["email"] == 2
    # flag → mask-export records nothing twice (those texts were scanned); off → flag again only rescans
    # what came in while off
    with django_capture_on_commit_callbacks(execute=True):
        switch(project, Policy.MASK_EXPORT)
    assert PiiFinding.objects.count() == 4
    with django_capture_on_commit_callbacks(execute=True):
        switch(project, Policy.OFF)
    import_rows(project, [{"prompt": "Write to bob@example.net", "chosen": "a", "rejected": "b"}])
    with django_capture_on_commit_callbacks(execute=True):
        switch(project, Policy.FLAG)
    assert PiiFinding.objects.count() == 5 and PiiFinding.objects.filter(hidden_value="b***@e***.net").exists()


def test_mask_import_rewrites_stored_text_shared_hashes_and_rationales(project, annotator, project_admin,
                                                                        django_capture_on_commit_callbacks):
    import_rows(project)
    task = factories.task(project, prompt=f"Mail {EMAIL} or ring {PHONE}.")  # shares the prompt row
    api = api_for(annotator)
    lease = api.post(f"/api/v1/projects/{project.pk}/next-task/").json()
    a, b = [r["id"] for r in lease["task"]["responses"]]
    url = f"/api/v1/assignments/{lease['assignment_id']}/judgement/"
    assert api.post(url, {"ranking": [[a], [b]], "rationale": f"He wrote {EMAIL}"}, format="json").status_code == 201
    assert api.put(url, {"ranking": [[b], [a]], "rationale": f"Card 4111 1111 1111 1111, {EMAIL}"},
                   format="json").status_code == 200
    assert EMAIL in stored()
    with pytest.raises(ValueError, match="Confirm"):
        switch(project, Policy.MASK_IMPORT, project_admin)
    assert Project.objects.get(pk=project.pk).pii_policy == Policy.OFF
    with django_capture_on_commit_callbacks(execute=True):
        switch(project, Policy.MASK_IMPORT, project_admin, confirm=True)
    job = PiiApplyJob.objects.get()
    assert job.status == "done" and job.mask and job.masked_texts >= 2
    text = stored()
    assert EMAIL not in text and PHONE not in text and KEY not in text and "4111" not in text
    assert "Mail [EMAIL] or ring [PHONE]." in text and "[CARD]" in text
    task.prompt.refresh_from_db()
    assert task.prompt.text == "Mail [EMAIL] or ring [PHONE]."
    assert set(PiiFinding.objects.values_list("masked", flat=True)) == {True}
    # the hashes follow the masked text: the same file imported again is all duplicates
    again = import_rows(project)
    assert (again.created, again.duplicates) == (0, 3)
    # two prompts that differ only in their e-mail: both rows stay, each with its own hash (constraint holds)
    assert Prompt.objects.filter(text="Mail [EMAIL] please.").count() == 1
    assert AuditEvent.objects.filter(action="pii_policy.applied").get().detail["masked"] is True


def test_confirmation_on_the_page_the_api_and_the_command(project, project_admin, client,
                                                          django_capture_on_commit_callbacks):
    import_rows(project)
    client.force_login(project_admin)
    page = client.get(f"/projects/{project.pk}/pii/").content.decode()
    assert "I understand" in page and "9 stored texts" in page
    refused = client.post(f"/projects/{project.pk}/pii/", {"pii_policy": "mask-import"})
    assert refused.status_code == 400 and "for good" in refused.content.decode()
    api = api_for(project_admin)
    url = f"/api/v1/projects/{project.pk}/pii-policy/"
    bad = api.put(url, {"pii_policy": "mask-import"}, format="json")
    assert bad.status_code == 400 and "confirm" in bad.json()["error"]["message"]
    with pytest.raises(CommandError, match="--yes"):
        call_command("pii_policy", str(project.pk), "mask-import", stdout=io.StringIO())
    assert EMAIL in stored() and Project.objects.get(pk=project.pk).pii_policy == Policy.OFF
    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("pii_policy", str(project.pk), "mask-import", "--yes", stdout=out)
    assert "mask-import" in out.getvalue() and EMAIL not in stored()
    assert AuditEvent.objects.get(action="pii_policy.changed").detail["via"] == "command"
    state = api.get(url).json()
    assert state["pii_policy"] == "mask-import" and state["apply_job"]["status"] == "done"
    call_command("pii_policy", str(project.pk), stdout=out)
    assert "done" in out.getvalue()


def test_the_job_is_live_on_the_page_while_it_runs(project, project_admin, client):
    import_rows(project)
    switch(project, Policy.FLAG, project_admin)  # not committed in this test: the job stays queued
    client.force_login(project_admin)
    page = client.get(f"/projects/{project.pk}/pii/").content.decode()
    assert 'hx-trigger="every 2s"' in page and "queued" in page
    fragment = client.get(f"/projects/{project.pk}/pii/?fragment=job", HTTP_HX_REQUEST="true").content.decode()
    assert fragment.strip().startswith('<div id="pii-job"') and "<html" not in fragment


@pytest.mark.parametrize("policy", [Policy.MASK_EXPORT, Policy.MASK_IMPORT])
def test_snapshots_cut_before_the_switch_download_masked(project, ml_engineer, policy, tmp_path,
                                                         django_capture_on_commit_callbacks):
    import_rows(project)
    old = snapshot_create(project=project, filters=filters_build(project=project))
    assert old.stats["pii"]["masked"] is False
    with django_capture_on_commit_callbacks(execute=True):
        switch(project, policy, confirm=True)
    api = api_for(ml_engineer)
    base = f"/api/v1/projects/{project.pk}/snapshots/{old.pk}/download/"
    for fmt in (*FORMATS, "jsonl"):
        response = api.get(base + f"{fmt}/")
        assert response.status_code == 200, (fmt, response.content[:300])
        body = b"".join(response.streaming_content).decode()
        assert EMAIL not in body and KEY not in body and PHONE not in body, fmt
        assert "[EMAIL]" in body or fmt in ("trl", "trl-chat", "hh") and "[SECRET]" in body, fmt
    parquet = api.get(base + "parquet/")
    assert parquet.status_code == 400 and "cut before" in parquet.json()["error"]["message"]
    out = tmp_path / "o.jsonl"
    call_command("export_snapshot", str(old.pk), "--format", "full", "--out", str(out), stdout=io.StringIO(),
                 stderr=io.StringIO())
    assert EMAIL not in out.read_text() and "[EMAIL]" in out.read_text()


@pytest.mark.parametrize("policy", Policy.values)
def test_rationales_follow_the_policy_when_saved(project, annotator, project_admin, ml_engineer, policy):
    project.pii_policy = policy
    project.save()
    factories.task(project)
    api = api_for(annotator)
    lease = api.post(f"/api/v1/projects/{project.pk}/next-task/").json()
    a, b = [r["id"] for r in lease["task"]["responses"]]
    made = api.post(f"/api/v1/assignments/{lease['assignment_id']}/judgement/",
                    {"ranking": [[a], [b]], "rationale": f"A is better, mail me at {EMAIL}"}, format="json")
    assert made.status_code == 201
    judgement = Judgement.objects.get()
    found = list(PiiFinding.objects.values_list("field", "kind", "source", "masked"))
    if policy == Policy.OFF:
        assert found == [] and judgement.rationale.endswith(EMAIL)
    else:
        assert found == [("rationale", "email", f"judgement {judgement.pk}", policy == Policy.MASK_IMPORT)]
    if policy == Policy.MASK_IMPORT:
        assert judgement.rationale == "A is better, mail me at [EMAIL]"
    url = f"/api/v1/projects/{project.pk}/judgements/"
    seen_by_ml = api_for(ml_engineer).get(url).content.decode()
    seen_by_admin = api_for(project_admin).get(url).content.decode()
    assert (EMAIL in seen_by_ml) is (policy in (Policy.OFF, Policy.FLAG))
    assert (EMAIL in seen_by_admin) is (policy != Policy.MASK_IMPORT)
    if policy != Policy.OFF:
        web = Client()
        web.force_login(project_admin)
        body = web.get(f"/projects/{project.pk}/pii/").content.decode()
        assert "In annotators' rationales: email 1" in body


def test_a_snapshot_cut_while_the_mask_job_has_not_run_is_masked(project):
    import_rows(project)
    switch(project, Policy.MASK_IMPORT, confirm=True)  # not committed in this test: the job stays queued
    assert EMAIL in stored()
    snapshot = snapshot_create(project=project, filters=filters_build(project=project))
    raw = b"".join(artifact_chunks(snapshot=snapshot)).decode()
    assert EMAIL not in raw and "[EMAIL]" in raw and snapshot.stats["pii"]["masked"] is True
