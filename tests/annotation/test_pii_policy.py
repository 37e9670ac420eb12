"""The project PII policy end to end: imports under each policy, the snapshot and every export format
searched for raw values, counts per kind, the flagged-items page, the annotator workspace, and the
policy set through the page, the API and create_project."""
import io
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from annotation.models import AuditEvent, PiiFinding, Project, Prompt, Response
from annotation.services.imports.pairs import pairs_import
from annotation.services.imports.tasks import tasks_import
from rewardtrain.snapshots.exports import FORMATS, RAW_FORMATS
from rewardtrain.snapshots.filters import filters_build
from rewardtrain.snapshots.services import snapshot_create
from tests import factories
from tests.factories import jsonl

EMAIL, PHONE, CARD = "jane.doe@example.com", "+44 20 7946 0958", "4111 1111 1111 1111"
KEY = "AKIAIOSFODNN7EXAMPLE"
RAW = (EMAIL, PHONE, CARD, KEY, "4111111111111111")
Policy = Project.PiiPolicy


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def pair_rows():
    return [
        {"prompt": f"My e-mail is {EMAIL}, call {PHONE}. What now?", "chosen": f"Your card {CARD} is safe.",
         "rejected": f"Post the key {KEY} online."},
        # the same content with another address: the same row once masked
        {"prompt": f"My e-mail is john@example.org, call {PHONE}. What now?", "chosen": f"Your card {CARD} is safe.",
         "rejected": f"Post the key {KEY} online."},
        {"prompt": [{"role": "user", "content": f"Reach me at {EMAIL}"}], "chosen": "Sure.", "rejected": "No."},
        {"prompt": "Nothing personal here (order 4155552671, v1.2.3.4).", "chosen": "Fine.", "rejected": "Bad."},
    ]


def import_pairs(project):
    return pairs_import(project=project, fileobj=io.BytesIO(jsonl(pair_rows())), filename="pairs.jsonl")


def stored_text() -> str:
    return json.dumps([list(Prompt.objects.values_list("text", "messages")),
                       list(Response.objects.values_list("text", flat=True))])


def downloads(project, snapshot) -> dict[str, bytes]:
    client = APIClient()
    client.force_authenticate(factories.member(project, "ml"))
    out = {}
    for fmt in (*FORMATS, *RAW_FORMATS):
        response = client.get(f"/api/v1/projects/{project.pk}/snapshots/{snapshot.pk}/download/{fmt}/")
        assert response.status_code == 200, (fmt, response.content[:300])
        out[fmt] = b"".join(response.streaming_content)
    return out


def parquet_text(data: bytes, tmp_path) -> str:
    path = tmp_path / "s.parquet"
    path.write_bytes(data)
    return json.dumps(pq.read_table(path).to_pylist(), ensure_ascii=False)


@pytest.mark.parametrize("policy", Policy.values)
def test_every_export_format_under_each_policy(project, policy, tmp_path):
    project.pii_policy = policy
    project.save()
    result = import_pairs(project)
    snapshot = snapshot_create(project=project, filters=filters_build(project=project))
    files = downloads(project, snapshot)
    files["parquet"] = parquet_text(files["parquet"], tmp_path).encode()
    leaked = {fmt: [v for v in RAW if v.encode() in data] for fmt, data in files.items()}
    if policy in (Policy.MASK_EXPORT, Policy.MASK_IMPORT):
        assert leaked == {fmt: [] for fmt in files}, leaked
        assert b"[EMAIL]" in files["trl"] and b"[SECRET]" in files["hh"] and b"[CARD]" in files["kway"]
        assert snapshot.stats["pii"]["masked"] is True
    else:
        assert all(leaked[fmt] for fmt in files)  # off and flag export the text as it is
    if policy == Policy.OFF:
        assert result.pii == {} and "pii" not in result.pii_summary.lower()
        assert snapshot.stats["pii"]["counts"]["email"] == 0 and not PiiFinding.objects.exists()
    else:
        assert result.pii["email"] == 3 and result.pii["phone"] == 2 and result.pii["card"] == 2
        assert result.pii["secret"] == 2 and result.pii["ip"] == 0 and result.pii["phone"] == 2
        assert snapshot.stats["pii"]["counts"]["email"] >= 1
        assert snapshot.stats["pii"]["counts"]["card"] >= 1
    if policy == Policy.MASK_IMPORT:
        # masked before hashing: rows that differed only in the e-mail address collapse into one
        assert (result.created, result.duplicates) == (3, 1)
        assert not [v for v in RAW if v in stored_text()] and "john@example.org" not in stored_text()
        assert "[EMAIL]" in stored_text()
    else:
        assert (result.created, result.duplicates) == (4, 0)
        assert EMAIL in stored_text()  # the raw text is kept for admins


