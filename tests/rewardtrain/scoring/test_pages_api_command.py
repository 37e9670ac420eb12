"""Batch scoring end to end through the page, the API and `manage.py score_file` (eager Celery: the job
runs when the request's transaction commits)."""
import json

import pytest

from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from annotation.models import AuditEvent

from rewardtrain.models import ScoringJob

GOOD, BAD = "thanks", "idiot"


def jsonl(rows) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in rows)


ROWS = [{"prompt": f"the cat {i}", "responses": [f"sits {GOOD}", f"runs {BAD}"]} for i in range(5)]


def test_the_page_uploads_follows_and_downloads_a_curation(client, project, ml_engineer, scoring_model,
                                                           django_capture_on_commit_callbacks):
    client.force_login(ml_engineer)
    page = client.get(f"/train/projects/{project.pk}/scoring/")
    assert page.status_code == 200 and b"The active model is" in page.content
    with django_capture_on_commit_callbacks(execute=True):
        posted = client.post(f"/train/projects/{project.pk}/scoring/new/", {
            "kind": "curate", "mode": "top_k", "k": "1", "file": SimpleUploadedFile("rows.jsonl", jsonl(ROWS))})
    job = ScoringJob.objects.get()
    assert posted.status_code == 302 and posted["Location"].endswith(f"/scoring/{job.pk}/")
    detail = client.get(posted["Location"])
    assert b"Kept 5</strong> of 10 responses" in detail.content and b"<svg" in detail.content
    fragment = client.get(posted["Location"], HTTP_HX_REQUEST="true")
    assert fragment.content.lstrip().startswith(b'<section id="job-live"') and b"hx-trigger" not in fragment.content
    download = client.get(f"/train/projects/{project.pk}/scoring/{job.pk}/download/")
    assert download["Content-Disposition"] == 'attachment; filename="rows.curated.jsonl"'
    audit = AuditEvent.objects.get(action="scoring.downloaded")  # who took which scores is on record
    assert (audit.username, audit.target_id) == (ml_engineer.username, str(job.pk))
    kept = [json.loads(line) for line in b"".join(download.streaming_content).splitlines()]
    assert len(kept) == 5 and all(GOOD in item["response"] for item in kept)


def test_a_queued_job_polls_and_a_bad_upload_is_shown_on_the_page(client, project, project_admin, scoring_model):
    client.force_login(project_admin)
    bad = client.post(f"/train/projects/{project.pk}/scoring/new/", {
        "kind": "score", "file": SimpleUploadedFile("bad.jsonl", b'{"prompt": "p"}\n')})
    assert bad.status_code == 400 and b"bad.jsonl:1: response: missing" in bad.content
    assert not ScoringJob.objects.exists()
    client.post(f"/train/projects/{project.pk}/scoring/new/", {
        "kind": "score", "file": SimpleUploadedFile("rows.jsonl", jsonl(ROWS))})  # not committed: stays queued
    job = ScoringJob.objects.get()
    detail = client.get(f"/train/projects/{project.pk}/scoring/{job.pk}/")
    assert b'hx-trigger="every 2s"' in detail.content and b"waiting for a worker" in detail.content


def test_ab_page_escapes_prompts_and_shows_the_win_rate(client, project, ml_engineer, scoring_model,
                                                       django_capture_on_commit_callbacks):
    a = [{"prompt": f"<script>alert({i})</script>", "response": f"runs {BAD}"} for i in range(4)]
    b = [{"prompt": f"<script>alert({i})</script>", "response": f"sits {GOOD}"} for i in range(4)]
    client.force_login(ml_engineer)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/train/projects/{project.pk}/scoring/new/", {
            "kind": "ab", "file": SimpleUploadedFile("a.jsonl", jsonl(a)), "file_b": SimpleUploadedFile("b.jsonl", jsonl(b))})
    job = ScoringJob.objects.get()
    page = client.get(f"/train/projects/{project.pk}/scoring/{job.pk}/")
    assert b"B wins 100%</strong> of 4 prompts" in page.content
    assert f"Scoring job {job.pk}: Policy A/B</h1>".encode() in page.content  # not "policy a/b"
    assert b"<script>alert" not in page.content and b"&lt;script&gt;alert(0)" in page.content


