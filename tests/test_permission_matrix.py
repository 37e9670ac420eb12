"""Every API endpoint against every kind of caller: the role rules a user would run into.

Callers: anonymous, an annotator of the project, the admin of *another* project (a stranger here:
404, so ids do not leak), an ML engineer and the project admin. Each endpoint gets a fresh world.
"""
import io
import tempfile
from dataclasses import dataclass

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotation.services import queue
from annotation.services.imports.jobs import import_job_create
from rewardtrain.snapshots.filters import filters_build
from rewardtrain.snapshots.services import snapshot_create
from tests import factories
from tests.rewardtrain.ml.conftest import minilm_tokenizer, tiny_bert  # noqa: F401

ROLES = ("anonymous", "annotator", "other_admin", "ml", "admin")


@dataclass
class World:
    project: object
    users: dict
    task: object
    judgement: object
    pair: object
    snapshot: object
    assignment: object
    job: object = None
    run: object = None
    model: object = None
    acquisition: object = None
    import_job: object = None
    webhook: object = None
    scoring_job: object = None
    alert: object = None


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.VERDICT_IMPORT_INLINE_MAX_BYTES = 10_000
    settings.VERDICT_WEBHOOK_ALLOW_PRIVATE = True  # the webhook POST below names a loopback URL


@pytest.fixture
def world(db, tiny_bert) -> World:
    project = factories.ProjectFactory()
    factories.rubric(project, keys=("helpfulness",))
    users = {"annotator": factories.member(project, "annotator"), "ml": factories.member(project, "ml"),
             "admin": factories.member(project, "admin"), "other_admin": factories.member(factories.ProjectFactory(),
                                                                                          "admin")}
    judgement = factories.judged_pair(project, users["annotator"])
    factories.task(project)  # something left to claim
    assignment = queue.task_next(project=project, annotator=users["annotator"])
    snapshot = snapshot_create(project=project, filters=filters_build(project=project))
    from annotation.models import Webhook

    webhook = Webhook.objects.create(project=project, url="http://127.0.0.1:9/hook", secret="s")
    import_job = import_job_create(project=project, kind="tasks", upload=task_file(), user=users["admin"])
    return World(project=project, users=users, task=judgement.task, judgement=judgement,
                 pair=judgement.pairs.first(), snapshot=snapshot, assignment=assignment, import_job=import_job,
                 webhook=webhook, **training_world(project, users["ml"]), scoring_job=scoring_world(project, tiny_bert),
                 alert=alert_world(project))


def training_world(project, ml):
    """A snapshot job, a queued run, and a candidate model beside two promoted ones (so rollback works)."""
    from rewardtrain.models import ModelVersion
    from rewardtrain.registry.services import model_version_promote
    from rewardtrain.training.services import training_run_create
    from rewardtrain.snapshots.jobs import snapshot_job_create

    trainable = factories.snapshot_with_both_splits(project)
    models = [ModelVersion.objects.create(project=project, version=v, artifact_dir=f"models/m{v}") for v in (1, 2, 3)]
    for model in models[:2]:
        model_version_promote(model_version=model)
    return {"job": snapshot_job_create(project=project, params={}, user=ml),
            "run": training_run_create(project=project, snapshot_id=trainable.pk, user=ml), "model": models[2],
            "acquisition": acquisition_world(project, active=models[1])}


def scoring_world(project, backbone):
    """The active model (v2) made a real, loadable folder, and a finished scoring job with a result file."""
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, BertConfig

    from rewardtrain.models import ModelVersion, ScoringJob
    from rewardtrain.training.storage import storage_upload_dir

    active = ModelVersion.objects.get(project=project, status=ModelVersion.Status.ACTIVE)
    with tempfile.TemporaryDirectory() as folder:
        config = BertConfig.from_pretrained(backbone, num_labels=1)
        AutoModelForSequenceClassification.from_config(config).save_pretrained(folder)
        AutoTokenizer.from_pretrained(backbone).save_pretrained(folder)
        storage_upload_dir(local=folder, prefix=active.artifact_dir)
    result = default_storage.save("scoring/results/matrix.jsonl", ContentFile(b'{"prompt": "p", "rewards": [0.1]}\n'))
    return ScoringJob.objects.create(project=project, kind="score", model_version=active, result=result, status="succeeded",
                                     params={"files": [{"name": "in.jsonl", "rows": 1, "responses": 1}]})


