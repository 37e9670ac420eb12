"""The loop through the API: pool import → a tiny model registered and promoted → a round via the API
→ the picks are served to an annotator before every other task → the annotator judges them."""
import io

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotation.models import Judgement, Task
from rewardtrain.models import AcquisitionRound, ModelVersion
from tests import factories

from .conftest import EASY, HARD, register_active_model

pytestmark = pytest.mark.django_db


def client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


def pool_file(rows) -> io.BytesIO:
    upload = io.BytesIO(factories.jsonl([{"prompt": p, "responses": [a, b], "id": f"pool-{i}"}
                                         for i, (p, a, b) in enumerate(rows)]))
    upload.name = "pool.jsonl"
    return upload


def test_pool_to_judged_picks_through_the_api(project, project_admin, ml_engineer, annotator, trained_bert,
                                              django_capture_on_commit_callbacks):
    admin, ml = client_for(project_admin), client_for(ml_engineer)
    url = f"/api/v1/projects/{project.pk}/acquisitions/"
    imported = admin.post(f"/api/v1/projects/{project.pk}/batches/", {"file": pool_file(EASY + HARD), "pool": True},
                          format="multipart")
    assert imported.status_code == 201 and imported.json()["created"] == 8
    factories.task(project, priority=50.0)  # an ordinary open task with a high priority
    annotator_api = client_for(annotator)

    no_model = ml.post(url, {"strategy": "uncertainty", "size": 2}, format="json")
    assert no_model.status_code == 409
    assert "has no active model: train a model and promote it" in no_model.json()["error"]["message"]

    model = register_active_model(project, trained_bert["dir"], status=ModelVersion.Status.CANDIDATE)
    assert ml.post(f"/api/v1/models/{model.pk}/promote/").status_code == 200

    bad = ml.post(url, {"strategy": "best", "size": 0, "max_candidates": -1}, format="json")
    assert bad.status_code == 400 and set(bad.json()["error"]["fields"]) == {"strategy", "size", "max_candidates"}
    too_few = ml.post(url, {"strategy": "uncertainty", "size": 5, "max_candidates": 4}, format="json")
    assert too_few.status_code == 400 and "4 candidates cannot yield 5 picks" in too_few.json()["error"]["message"]
    assert not AcquisitionRound.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        started = ml.post(url, {"strategy": "uncertainty", "size": 2, "epsilon": 0, "diversity": 0}, format="json")
    assert started.status_code == 202, started.json()
    body = started.json()
    assert (body["status"], body["strategy"], body["size"], body["model"]) == (
        "queued", "uncertainty", 2, {"id": model.pk, "version": 1})

    detail = admin.get(f"/api/v1/acquisitions/{body['id']}/").json()
    assert (detail["status"], detail["picked"], detail["pool_size"]) == ("succeeded", 2, 8)
    assert (detail["params"]["max_candidates"], detail["params"]["candidates"]) == (20_000, 8)  # the default cap
    picked = [p["task"] for p in detail["picks"]]
    hard_ids = set(Task.objects.filter(external_id__in=["pool-6", "pool-7"]).values_list("id", flat=True))
    assert set(picked) == hard_ids
    assert [p["rank"] for p in detail["picks"]] == [0, 1]
    assert all(p["task_status"] == "open" and len(p["rewards"]) == 2 for p in detail["picks"])
    assert [r["id"] for r in admin.get(url).json()] == [body["id"]]

    # The annotator is served the picks first, in pick order, and judges them.
    for expected in picked:
        lease = annotator_api.post(f"/api/v1/projects/{project.pk}/next-task/").json()
        assert lease["task"]["id"] == expected
        a, b = (r["id"] for r in lease["task"]["responses"])
        judged = annotator_api.post(f"/api/v1/assignments/{lease['assignment_id']}/judgement/",
                                    {"ranking": [[a], [b]], "strength": 2}, format="json")
        assert judged.status_code == 201
    assert set(Judgement.objects.values_list("task_id", flat=True)) == set(picked)
    after = admin.get(f"/api/v1/acquisitions/{body['id']}/").json()
    assert after["labels"] == 2
    assert [p["completed_judgements"] for p in after["picks"]] == [1, 1]
    # Pool tasks that were not picked are still hidden: next comes the ordinary open task.
    nxt = annotator_api.post(f"/api/v1/projects/{project.pk}/next-task/").json()
    assert Task.objects.get(pk=nxt["task"]["id"]).status == Task.Status.OPEN
    assert Task.objects.filter(project=project, status=Task.Status.POOL).count() == 6


def test_annotators_cannot_start_or_read_rounds(project, annotator):
    client = client_for(annotator)
    assert client.post(f"/api/v1/projects/{project.pk}/acquisitions/", {"strategy": "random", "size": 1},
                       format="json").status_code == 403
    assert client.get(f"/api/v1/projects/{project.pk}/acquisitions/").status_code == 403