def test_tasks_import_masks_before_hashing_and_records_hidden_findings(project):
    project.pii_policy = Policy.MASK_IMPORT
    project.save()
    rows = [{"prompt": f"Write to {EMAIL}", "responses": ["Dear Jane", {"text": f"Call {PHONE}", "model": "m"}]},
            {"prompt": "Write to bob@example.net", "responses": ["Dear Jane", {"text": f"Call {PHONE}", "model": "m"}]}]
    result = tasks_import(project=project, fileobj=io.BytesIO(jsonl(rows)), filename="t.jsonl")
    assert (result.created, result.duplicates) == (1, 1)
    assert result.pii_summary == "PII (mask-import): 2 email, 2 phone masked."
    assert EMAIL not in stored_text() and "Write to [EMAIL]" in stored_text() and "Call [PHONE]" in stored_text()
    findings = list(PiiFinding.objects.order_by("id").values_list("line", "field", "kind", "hidden_value", "masked"))
    assert findings[0] == (1, "prompt", "email", "j***@e***.com", True)
    assert (1, "responses[1].text", "phone", "+4***58", True) in findings
    assert all(EMAIL not in f[3] for f in findings)


def test_a_failed_import_keeps_no_findings(project):
    project.pii_policy = Policy.FLAG
    project.save()
    data = jsonl([{"prompt": f"Mail {EMAIL}", "responses": ["a", "b"]}]) + b"{bad\n"
    with pytest.raises(Exception):
        tasks_import(project=project, fileobj=io.BytesIO(data), filename="t.jsonl")
    assert not PiiFinding.objects.exists()


@pytest.mark.parametrize("policy", Policy.values)
def test_annotators_see_masked_text_whatever_the_policy(client, project, annotator, policy):
    project.pii_policy = policy
    project.save()
    factories.task(project, prompt=f"Email {EMAIL} about it")
    client.force_login(annotator)
    page = client.get(f"/projects/{project.pk}/annotate/").content.decode()
    assert EMAIL not in page and "[EMAIL]" in page
    api = APIClient()
    api.force_authenticate(annotator)
    body = api.post(f"/api/v1/projects/{project.pk}/next-task/").content.decode()
    assert EMAIL not in body and "[EMAIL]" in body


def test_admin_sets_the_policy_on_the_page_and_sees_flagged_items(client, project, project_admin, annotator):
    client.force_login(project_admin)
    response = client.post(f"/projects/{project.pk}/pii/", {"pii_policy": "flag"})
    assert response.status_code == 302
    project.refresh_from_db()
    assert project.pii_policy == "flag"
    tasks_import(project=project, fileobj=io.BytesIO(jsonl([{"prompt": f"Mail {EMAIL}", "responses": ["a", "b"]}])),
                 filename="t.jsonl")
    page = client.get(f"/projects/{project.pk}/pii/").content.decode()
    assert "j***@e***.com" in page and EMAIL not in page and "t.jsonl:1" in page
    assert client.get(f"/projects/{project.pk}/pii/?kind=phone").content.decode().count("j***@e***.com") == 0
    bad = client.post(f"/projects/{project.pk}/pii/", {"pii_policy": "everything"})
    assert bad.status_code == 400 and "everything" in bad.content.decode()
    event = AuditEvent.objects.get(action="pii_policy.changed")
    assert event.username == project_admin.username
    assert (event.detail["from"], event.detail["to"]) == ("off", "flag") and event.detail["apply_job"]
    client.force_login(annotator)
    assert client.get(f"/projects/{project.pk}/pii/").status_code == 403