def alert_world(project):
    from rewardtrain.models import Alert, ModelVersion

    model = ModelVersion.objects.get(project=project, status=ModelVersion.Status.ACTIVE)
    return Alert.objects.create(project=project, model_version=model, rule="mean_drop", message="Mean reward fell.")


def canary_file():
    upload = io.BytesIO(b'{"prompt": "Which?", "responses": ["this", "that"]}\n')
    upload.name = "canaries.jsonl"
    return upload


def scoring_file():
    upload = io.BytesIO(b'{"prompt": "Which?", "responses": ["this", "that"]}\n')
    upload.name = "score.jsonl"
    return upload


def acquisition_world(project, active):
    """A pool task and a finished acquisition round scored with the active model."""
    from annotation.models import Task
    from rewardtrain.models import AcquisitionRound

    Task.objects.filter(pk=factories.task(project).pk).update(status=Task.Status.POOL)
    return AcquisitionRound.objects.create(project=project, model_version=active, strategy="random", size=1,
                                           status=AcquisitionRound.Status.SUCCEEDED)


def round_body(w: World):
    """Each allowed caller starts a round: the previous caller's queued one (never run here) is set aside."""
    from rewardtrain.models import AcquisitionRound

    AcquisitionRound.objects.filter(project=w.project, status="queued").update(status="failed")
    return {"strategy": "uncertainty", "size": 1}


def task_file(rows: int = 1):
    """A task file; 400 rows (~20 kB) go over VERDICT_IMPORT_INLINE_MAX_BYTES as set below: an import job."""
    upload = io.BytesIO(b"".join(b'{"prompt": "New %d?", "responses": ["yes", "no"]}\n' % i for i in range(rows)))
    upload.name = "tasks.jsonl"
    return upload


def ranking_body(w: World):
    ids = list(w.assignment.task.slots.order_by("position").values_list("response_id", flat=True))
    return {"ranking": [[ids[0]], ids[1:]], "criteria": {"helpfulness": [[ids[0]], ids[1:]]}}


