"""The runs and models pages as people use them in a browser (Django's client; htmx via its header)."""
import pytest
from django.urls import reverse

from rewardtrain.models import ModelVersion, TrainingRun
from rewardtrain.training import runner
from rewardtrain.training.services import training_run_claim, training_run_create
from tests import factories


def logged_in(client, user):
    client.force_login(user)
    return client


def test_an_ml_engineer_trains_from_the_page_and_follows_the_run(client, project, ml_engineer, snapshot, tiny_bert):
    client = logged_in(client, ml_engineer)
    page = client.get(reverse("run-list", args=[project.pk]))
    assert page.status_code == 200 and b"Train</button>" in page.content
    response = client.post(reverse("run-new", args=[project.pk]),
                           {"snapshot": snapshot.pk, "epochs": 1, "lr": 0.003, "max_steps": 3, "seed": 0})
    run = TrainingRun.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("run-detail", args=[project.pk, run.pk])
    assert run.config["max_steps"] == 3 and run.created_by == ml_engineer

    training_run_claim(run_id=run.pk, worker="gpu-1:7")
    live = client.get(reverse("run-detail", args=[project.pk, run.pk]), HTTP_HX_REQUEST="true")
    assert b'hx-trigger="every 2s"' in live.content and b"<html" not in live.content  # a fragment that keeps polling
    assert b"Running" in live.content and b"gpu-1:7" in live.content

    TrainingRun.objects.filter(pk=run.pk).update(status="queued", config={**run.config, "model": tiny_bert,
                                                                           "max_length": 64, "batch_tokens": 256})
    runner.training_run_execute(run_id=run.pk)
    done = client.get(reverse("run-detail", args=[project.pk, run.pk]), HTTP_HX_REQUEST="true")
    assert b"hx-trigger" not in done.content  # finished: the page stops polling
    assert b"Succeeded" in done.content and b"<svg" in done.content and b"Loss by optimizer step" in done.content
    model = ModelVersion.objects.get()
    assert reverse("model-detail", args=[project.pk, model.pk]).encode() in done.content

    detail = client.get(reverse("model-detail", args=[project.pk, model.pk]))
    assert b"Accuracy (score ties count as wrong)" in detail.content
    plot = client.get(reverse("model-plot", args=[project.pk, model.pk, "reliability"]))
    assert plot["Content-Type"] == "image/png" and b"".join(plot.streaming_content)[:4] == b"\x89PNG"
    assert client.get(reverse("model-plot", args=[project.pk, model.pk, "secrets"])).status_code == 404

    promoted = client.post(reverse("model-promote", args=[project.pk, model.pk]), follow=True)
    assert b"Version 1 is now the active model." in promoted.content
    assert ModelVersion.objects.get().status == "active"
    compare = client.get(reverse("model-compare", args=[project.pk]), {"a": model.pk, "b": model.pk})
    assert b"Both were validated on the same snapshot" in compare.content


def test_a_bad_train_form_is_shown_again_with_the_error(client, project, ml_engineer, snapshot):
    response = logged_in(client, ml_engineer).post(reverse("run-new", args=[project.pk]),
                                                   {"snapshot": snapshot.pk, "epochs": 0, "lr": 0.001, "seed": 0})
    assert response.status_code == 400 and b"Ensure this value is greater than or equal to 0.01" in response.content
    assert not TrainingRun.objects.exists()


def test_rollback_and_cancel_from_the_pages(client, project, ml_engineer, snapshot):
    from rewardtrain.registry.services import model_version_promote

    client = logged_in(client, ml_engineer)
    v1, v2 = (ModelVersion.objects.create(project=project, version=v, artifact_dir="m") for v in (1, 2))
    model_version_promote(model_version=v1)
    model_version_promote(model_version=v2)
    back = client.post(reverse("model-rollback", args=[project.pk]), follow=True)
    assert b"Rolled back: version 1 is active again." in back.content
    again = client.post(reverse("model-rollback", args=[project.pk]), follow=True)
    assert b"nothing to roll back to" in again.content

    run = training_run_create(project=project, snapshot_id=snapshot.pk, config={})
    cancelled = client.post(reverse("run-cancel", args=[project.pk, run.pk]), follow=True)
    assert f"Run {run.pk} cancelled before a worker took it.".encode() in cancelled.content
    assert TrainingRun.objects.get(pk=run.pk).status == "cancelled"


@pytest.mark.parametrize("role, runs, train", [("annotator", 403, 403), ("admin", 200, 403), ("ml", 200, 200)])
def test_who_may_see_and_train(client, project, snapshot, role, runs, train):
    client = logged_in(client, factories.member(project, role))
    page = client.get(reverse("run-list", args=[project.pk]))
    assert page.status_code == runs
    if runs == 200:
        assert (b"Train</button>" in page.content) == (train == 200)
    assert client.get(reverse("model-list", args=[project.pk])).status_code == runs
    response = client.post(reverse("run-new", args=[project.pk]), {"snapshot": snapshot.pk, "epochs": 1,
                                                                    "lr": 0.001, "seed": 0})
    assert response.status_code == (302 if train == 200 else 403)