def test_policy_through_the_api_and_the_command(project, project_admin, ml_engineer):
    api = APIClient()
    api.force_authenticate(project_admin)
    url = f"/api/v1/projects/{project.pk}/pii-policy/"
    response = api.put(url, {"pii_policy": "mask-export"}, format="json")
    assert response.status_code == 200 and response.json()["pii_policy"] == "mask-export"
    assert response.json()["apply_job"]["status"] == "queued"  # runs once the change commits
    bad = api.put(url, {"pii_policy": "maybe"}, format="json")
    assert bad.status_code == 400 and "pii_policy" in bad.json()["error"]["message"]
    api.force_authenticate(ml_engineer)
    assert api.put(url, {"pii_policy": "off"}, format="json").status_code == 403
    assert api.get(url).json()["pii_policy"] == "mask-export"
    assert api.get(f"/api/v1/projects/{project.pk}/").json()["pii_policy"] == "mask-export"
    project.refresh_from_db()
    assert project.pii_policy == "mask-export"
    out = io.StringIO()
    call_command("create_project", "Private", "--pii-policy", "mask-import", stdout=out)
    assert Project.objects.get(name="Private").pii_policy == "mask-import" and "PII policy mask-import" in out.getvalue()


def test_import_command_reports_counts(project, tmp_path):
    project.pii_policy = Policy.FLAG
    project.save()
    path = tmp_path / "t.jsonl"
    path.write_bytes(jsonl([{"prompt": f"Mail {EMAIL} or {PHONE}", "responses": ["a", "b"]}]))
    out = io.StringIO()
    call_command("import_tasks", str(project.pk), str(path), stdout=out)
    assert "PII (flag): 1 email, 1 phone." in out.getvalue()


def test_under_mask_export_the_tasks_and_pairs_apis_mask_for_all_but_admins(project, project_admin, ml_engineer):
    project.pii_policy = Policy.MASK_EXPORT
    project.save()
    import_pairs(project)
    tasks_import(project=project, fileobj=io.BytesIO(jsonl([{"prompt": f"Mail {EMAIL}", "responses": ["a", "b"]}])),
                 filename="t.jsonl")
    ml, admin = APIClient(), APIClient()
    ml.force_authenticate(ml_engineer)
    admin.force_authenticate(project_admin)
    for path in ("pairs/", "tasks/"):
        url = f"/api/v1/projects/{project.pk}/{path}"
        seen_by_ml, seen_by_admin = ml.get(url).content.decode(), admin.get(url).content.decode()
        assert EMAIL not in seen_by_ml and "[EMAIL]" in seen_by_ml
        assert EMAIL in seen_by_admin
    pair_id = ml.get(f"/api/v1/projects/{project.pk}/pairs/").json()["results"][0]["id"]
    assert EMAIL not in ml.get(f"/api/v1/projects/{project.pk}/pairs/{pair_id}/").content.decode()


def test_the_snapshot_page_shows_pii_counts(client, project, project_admin):
    project.pii_policy = Policy.MASK_EXPORT
    project.save()
    import_pairs(project)
    snapshot_create(project=project, filters=filters_build(project=project))
    client.force_login(project_admin)
    page = client.get(f"/train/projects/{project.pk}/snapshots/").content.decode()
    assert "PII (mask-export, masked)" in page and "email 3" in page


# --- issue 15's own check: a held-out corpus under each policy, every way text leaves Verdict ---------

HELDOUT = [json.loads(line) for line in (Path(__file__).parent / "pii_corpus_heldout.jsonl").read_text().splitlines()]


