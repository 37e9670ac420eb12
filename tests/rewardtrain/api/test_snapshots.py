import io
import json

import pyarrow.parquet as pq
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.http import StreamingHttpResponse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from rewardtrain.snapshots.exports import export_lines
from rewardtrain.models import DatasetSnapshot
from tests import factories


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


@pytest.fixture
def judged(project):
    for i in range(20):
        factories.judged_pair(project, prefer=i % 2, strength=i % 4)
    return project


def test_ml_engineer_cuts_lists_reads_and_verifies_a_snapshot(judged, ml_engineer):
    client = client_for(ml_engineer)
    url = f"/api/v1/projects/{judged.pk}/snapshots/"
    created = client.post(url, {"val_fraction": 0.25, "seed": 3, "aggregation": "every"}, format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert (body["version"], body["train_rows"] + body["val_rows"]) == (1, 20)
    assert body["filters"]["criteria"] == [""] and body["created_by"] == ml_engineer.username
    assert set(body["downloads"]) == {"trl", "trl-chat", "hh", "kway", "full", "jsonl", "parquet"}
    assert [s["version"] for s in client.get(url).json()] == [1]
    assert client.get(f"{url}{body['id']}/").json()["sha256"] == body["sha256"]
    verify = client.post(f"{url}{body['id']}/verify/")
    assert verify.status_code == 200 and verify.json()["ok"] is True


def test_same_request_twice_gives_a_new_version_with_the_same_hash(judged, project_admin):
    client = client_for(project_admin)
    url = f"/api/v1/projects/{judged.pk}/snapshots/"
    payload = {"aggregation": "majority", "min_agreement": 0.5, "exclude_gold": True}
    first, second = client.post(url, payload, format="json").json(), client.post(url, payload, format="json").json()
    assert (first["version"], second["version"]) == (1, 2)
    assert first["sha256"] == second["sha256"]


def test_download_streams_each_export_format(judged, ml_engineer):
    client = client_for(ml_engineer)
    snap = client.post(f"/api/v1/projects/{judged.pk}/snapshots/", {"val_fraction": 0.3}, format="json").json()
    snapshot = DatasetSnapshot.objects.get(pk=snap["id"])
    for fmt in ("trl", "trl-chat", "hh", "kway", "full"):
        response = client.get(snap["downloads"][fmt], {"split": "train"})
        assert response.status_code == 200
        assert isinstance(response, StreamingHttpResponse)
        assert response["Content-Type"].startswith("application/x-ndjson")
        assert f"-{fmt}-train.jsonl" in response["Content-Disposition"]
        assert b"".join(response.streaming_content) == b"".join(export_lines(snapshot=snapshot, fmt=fmt,
                                                                                split="train"))
    trl = client.get(snap["downloads"]["trl"], {"split": "val"})
    assert len(b"".join(trl.streaming_content).splitlines()) == snapshot.val_rows
    raw = client.get(snap["downloads"]["jsonl"])
    assert len(b"".join(raw.streaming_content).splitlines()) == 20
    parquet = client.get(snap["downloads"]["parquet"])
    assert pq.read_table(io.BytesIO(b"".join(parquet.streaming_content))).num_rows == 20
    assert client.get(snap["downloads"]["trl"], {"split": "test"}).status_code == 400
    assert client.get(f"/api/v1/projects/{judged.pk}/snapshots/{snap['id']}/download/csv/").status_code == 404


def test_bad_snapshot_requests_get_clear_errors(judged, ml_engineer):
    client = client_for(ml_engineer)
    url = f"/api/v1/projects/{judged.pk}/snapshots/"
    unknown_batch = client.post(url, {"batches": [987654]}, format="json")
    assert unknown_batch.status_code == 400
    assert unknown_batch.json()["error"]["message"] == f"No batch 987654 in project “{judged.name}”."
    fraction = client.post(url, {"val_fraction": 2}, format="json")
    assert fraction.status_code == 400 and "val_fraction" in fraction.json()["error"]["fields"]
    assert not DatasetSnapshot.objects.exists()


def test_verify_reports_a_tampered_artifact(judged, ml_engineer):
    client = client_for(ml_engineer)
    snap = client.post(f"/api/v1/projects/{judged.pk}/snapshots/", {}, format="json").json()
    name = DatasetSnapshot.objects.get(pk=snap["id"]).artifact.name
    default_storage.delete(name)
    default_storage.save(name, ContentFile(b"{}\n"))
    report = client.post(f"/api/v1/projects/{judged.pk}/snapshots/{snap['id']}/verify/").json()
    assert report["ok"] is False and report["actual_sha256"] != report["sha256"]


def test_annotators_and_outsiders_cannot_reach_snapshots(judged, annotator, ml_engineer):
    snap = client_for(ml_engineer).post(f"/api/v1/projects/{judged.pk}/snapshots/", {}, format="json").json()
    assert client_for(annotator).get(f"/api/v1/projects/{judged.pk}/snapshots/").status_code == 403
    assert client_for(annotator).get(snap["downloads"]["full"]).status_code == 403
    outsider = factories.member(factories.ProjectFactory(), "admin")
    response = client_for(outsider).get(snap["downloads"]["full"])
    assert response.status_code == 404
    assert json.loads(response.content)["error"]["code"] == "not_found"


def test_pair_formats_of_a_multi_criterion_snapshot_need_a_criterion(project, ml_engineer):
    factories.rubric(project, keys=("helpfulness",))
    task = factories.task(project)
    a, b = task.slots.order_by("position").values_list("response_id", flat=True)
    factories.judgement(task, factories.member(project, "annotator"), [[a], [b]], criteria={"helpfulness": [[b], [a]]})
    client = client_for(ml_engineer)
    snap = client.post(f"/api/v1/projects/{project.pk}/snapshots/", {"criteria": ["*"]}, format="json").json()
    refused = client.get(snap["downloads"]["trl"])
    assert refused.status_code == 400
    assert "holds 2 criteria (overall, helpfulness)" in refused.json()["error"]["message"]
    one = client.get(snap["downloads"]["trl"], {"criterion": "helpfulness"})
    assert one.status_code == 200 and "-trl-helpfulness-all.jsonl" in one["Content-Disposition"]
    [row] = [json.loads(line) for line in b"".join(one.streaming_content).splitlines()]
    assert row["chosen"].startswith("Response 1")
    assert client.get(snap["downloads"]["trl"], {"criterion": "honesty"}).status_code == 400


def test_a_changed_artifact_is_not_downloaded(judged, ml_engineer):
    client = client_for(ml_engineer)
    snap = client.post(f"/api/v1/projects/{judged.pk}/snapshots/", {}, format="json").json()
    name = DatasetSnapshot.objects.get(pk=snap["id"]).artifact.name
    original = default_storage.open(name, "rb").read()
    default_storage.delete(name)
    default_storage.save(name, ContentFile(original[:-2] + b"\n"))
    for fmt in ("trl", "jsonl"):
        response = client.get(snap["downloads"][fmt])
        assert response.status_code == 409
        assert "does not match its recorded size" in response.json()["error"]["message"]
    default_storage.delete(name)
    default_storage.save(name, ContentFile(original.replace(b"Response 0", b"Response X")))
    for fmt in ("full", "jsonl"):
        streamed = client.get(snap["downloads"][fmt])
        with pytest.raises(Exception, match="does not match its recorded sha256"):
            b"".join(streamed.streaming_content)  # the stream fails: the client never gets a complete file


def test_raw_artifacts_refuse_a_split_instead_of_ignoring_it(judged, ml_engineer):
    client = client_for(ml_engineer)
    snap = client.post(f"/api/v1/projects/{judged.pk}/snapshots/", {"val_fraction": 0.3}, format="json").json()
    for fmt in ("parquet", "jsonl"):
        refused = client.get(snap["downloads"][fmt], {"split": "train"})
        assert refused.status_code == 400 and "split and criterion do not apply" in refused.json()["error"]["message"]
    assert client.get(snap["downloads"]["parquet"], {"split": "all"}).status_code == 200


def test_unknown_criterion_and_empty_selection_are_400_and_use_no_version(project, ml_engineer):
    factories.judged_pair(project)
    client = client_for(ml_engineer)
    url = f"/api/v1/projects/{project.pk}/snapshots/"
    unknown = client.post(url, {"criteria": ["helpfulness"]}, format="json")
    assert unknown.status_code == 400
    assert unknown.json()["error"]["message"] == (f"Unknown criterion 'helpfulness' in project “{project.name}”; "
                                                  f"known: overall, or * for every criterion.")
    empty = client.post(url, {"since": "2001-01-01", "until": "2001-01-01"}, format="json")
    assert empty.status_code == 400 and "select no pairs" in empty.json()["error"]["message"]
    created = client.post(url, {"val_fraction": 0.1}, format="json").json()
    assert created["version"] == 1
    assert created["warnings"][0].startswith("No validation rows")