def test_strangers_get_404(client, project):
    client = logged_in(client, factories.member(factories.ProjectFactory(), "ml"))
    assert client.get(reverse("run-list", args=[project.pk])).status_code == 404
    assert client.get(reverse("model-list", args=[project.pk])).status_code == 404


def test_the_runs_list_refreshes_itself_only_while_a_run_is_unfinished(client, project, ml_engineer, snapshot):
    client = logged_in(client, ml_engineer)
    run = training_run_create(project=project, snapshot_id=snapshot.pk, config={"max_steps": 1})
    TrainingRun.objects.filter(pk=run.pk).update(status="queued")
    page = client.get(reverse("run-list", args=[project.pk]))
    assert b'hx-select="#runs"' in page.content and b'hx-trigger="every 3s"' in page.content
    TrainingRun.objects.filter(pk=run.pk).update(status="cancelled")
    assert b"hx-trigger" not in client.get(reverse("run-list", args=[project.pk])).content


def test_the_report_shows_the_active_model_beside_it_with_labelled_charts(client, project, ml_engineer):
    report = {"n": 10, "tie_pairs": 0, "accuracy": 0.8, "ece": 0.05, "loss": 0.5, "length_correlation": 0.1,
              "accuracy_by_criterion": {"overall": {"accuracy": 0.8, "pairs": 10}},
              "accuracy_by_strength": {"1": {"accuracy": 0.7, "pairs": 4}},
              "reliability": [{"confidence": 0.7, "accuracy": 0.8, "n": 10}],
              "reward_histogram": {"edges": [0, 1, 2], "chosen": [1, 9], "rejected": [8, 2]},
              "baselines": {"longer_wins": {"accuracy": 0.55, "pairs": 10}}, "agreement_ceiling": None,
              "active_model": {"version": 1, "accuracy": 0.7, "ece": 0.1, "loss": 0.6, "length_correlation": 0.3,
                               "comparison": {"difference": 0.1, "low": -0.1, "high": 0.3, "confidence": 0.95}}}
    model = ModelVersion.objects.create(project=project, version=2, artifact_dir="m", validation_report=report)
    page = logged_in(client, ml_engineer).get(reverse("model-detail", args=[project.pk, model.pk])).content.decode()
    assert "Active v1, same rows" in page and "+0.100" in page and "95% interval" in page
    assert "diff-better" in page and "longer response wins" in page and "Overall preference" in page
    assert "predicted P(chosen wins)" in page and "reward (model score)" in page
    assert 'data-confirm="Promote v2 to active?' in page
    compare = client.get(reverse("model-compare", args=[project.pk]), {"a": model.pk}, follow=True)
    assert b"Choose two model versions to compare." in compare.content


def test_a_queued_or_starting_run_offers_cancel_on_the_list_and_its_page(client, project, ml_engineer, snapshot):
    client = logged_in(client, ml_engineer)
    queued = training_run_create(project=project, snapshot_id=snapshot.pk, config={})
    starting = training_run_create(project=project, snapshot_id=snapshot.pk, config={})
    training_run_claim(run_id=starting.pk, worker="gpu-1:7")  # claimed, loading the model: no step yet
    listing = client.get(reverse("run-list", args=[project.pk])).content.decode()
    for run in (queued, starting):
        assert f'action="{reverse("run-cancel", args=[project.pk, run.pk])}"' in listing
        page = client.get(reverse("run-detail", args=[project.pk, run.pk])).content.decode()
        assert "Waiting for the first training step" in page and "Cancel run</button>" in page

    now = client.post(reverse("run-cancel", args=[project.pk, queued.pk]), follow=True).content.decode()
    assert f"Run {queued.pk} cancelled before a worker took it." in now
    assert TrainingRun.objects.get(pk=queued.pk).status == "cancelled"
    later = client.post(reverse("run-cancel", args=[project.pk, starting.pk]), follow=True).content.decode()
    assert "cancel requested" in later and "Cancelling…</button>" in later
    assert TrainingRun.objects.get(pk=starting.pk).cancel_requested
    listing = client.get(reverse("run-list", args=[project.pk])).content.decode()
    assert f'action="{reverse("run-cancel", args=[project.pk, queued.pk])}"' not in listing  # finished


def test_the_runs_list_offers_no_cancel_to_project_admins(client, project, snapshot):
    run = training_run_create(project=project, snapshot_id=snapshot.pk, config={})
    listing = logged_in(client, factories.member(project, "admin")).get(reverse("run-list", args=[project.pk]))
    assert reverse("run-cancel", args=[project.pk, run.pk]).encode() not in listing.content


def test_roll_back_is_offered_only_when_there_is_a_version_to_roll_back_to(client, project, ml_engineer):
    from rewardtrain.registry.services import model_version_promote

    client = logged_in(client, ml_engineer)
    url = reverse("model-list", args=[project.pk])
    rollback = reverse("model-rollback", args=[project.pk]).encode()
    v1, v2 = (ModelVersion.objects.create(project=project, version=v, artifact_dir="m") for v in (1, 2))
    assert rollback not in client.get(url).content  # no active model
    model_version_promote(model_version=v1)
    assert rollback not in client.get(url).content  # the first active model: nothing before it
    model_version_promote(model_version=v2)
    page = client.get(url).content.decode()
    assert "Roll back to v1</button>" in page
