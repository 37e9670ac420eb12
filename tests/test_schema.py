"""Property-based API test: schemathesis generates requests from the OpenAPI schema; none may 5xx.

Requests are authenticated as a project admin who owns real data, and path ids point at that data,
so the handlers run all the way down instead of stopping at a 404. The number of examples per
operation is bounded to keep the run around a minute (SCHEMATHESIS_EXAMPLES overrides it).
"""
import os

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from annotation.services import queue
from rewardtrain.snapshots.filters import filters_build
from rewardtrain.snapshots.services import snapshot_create
from tests import factories

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "20"))

schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())


@pytest.fixture
def keep_connection():
    # The WSGI handler closes the database connection after each request; Django's own test client
    # suspends that, and so must we, or the test's transaction is gone after the first call.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def owned_data(db, settings, tmp_path, keep_connection):
    settings.MEDIA_ROOT = tmp_path / "media"
    project = factories.ProjectFactory()
    factories.rubric(project, keys=("helpfulness",))
    admin = factories.member(project, "admin")
    for i in range(4):
        factories.judged_pair(project, prefer=i % 2, strength=i % 3)
    factories.imported_pair(project)
    factories.task(project)
    judgement = factories.judged_pair(project, admin)
    lease = queue.task_next(project=project, annotator=admin)
    snapshot = snapshot_create(project=project, filters=filters_build(project=project), val_fraction=0.5)
    ids = {"project_id": project.pk, "task_id": judgement.task_id, "judgement_id": judgement.pk,
           "pair_id": judgement.pairs.first().pk, "snapshot_id": snapshot.pk,
           "assignment_id": lease.pk if lease else 1, **training_ids(project, admin)}
    return {"token": Token.objects.create(user=admin).key, "ids": ids}


def training_ids(project, admin) -> dict:
    from rewardtrain.models import ModelVersion
    from rewardtrain.training.services import training_run_create
    from rewardtrain.snapshots.jobs import snapshot_job_create

    snapshot = factories.snapshot_with_both_splits(project)
    run = training_run_create(project=project, snapshot_id=snapshot.pk, user=admin)
    model = ModelVersion.objects.create(project=project, version=1, run=run, artifact_dir="models/none",
                                        validation_report={"n": 1, "accuracy": 1.0, "ece": 0.0})
    return {"job_id": snapshot_job_create(project=project, params={}, user=admin).pk, "run_id": run.pk,
            "model_id": model.pk}


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
          phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
def test_api_never_answers_with_a_server_error(case, owned_data):
    for name, value in owned_data["ids"].items():
        if case.path_parameters and name in case.path_parameters:
            case.path_parameters[name] = value
    case.call_and_validate(headers={"Authorization": f"Token {owned_data['token']}"},
                           checks=[not_a_server_error, response_schema_conformance])