def _heldout_rows():
    """Pairs whose prompts are the held-out corpus texts (with and without PII); each chosen answer quotes
    the next text, so PII sits in responses too."""
    texts = [r["text"] for r in HELDOUT]
    return [{"prompt": f"[{i}] {text}", "chosen": f"Noted. Also: {texts[(i + 1) % len(texts)]}",
             "rejected": "I cannot help with that."} for i, text in enumerate(texts)]


@pytest.mark.parametrize("policy", Policy.values)
def test_heldout_corpus_under_each_policy_searched_in_every_output(project, annotator, project_admin, ml_engineer,
                                                                   client, policy, tmp_path):
    project.pii_policy = policy
    project.save()
    result = pairs_import(project=project, fileobj=io.BytesIO(jsonl(_heldout_rows())), filename="heldout.jsonl")
    tasks_import(project=project, fileobj=io.BytesIO(jsonl([{"prompt": f"Mail {EMAIL}", "responses": ["a", "b"]}])),
                 filename="t.jsonl")
    ann = APIClient()
    ann.force_authenticate(annotator)
    lease = ann.post(f"/api/v1/projects/{project.pk}/next-task/").json()
    workspace = json.dumps(lease)
    a, b = [r["id"] for r in lease["task"]["responses"]]
    assert ann.post(f"/api/v1/assignments/{lease['assignment_id']}/judgement/",
                    {"ranking": [[a], [b]], "rationale": f"B leaks {CARD} and {EMAIL}"},
                    format="json").status_code == 201
    snapshot = snapshot_create(project=project, filters=filters_build(project=project))

    outputs = {f"api:{k}": v for k, v in downloads(project, snapshot).items()}
    outputs["api:parquet"] = parquet_text(outputs["api:parquet"], tmp_path).encode()
    client.force_login(ml_engineer)
    for fmt in (*FORMATS, "jsonl"):
        page = client.get(f"/train/projects/{project.pk}/snapshots/{snapshot.pk}/download/{fmt}/")
        assert page.status_code == 200, fmt
        outputs[f"page:{fmt}"] = b"".join(page.streaming_content)
    for fmt in FORMATS:
        out = tmp_path / f"{fmt}.jsonl"
        call_command("export_snapshot", str(snapshot.pk), "--format", fmt, "--out", str(out), stdout=io.StringIO(),
                     stderr=io.StringIO())
        outputs[f"command:{fmt}"] = out.read_bytes()
    ml = APIClient()
    ml.force_authenticate(ml_engineer)
    for name in ("pairs", "tasks", "judgements"):
        pages, url = [], f"/api/v1/projects/{project.pk}/{name}/"
        while url:
            body = ml.get(url).json()
            pages.append(json.dumps(body, ensure_ascii=False))
            url = body.get("next")
        outputs[f"api:{name}"] = "".join(pages).encode()
    outputs["annotator workspace"] = workspace.encode()

    raw = sorted({item["value"] for row in HELDOUT for item in row["pii"]} | {EMAIL, CARD}, key=len, reverse=True)
    leaks = {where: [v for v in raw if v.encode() in data] for where, data in outputs.items()}
    assert leaks["annotator workspace"] == []  # annotators see masked text under every policy
    if policy in (Policy.MASK_EXPORT, Policy.MASK_IMPORT):
        assert {where: found for where, found in leaks.items() if found} == {}
        trl = outputs["api:trl"].decode()
        kept = [r["text"] for r in HELDOUT if r.get("lookalike")]
        assert sum(json.dumps(t, ensure_ascii=False)[1:-1] in trl for t in kept) >= 0.98 * len(kept)
    else:  # off and flag: the text leaves as it was given
        assert len(leaks["api:trl"]) > 0.9 * len(raw) - 2 and leaks["api:judgements"]
    if policy != Policy.OFF:
        expected = {}
        for row in HELDOUT:
            for item in row["pii"]:
                expected[item["kind"]] = expected.get(item["kind"], 0) + 1
        # every positive is found at least once (prompts), again where the next row quotes it (responses)
        assert all(result.pii[kind] >= n for kind, n in expected.items()), (result.pii, expected)
        assert snapshot.stats["pii"]["counts"]["email"] >= expected["email"]
