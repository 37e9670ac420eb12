"""Opening an action's address (promote, cancel, pause, log out: POST only) in the browser: a page that
says what happened and where to go, in the site's layout; the API answers in its JSON error shape."""
import pytest
from django.urls import reverse

from annotation.models import Batch
from rewardtrain.models import ModelVersion, TrainingRun
from rewardtrain.training.services import training_run_create
from tests import factories


@pytest.fixture
def model(project):
    return ModelVersion.objects.create(project=project, version=1, artifact_dir="models/x")


@pytest.fixture
def snapshot_run(project, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    snapshot = factories.snapshot_with_both_splits(project)
    return training_run_create(project=project, snapshot_id=snapshot.pk, config={})


def test_get_on_a_post_only_page_explains_and_links_back(client, project, ml_engineer, model):
    client.force_login(ml_engineer)
    url = reverse("model-promote", args=[project.pk, model.pk])
    page = client.get(url)
    assert page.status_code == 405 and page["Allow"] == "POST"
    assert page["Content-Type"].startswith("text/html")
    html = page.content.decode()
    assert "<title>Not a page to open" in html and 'class="topbar"' in html  # the site's layout, not a bare 405
    assert "only by a button" in html and "<strong>POST</strong>" in html
    # No Referer: the link goes up to the nearest page, here the model's own page.
    assert f'href="{reverse("model-detail", args=[project.pk, model.pk])}"' in html
    assert ModelVersion.objects.get(pk=model.pk).status == "candidate"  # and nothing happened


def test_the_link_back_is_the_page_the_user_came_from_on_this_site(client, project, ml_engineer, snapshot_run):
    client.force_login(ml_engineer)
    url = reverse("run-cancel", args=[project.pk, snapshot_run.pk])
    runs = reverse("run-list", args=[project.pk])
    html = client.get(url, HTTP_REFERER=f"http://testserver{runs}").content.decode()
    assert f'href="http://testserver{runs}"' in html
    assert TrainingRun.objects.get(pk=snapshot_run.pk).status == "queued"
    elsewhere = client.get(url, HTTP_REFERER="https://evil.example/phish").content.decode()
    assert "evil.example" not in elsewhere
    assert f'href="{reverse("run-detail", args=[project.pk, snapshot_run.pk])}"' in elsewhere


def test_annotation_pages_and_log_out_too_and_nothing_untrusted_is_echoed(client, project_admin, project):
    batch = Batch.objects.create(project=project, name="first upload")
    client.force_login(project_admin)
    page = client.get(reverse("batch-pause", args=[project.pk, batch.pk]))
    assert page.status_code == 405 and "only by a button" in page.content.decode()
    assert not Batch.objects.get(pk=batch.pk).paused
    page = client.get(reverse("logout"), HTTP_REFERER='http://testserver/"><script>alert(1)</script>')
    assert page.status_code == 405
    html = page.content.decode()
    assert "<script>alert(1)" not in html and "Log out" in html


def test_signed_out_visitors_get_the_same_page(client, project, model):
    page = client.get(reverse("model-promote", args=[project.pk, model.pk]))
    assert page.status_code == 405 and "only by a button" in page.content.decode()


def test_the_api_answers_405_in_its_json_error_shape(project, ml_engineer, model):
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=ml_engineer)[0].key}")
    response = client.get(f"/api/v1/models/{model.pk}/promote/")
    assert response.status_code == 405 and response["Content-Type"] == "application/json"
    assert response.json() == {"error": {"code": "method_not_allowed", "message": 'Method "GET" not allowed.'}}
