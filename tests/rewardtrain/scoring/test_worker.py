"""Best-of-N through a real `scoring` worker process (Redis broker and result backend): the web side
never loads the model; without a worker the API says so in time."""
import pytest
from rest_framework.test import APIClient

from rewardtrain.scoring.cache import model_options
from rewardtrain.models import ScoreDaily
from rewardtrain.scoring import cache
from tests.conftest import start_celery_worker, stop_celery_worker

from .conftest import register

pytestmark = pytest.mark.integration


@pytest.fixture
def shared_storage(settings, tmp_path):
    var = tmp_path / "var"
    settings.MEDIA_ROOT = var / "test-media"  # the worker process reads the same storage
    return {"VERDICT_VAR_DIR": str(var)}


def post(user, project, body):
    client = APIClient()
    client.force_authenticate(user)
    return client.post(f"/api/v1/projects/{project.pk}/score/", body, format="json")


def concurrently(user, project, bodies):
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    def one(body):
        try:
            return post(user, project, body)
        finally:
            connection.close()

    with ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(one, bodies))


def test_scores_come_from_the_scoring_worker(transactional_db, project, ml_engineer, trained_bert, shared_storage,
                                             tmp_path):
    from config.celery_app import app
    from rewardtrain.ml import RewardModel

    model = register(project, trained_bert["dir"])
    responses = ["the cat thanks", "the cat idiot"]
    with open(tmp_path / "worker.log", "w") as log:
        worker = start_celery_worker(env={**shared_storage, "VERDICT_SCORE_STATS_FLUSH_SECONDS": "0"}, output=log,
                                     queues="scoring")
        try:
            first = post(ml_engineer, project, {"prompt": "a tree", "responses": responses})
            again = post(ml_engineer, project, {"prompt": "a tree", "responses": responses})
            together = concurrently(ml_engineer, project, [{"prompt": f"p{i}", "responses": responses[::1 - 2 * (i % 2)]}
                                                           for i in range(6)])
        finally:
            app.conf.task_always_eager = True
            stop_celery_worker(worker)
    assert first.status_code == 200, first.content
    assert first.json()["model"] == {"id": model.pk, "version": model.version}
    assert again.json()["rewards"] == first.json()["rewards"]
    expected = RewardModel(trained_bert["dir"], **model_options()).score(["a tree"] * 2, responses)[:, 0]
    assert first.json()["rewards"] == pytest.approx(expected.tolist(), abs=1e-5)
    assert first.json()["ranking"] == [0, 1]
    # Requests in flight at once from several threads of one web process each get their own answer.
    for i, response in enumerate(together):
        assert response.status_code == 200, response.content
        assert response.json()["ranking"] == ([0, 1] if i % 2 == 0 else [1, 0])
    assert not cache._models  # this (web) process never loaded a model
    assert ScoreDaily.objects.get(model_version=model).count == 16  # recorded by the worker, after answering


def test_without_a_scoring_worker_the_api_answers_503_in_time(project, ml_engineer, trained_bert, settings):
    from config.celery_app import app

    register(project, trained_bert["dir"])
    settings.VERDICT_SCORING_TIMEOUT_SECONDS = 0.5
    app.conf.task_always_eager = False
    try:
        response = post(ml_engineer, project, {"prompt": "p", "responses": ["a"]})
    finally:
        app.conf.task_always_eager = True
    assert response.status_code == 503
    assert "No scoring worker answered within 0.5 s" in response.json()["error"]["message"]
