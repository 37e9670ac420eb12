"""The training and registry API as a client drives it: jobs, runs, models, bad input, downloads."""
import io
import zipfile

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from rewardtrain.models import DatasetSnapshot, ModelVersion, SnapshotJob, TrainingRun
from tests import factories

from .conftest import learnable_project, snapshot_of


def client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


def test_a_snapshot_job_cuts_the_snapshot_on_a_worker(project, ml_engineer, django_capture_on_commit_callbacks):
    learnable_project(project, n=10)
    client = client_for(ml_engineer)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = client.post(f"/api/v1/projects/{project.pk}/snapshot-jobs/", {"val_fraction": 0.3}, format="json")
    assert response.status_code == 202, response.json()
    job = response.json()
    assert (job["status"], job["snapshot"], job["progress"]) == ("queued", None, 0.0)
    assert not DatasetSnapshot.objects.exists()  # nothing appears before the job has run
    queued[0]()  # the worker (eager here)
    done = client.get(f"/api/v1/snapshot-jobs/{job['id']}/").json()
    snapshot = DatasetSnapshot.objects.get()
    assert (done["status"], done["progress"], done["snapshot"], done["error"]) == ("succeeded", 1.0, snapshot.pk, "")
    assert snapshot.val_fraction == 0.3 and snapshot.train_rows + snapshot.val_rows == 14


def test_snapshot_job_filters_are_checked_before_the_job_exists(project, ml_engineer):
    response = client_for(ml_engineer).post(f"/api/v1/projects/{project.pk}/snapshot-jobs/", {"batches": [999]},
                                            format="json")
    assert response.status_code == 400
    assert response.json()["error"]["message"] == f"No batch 999 in project “{project.name}”."
    assert not SnapshotJob.objects.exists()


def test_a_failing_snapshot_job_reports_its_error(project, ml_engineer, monkeypatch,
                                                  django_capture_on_commit_callbacks):
    from rewardtrain.snapshots import jobs as snapshot_jobs

    def broken(**kwargs):
        raise OSError("storage is full")

    monkeypatch.setattr(snapshot_jobs, "snapshot_create", broken)
    factories.imported_pair(project)  # something to cut: an empty selection is refused when the job is created
    client = client_for(ml_engineer)
    with django_capture_on_commit_callbacks(execute=True):
        job = client.post(f"/api/v1/projects/{project.pk}/snapshot-jobs/", {}, format="json").json()
    body = client.get(f"/api/v1/snapshot-jobs/{job['id']}/").json()
    assert (body["status"], body["error"], body["snapshot"]) == ("failed", "storage is full", None)