def test_annotators_cannot_see_the_page(client, project, annotator, scoring_model):
    client.force_login(annotator)
    assert client.get(f"/train/projects/{project.pk}/scoring/").status_code == 403


def test_api_creates_polls_and_downloads_a_job(project, ml_engineer, scoring_model, django_capture_on_commit_callbacks):
    api = APIClient()
    api.force_authenticate(ml_engineer)
    with django_capture_on_commit_callbacks(execute=True):
        created = api.post(f"/api/v1/projects/{project.pk}/scoring-jobs/",
                           {"kind": "score", "file": SimpleUploadedFile("rows.jsonl", jsonl(ROWS))}, format="multipart")
    assert created.status_code == 202, created.content
    job = api.get(f"/api/v1/scoring-jobs/{created.json()['id']}/").json()
    assert job["status"] == "succeeded" and job["summary"]["responses"] == 10 and job["model_version"] == scoring_model.pk
    rows = [json.loads(line) for line in b"".join(api.get(job["download"]).streaming_content).splitlines()]
    assert len(rows) == 5 and all(r["rewards"][0] > r["rewards"][1] for r in rows)
    listed = api.get(f"/api/v1/projects/{project.pk}/scoring-jobs/").json()
    assert [j["id"] for j in listed] == [job["id"]]


@pytest.mark.parametrize("body, status, message", [
    ({"kind": "curate", "mode": "top_k"}, 400, "k: required, a whole number"),
    ({"kind": "ab"}, 400, "file_b: a policy A/B job takes two files"),
    ({"kind": "rank"}, 400, "kind: \"rank\" is not a valid choice."),
])
def test_api_refuses_bad_jobs_with_the_field(project, ml_engineer, scoring_model, body, status, message):
    api = APIClient()
    api.force_authenticate(ml_engineer)
    response = api.post(f"/api/v1/projects/{project.pk}/scoring-jobs/",
                        {**body, "file": SimpleUploadedFile("rows.jsonl", jsonl(ROWS))}, format="multipart")
    assert response.status_code == status and message in response.json()["error"]["message"], response.content
    assert not ScoringJob.objects.exists()


def test_api_without_an_active_model_is_409(project, ml_engineer):
    api = APIClient()
    api.force_authenticate(ml_engineer)
    response = api.post(f"/api/v1/projects/{project.pk}/scoring-jobs/",
                        {"kind": "score", "file": SimpleUploadedFile("rows.jsonl", jsonl(ROWS))}, format="multipart")
    assert response.status_code == 409


def test_score_file_command_scores_curates_and_compares(project, scoring_model, tmp_path, capsys):
    path = tmp_path / "rows.jsonl"
    path.write_bytes(jsonl(ROWS))
    call_command("score_file", project.name, str(path))
    scored = [json.loads(line) for line in open(tmp_path / "rows.scored.jsonl")]
    assert len(scored) == 5 and "p_best" in scored[0]
    out = tmp_path / "kept.jsonl"
    call_command("score_file", str(project.pk), str(path), "--curate", "top_percent=50", "--out", str(out))
    assert len(open(out).readlines()) == 5
    a = tmp_path / "a.jsonl"
    a.write_bytes(jsonl([{"prompt": r["prompt"], "response": r["responses"][1]} for r in ROWS]))
    b = tmp_path / "b.jsonl"
    b.write_bytes(jsonl([{"prompt": r["prompt"], "response": r["responses"][0]} for r in ROWS]))
    call_command("score_file", project.name, str(b), "--baseline", str(a))
    assert "B wins 100.0% of 5 prompts" in capsys.readouterr().out
    assert ScoringJob.objects.filter(status="succeeded").count() == 3  # listed on the page like any job


def test_score_file_command_reports_bad_lines_and_bad_rules(project, scoring_model, tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"prompt": "p", "response": "ok"}\n{"prompt": 3, "response": "x"}\n')
    with pytest.raises(CommandError, match="bad.jsonl:2: prompt: must be a string or a list of chat messages"):
        call_command("score_file", project.name, str(path))
    with pytest.raises(CommandError, match="--curate: expected top_k=K"):
        call_command("score_file", project.name, str(path), "--curate", "best")
    with pytest.raises(CommandError, match="no such file"):
        call_command("score_file", project.name, str(tmp_path / "missing.jsonl"))
    assert not ScoringJob.objects.exists()