P = "/api/v1/projects/{p}"
S = P + "/snapshots/{s}"
# (method, url, body or body factory, format, {role: status}); anonymous is always 401.
MEMBERS_READ = {"annotator": 200, "other_admin": 404, "ml": 200, "admin": 200}
DATA_READ = {"annotator": 403, "other_admin": 404, "ml": 200, "admin": 200}
ADMIN_ONLY = {"annotator": 403, "other_admin": 404, "ml": 403, "admin": 201}
DATA_WRITE = {"annotator": 403, "other_admin": 404, "ml": 201, "admin": 201}
ML_WRITE = {"annotator": 403, "other_admin": 404, "ml": 200, "admin": 403}
ADMIN_READ = {"annotator": 403, "other_admin": 404, "ml": 403, "admin": 200}
LEASEHOLDER = {"annotator": 201, "other_admin": 404, "ml": 404, "admin": 404}
ENDPOINTS = [
    ("get", "/api/v1/projects/", None, None, {"annotator": 200, "other_admin": 200, "ml": 200, "admin": 200}),
    ("get", P + "/", None, None, MEMBERS_READ),
    ("get", P + "/pii-policy/", None, None, MEMBERS_READ),
    ("put", P + "/pii-policy/", {"pii_policy": "flag"}, "json", {**ADMIN_ONLY, "admin": 200}),
    ("get", P + "/rubrics/", None, None, MEMBERS_READ),
    ("post", P + "/rubrics/", {"criteria": [{"key": "style"}]}, "json", ADMIN_ONLY),
    ("get", P + "/batches/", None, None, DATA_READ),
    ("post", P + "/batches/", lambda w: {"file": task_file()}, "multipart", ADMIN_ONLY),
    ("post", P + "/batches/", lambda w: {"file": task_file(rows=400)}, "multipart", {**ADMIN_ONLY, "admin": 202}),
    ("get", "/api/v1/import-jobs/{ijob}/", None, None, DATA_READ),
    ("get", P + "/tasks/", None, None, DATA_READ),
    ("get", P + "/tasks/{t}/", None, None, DATA_READ),
    ("patch", P + "/tasks/{t}/", {"priority": 5}, "json", {**DATA_READ}),
    ("get", P + "/judgements/", None, None, MEMBERS_READ),
    ("get", P + "/judgements/{j}/", None, None, MEMBERS_READ),  # the annotator's own judgement
    ("get", P + "/pairs/", None, None, DATA_READ),
    ("get", P + "/pairs/{pair}/", None, None, DATA_READ),
    ("get", P + "/snapshots/", None, None, DATA_READ),
    ("post", P + "/snapshots/", {"criteria": ["*"]}, "json", DATA_WRITE),
    ("get", S + "/", None, None, DATA_READ),
    ("post", S + "/verify/", None, None, DATA_READ),
    ("get", S + "/download/trl/", None, None, DATA_READ),
    ("get", S + "/download/full/", None, None, DATA_READ),
    ("get", S + "/download/parquet/", None, None, DATA_READ),
    # Snapshot jobs, training runs and the model registry (rewardtrain/api/training.py, registry.py).
    ("post", P + "/snapshot-jobs/", {"val_fraction": 0.5}, "json", {**DATA_WRITE, "ml": 202, "admin": 202}),
    ("get", "/api/v1/snapshot-jobs/{job}/", None, None, DATA_READ),
    ("get", P + "/training-runs/", None, None, DATA_READ),
    ("post", P + "/training-runs/", lambda w: {"snapshot": w.run.snapshot_id, "config": {"epochs": 1}}, "json",
     {**ML_WRITE, "ml": 201}),
    ("get", "/api/v1/training-runs/{run}/", None, None, DATA_READ),
    ("post", "/api/v1/training-runs/{run}/cancel/", None, None, ML_WRITE),
    ("get", P + "/models/", None, None, DATA_READ),
    ("post", P + "/models/rollback/", None, None, ML_WRITE),
    ("get", "/api/v1/models/{model}/", None, None, DATA_READ),
    ("post", "/api/v1/models/{model}/promote/", None, None, ML_WRITE),
    ("get", "/api/v1/models/{model}/download/", None, None, DATA_READ),
    ("get", P + "/training-policy/", None, None, DATA_READ),
    # Quality (annotation/api/quality.py): admins and ML engineers read, annotators do not.
    ("get", P + "/quality/agreement/", None, None, DATA_READ),
    ("get", P + "/quality/agreement/?criterion=helpfulness", None, None, DATA_READ),
    ("get", P + "/quality/annotators/", None, None, DATA_READ),
    ("get", P + "/leaderboard/", None, None, DATA_READ),
    ("patch", P + "/training-policy/", {"retrain_every": 100, "auto_promote": True}, "json", ML_WRITE),
    # Active learning (rewardtrain/api/acquisitions.py).
    ("get", P + "/acquisitions/", None, None, DATA_READ),
    ("post", P + "/acquisitions/", round_body, "json", {**DATA_WRITE, "ml": 202, "admin": 202}),
    ("get", "/api/v1/acquisitions/{acq}/", None, None, DATA_READ),
    # Governance (annotation/api/governance.py): webhooks and the audit trail, project admins only.
    ("get", P + "/webhooks/", None, None, ADMIN_READ),
    ("post", P + "/webhooks/", {"url": "http://127.0.0.1:9/hook"}, "json", ADMIN_ONLY),
    ("get", P + "/webhooks/{w}/", None, None, ADMIN_READ),
    ("patch", P + "/webhooks/{w}/", {"active": False}, "json", {**ADMIN_ONLY, "admin": 200}),
    ("delete", P + "/webhooks/{w}/", None, None, {**ADMIN_ONLY, "admin": 204}),
    ("post", P + "/webhooks/{w}/test/", None, None, {**ADMIN_ONLY, "admin": 202}),
    ("get", P + "/webhooks/{w}/deliveries/", None, None, ADMIN_READ),
    ("get", P + "/audit-events/", None, None, ADMIN_READ),
    # Scoring (rewardtrain/api/scoring.py): project admins and ML engineers.
    ("post", P + "/score/", {"prompt": "p", "responses": ["a", "b"]}, "json", {**DATA_READ}),
    ("get", P + "/scoring-jobs/", None, None, DATA_READ),
    ("post", P + "/scoring-jobs/", lambda w: {"kind": "score", "file": scoring_file()}, "multipart",
     {**DATA_WRITE, "ml": 202, "admin": 202}),
    ("get", "/api/v1/scoring-jobs/{scoring_job}/", None, None, DATA_READ),
    ("get", "/api/v1/scoring-jobs/{scoring_job}/download/", None, None, DATA_READ),
    ("get", "/api/v1/models/{model}/score-stats/", None, None, DATA_READ),
    # Monitoring (rewardtrain/api/monitoring.py): canaries (ML engineers import), canary shift, alerts.
    ("get", P + "/canaries/", None, None, DATA_READ),
    ("post", P + "/canaries/", lambda w: {"file": canary_file()}, "multipart", ML_WRITE),
    ("get", "/api/v1/models/{model}/canary-shift/", None, None, DATA_READ),
    ("get", P + "/alerts/", None, None, DATA_READ),
    ("post", "/api/v1/alerts/{alert}/acknowledge/", None, None, DATA_READ),
    ("post", "/api/v1/alerts/{alert}/resolve/", None, None, DATA_READ),
    # The annotator API (annotation/api/annotate.py, gold.py, auth.py).
    ("post", P + "/next-task/", None, None, {"annotator": 200, "other_admin": 404, "ml": 403, "admin": 200}),
    ("post", "/api/v1/assignments/{a}/judgement/", ranking_body, "json", LEASEHOLDER),
    ("post", "/api/v1/assignments/{a}/skip/", {"reason": "unclear"}, "json", {**LEASEHOLDER, "annotator": 200}),
    # The project admin's workspace (annotation/api/projects.py, members.py, adjudication.py).
    ("patch", P + "/", {"overlap": 2, "adaptive_overlap": True}, "json", {**ADMIN_ONLY, "admin": 200}),
    ("get", P + "/members/", None, None, {**ADMIN_ONLY, "admin": 200}),
    ("post", P + "/members/", {"username": "fresh", "role": "annotator", "create_user": True}, "json", ADMIN_ONLY),
    ("patch", P + "/members/{u}/", {"role": "ml"}, "json", {**ADMIN_ONLY, "admin": 200}),
    ("delete", P + "/members/{u}/", None, None, {**ADMIN_ONLY, "admin": 204}),
    ("get", P + "/quality/disputed/", None, None, DATA_READ),
    ("post", "/api/v1/tasks/{t}/adjudication/", lambda w: {"ranking": w.judgement.ranking, "note": "A is right."},
     "json", ADMIN_ONLY),
    ("post", "/api/v1/tasks/{t}/gold/", lambda w: {"gold_ranking": w.judgement.ranking}, "json",
     {"annotator": 403, "other_admin": 404, "ml": 403, "admin": 200}),
]