def test_train_read_promote_download_and_roll_back_through_the_api(
        project, ml_engineer, quick_config, django_capture_on_commit_callbacks):
    snapshot = snapshot_of(learnable_project(project))
    client = client_for(ml_engineer)
    models = []
    for seed in (0, 1):
        with django_capture_on_commit_callbacks(execute=True):  # eager: the worker trains inside the request
            created = client.post(f"/api/v1/projects/{project.pk}/training-runs/",
                                  {"snapshot": snapshot.pk, "config": {**quick_config, "seed": seed}}, format="json")
        assert created.status_code == 201, created.json()
        assert created.json()["config"]["max_steps"] == 2 and created.json()["config"]["save_every"] == 3
        run = client.get(f"/api/v1/training-runs/{created.json()['id']}/").json()
        assert (run["status"], run["progress"], run["error"]) == ("succeeded", 1.0, "")
        train_steps = [m for m in run["metrics"] if m["kind"] == "train"]
        assert train_steps and all(m["loss"] is not None and m["lr"] is not None for m in train_steps)
        assert run["model"] is not None
        models.append(run["model"])
        if seed == 0:
            promoted = client.post(f"/api/v1/models/{run['model']}/promote/")
            assert promoted.status_code == 200 and promoted.json()["status"] == "active"

    listed = client.get(f"/api/v1/projects/{project.pk}/models/").json()
    assert [(m["version"], m["status"]) for m in listed] == [(2, "candidate"), (1, "active")]
    detail = client.get(f"/api/v1/models/{models[1]}/").json()
    report = detail["validation_report"]
    assert {"accuracy", "ece", "length_correlation", "n"} <= set(report)
    assert report["active_model"]["version"] == 1 and report["n"] == snapshot.val_rows

    assert client.post(f"/api/v1/models/{models[1]}/promote/").json()["status"] == "active"
    back = client.post(f"/api/v1/projects/{project.pk}/models/rollback/")
    assert back.status_code == 200 and back.json()["version"] == 1 and back.json()["status"] == "active"
    assert [e["action"] for e in back.json()["events"]] == ["rollback", "promote", "register"]
    assert back.json()["events"][0]["user"] == ml_engineer.username

    download = client.get(f"/api/v1/models/{models[0]}/download/")
    assert download.status_code == 200 and download["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content))) as archive:
        names = archive.namelist()
    assert f"project{project.pk}-reward-model-v1/model.safetensors" in names


def test_bad_run_input_gets_a_specific_400_and_creates_nothing(project, ml_engineer, snapshot):
    client = client_for(ml_engineer)
    url = f"/api/v1/projects/{project.pk}/training-runs/"
    unknown = client.post(url, {"snapshot": snapshot.pk, "config": {"epochz": 2}}, format="json")
    assert unknown.status_code == 400
    assert unknown.json()["error"]["message"] == "Unknown config key 'epochz'; see TrainConfig for the fields."
    other = factories.ProjectFactory()
    foreign = snapshot_of(learnable_project(other, n=4))
    response = client.post(url, {"snapshot": foreign.pk}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["message"] == f"No snapshot {foreign.pk} in project “{project.name}”."
    not_object = client.post(url, {"snapshot": snapshot.pk, "config": [1]}, format="json")
    assert not_object.status_code == 400 and "config must be an object" in not_object.json()["error"]["message"]
    assert not TrainingRun.objects.exists()


def test_cancel_a_queued_run_and_refuse_to_cancel_it_twice(project, ml_engineer, snapshot, tiny_config):
    client = client_for(ml_engineer)
    run = client.post(f"/api/v1/projects/{project.pk}/training-runs/", {"snapshot": snapshot.pk,
                                                                        "config": tiny_config}, format="json").json()
    assert run["status"] == "queued"  # no worker ran it (the commit hook is not executed here)
    cancelled = client.post(f"/api/v1/training-runs/{run['id']}/cancel/")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = client.post(f"/api/v1/training-runs/{run['id']}/cancel/")
    assert again.status_code == 400 and "already finished (cancelled)" in again.json()["error"]["message"]


def test_rollback_with_nothing_to_roll_back_to_is_a_400(project, ml_engineer):
    model = ModelVersion.objects.create(project=project, version=1, artifact_dir="models/x")
    client = client_for(ml_engineer)
    assert client.post(f"/api/v1/models/{model.pk}/promote/").status_code == 200
    response = client.post(f"/api/v1/projects/{project.pk}/models/rollback/")
    assert response.status_code == 400 and "nothing to roll back to" in response.json()["error"]["message"]
    again = client.post(f"/api/v1/models/{model.pk}/promote/")
    assert again.status_code == 400 and again.json()["error"]["message"] == "Version 1 is already the active model."


@pytest.mark.parametrize("url", ["/api/v1/snapshot-jobs/{}/", "/api/v1/training-runs/{}/", "/api/v1/models/{}/"])
def test_unknown_ids_are_404(ml_engineer, url):
    assert client_for(ml_engineer).get(url.format(987654)).status_code == 404


def test_the_run_list_leaves_the_metrics_to_the_run_detail(project, ml_engineer, snapshot, project_admin):
    from rewardtrain.training.services import training_metric_record

    run = training_run_create_for(project, snapshot)
    training_metric_record(run_id=run.pk, step=1, kind="train", loss=0.7, accuracy=0.5, lr=1e-4)
    listed = client_for(project_admin).get(f"/api/v1/projects/{project.pk}/training-runs/").json()
    assert [r["id"] for r in listed] == [run.pk] and "metrics" not in listed[0]
    detail = client_for(project_admin).get(f"/api/v1/training-runs/{run.pk}/").json()
    assert detail["metrics"] == [{"step": 1, "kind": "train", "loss": 0.7, "accuracy": 0.5, "lr": 1e-4, "extra": {}}]


def training_run_create_for(project, snapshot):
    from rewardtrain.training.services import training_run_create

    return training_run_create(project=project, snapshot_id=snapshot.pk, config={})


def test_a_snapshot_job_whose_worker_was_lost_is_failed_not_left_running(project, ml_engineer, settings):
    from datetime import timedelta

    from django.utils import timezone

    from rewardtrain.tasks import snapshot_jobs_fail_stale

    settings.VERDICT_SNAPSHOT_JOB_STALE_SECONDS = 3600
    old = SnapshotJob.objects.create(project=project, status="running", started_at=timezone.now() - timedelta(hours=2))
    recent = SnapshotJob.objects.create(project=project, status="running", started_at=timezone.now())
    assert snapshot_jobs_fail_stale() == [old.pk]
    body = client_for(ml_engineer).get(f"/api/v1/snapshot-jobs/{old.pk}/").json()
    assert body["status"] == "failed" and body["error"].startswith("worker lost:")
    assert SnapshotJob.objects.get(pk=recent.pk).status == "running"


def test_a_snapshot_job_that_would_select_nothing_is_refused_at_once(project, ml_engineer):
    response = client_for(ml_engineer).post(f"/api/v1/projects/{project.pk}/snapshot-jobs/", {}, format="json")
    assert response.status_code == 400
    assert "select no pairs" in response.json()["error"]["message"]
    assert not SnapshotJob.objects.exists()


def test_cancel_a_run_a_worker_has_claimed_before_its_first_step(project, ml_engineer, snapshot, tiny_config):
    from rewardtrain.training.services import training_run_claim

    client = client_for(ml_engineer)
    run = client.post(f"/api/v1/projects/{project.pk}/training-runs/", {"snapshot": snapshot.pk,
                                                                        "config": tiny_config}, format="json").json()
    training_run_claim(run_id=run["id"], worker="gpu-1:7")  # loading the model: running, no metrics yet
    cancelled = client.post(f"/api/v1/training-runs/{run['id']}/cancel/")
    assert cancelled.status_code == 200, cancelled.content
    body = cancelled.json()
    assert (body["status"], body["cancel_requested"], body["metrics"]) == ("running", True, [])