def call(w: World, role: str, method, url, body, fmt):
    client = APIClient()
    if role != "anonymous":
        token, _ = Token.objects.get_or_create(user=w.users[role])
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    url = url.format(p=w.project.pk, s=w.snapshot.pk, t=w.task.pk, j=w.judgement.pk, pair=w.pair.pk,
                     a=w.assignment.pk, job=w.job.pk, ijob=w.import_job.pk, run=w.run.pk, model=w.model.pk,
                     u=w.users["annotator"].pk, acq=w.acquisition.pk, w=w.webhook.pk, scoring_job=w.scoring_job.pk,
                     alert=w.alert.pk)
    body = body(w) if callable(body) else body
    kwargs = {"format": fmt} if fmt else {}
    return getattr(client, method)(url, body, **kwargs) if body is not None else getattr(client, method)(url)


@pytest.mark.parametrize("method, url, body, fmt, expected", ENDPOINTS,
                         ids=[f"{m.upper()} {u}" for m, u, *_ in ENDPOINTS])
def test_permission_matrix(world, method, url, body, fmt, expected):
    expected = {"anonymous": 401, **expected}
    got = {}
    # Denied callers first, so a successful write cannot change what the others see.
    for role in sorted(ROLES, key=lambda r: expected[r] < 400):
        response = call(world, role, method, url, body, fmt)
        got[role] = response.status_code
        if response.status_code >= 400:
            assert set(response.json()) == {"error"}, f"{role}: {response.content[:200]}"
    assert got == expected
