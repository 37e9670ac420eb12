"""The canary set: import (page, API, command; all or nothing), scoring of every new model version and the
active one, and the shift between them (KS, mean shift in σ), on tiny real models."""
import io
import tempfile

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from annotation.models import Webhook, WebhookDelivery
from rewardtrain.ml import RewardModel
from rewardtrain.models import Alert, Canary, CanaryScore, ModelVersion, TrainingRun
from rewardtrain.monitoring.canaries import canaries_import, canary_shift_of, shift_statistics
from rewardtrain.monitoring.alerts import alert_resolve, alerts_evaluate
from rewardtrain.registry.services import model_version_promote, model_version_register
from rewardtrain.scoring.files import FileProblems
from rewardtrain.scoring.services import prompt_text
from rewardtrain.training.storage import storage_upload_dir
from tests import factories

CANARIES = [{"prompt": "How do I thank a friend?", "responses": ["Say thanks warmly.", "Call them an idiot.",
                                                                 "A card saying thanks."]},
            {"prompt": "Reply to the email", "response": "Thanks for writing, idiot."},
            {"prompt": [{"role": "user", "content": "Be kind"}], "responses": ["thanks a lot", "idiot"]}]


def jsonl(rows, name="canaries.jsonl"):
    upload = io.BytesIO(factories.jsonl(rows))
    upload.name = name
    return upload


def api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_ks_and_mean_shift_match_hand_computed_values():
    # ECDFs of [1,2,3,4] and [3,4,5,6] differ most at x = 2 (0.5 vs 0): KS = 0.5. Means 2.5 and 4.5; the
    # reference's sample std is sqrt(5/3) = 1.29099, so the shift is -2 / 1.29099 = -1.54919 σ.
    out = shift_statistics([1, 2, 3, 4], [3, 4, 5, 6])
    assert out["ks"] == pytest.approx(0.5) and out["mean_shift_sigma"] == pytest.approx(-1.549193, abs=1e-6)
    assert (out["candidate_mean"], out["reference_mean"], out["n"]) == (2.5, 4.5, 4)
    same = shift_statistics([0.1, 0.5, 0.9], [0.9, 0.1, 0.5])
    assert same["ks"] == 0.0 and same["mean_shift_sigma"] == 0.0 and same["p_value"] == pytest.approx(1.0)
    assert shift_statistics([1.0, 2.0], [3.0, 3.0])["mean_shift_sigma"] is None  # no spread: no σ


def test_import_is_all_or_nothing_with_file_line_errors(project, ml_engineer, project_admin):
    assert canaries_import(project=project, fileobj=jsonl(CANARIES), filename="canaries.jsonl") == 3
    bad = CANARIES[:1] + [{"prompt": "p", "responses": []}, {"prompt": 3, "response": "r"}]
    with pytest.raises(FileProblems) as exc:
        canaries_import(project=project, fileobj=jsonl(bad), filename="bad.jsonl")
    assert "bad.jsonl:2: responses" in str(exc.value) and "bad.jsonl:3: prompt" in str(exc.value)
    assert [c.prompt for c in Canary.objects.filter(project=project)][:1] == ["How do I thank a friend?"]
    assert Canary.objects.filter(project=project).count() == 3

    response = api(ml_engineer).post(f"/api/v1/projects/{project.pk}/canaries/", {"file": jsonl(bad, "b.jsonl")},
                                     format="multipart")
    assert response.status_code == 400 and "b.jsonl:2: responses" in response.json()["error"]["message"]
    assert api(project_admin).post(f"/api/v1/projects/{project.pk}/canaries/", {"file": jsonl(CANARIES)},
                                   format="multipart").status_code == 403
    out = api(ml_engineer).post(f"/api/v1/projects/{project.pk}/canaries/", {"file": jsonl(CANARIES[1:])},
                                format="multipart").json()
    assert out["count"] == 2 and out["canaries"][0] == {"line": 1, "prompt": "Reply to the email",
                                                         "responses": ["Thanks for writing, idiot."]}
    assert api(project_admin).get(f"/api/v1/projects/{project.pk}/canaries/").json()["count"] == 2

    with tempfile.NamedTemporaryFile("wb", suffix=".jsonl") as handle:
        handle.write(factories.jsonl(bad))
        handle.flush()
        with pytest.raises(CommandError, match=r"\.jsonl:2: responses"):
            call_command("import_canaries", str(project.pk), handle.name)
        handle.seek(0)
        handle.truncate()
        handle.write(factories.jsonl(CANARIES))
        handle.flush()
        out = io.StringIO()
        call_command("import_canaries", str(project.pk), handle.name, stdout=out)
    assert "Imported 3 canary prompts" in out.getvalue() and Canary.objects.filter(project=project).count() == 3


@pytest.fixture
def random_head_model(tmp_path, tiny_bert):
    """An untrained reward model (random head): its canary rewards differ from the trained one's."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, BertConfig

    config = BertConfig.from_pretrained(tiny_bert, num_labels=1)
    AutoModelForSequenceClassification.from_config(config).save_pretrained(tmp_path / "random")
    AutoTokenizer.from_pretrained(tiny_bert).save_pretrained(tmp_path / "random")
    return str(tmp_path / "random")


def test_a_registered_version_is_scored_on_the_canaries_and_its_shift_shown(
        project, scoring_model, trained_bert, random_head_model, ml_engineer, client, settings,
        django_capture_on_commit_callbacks):
    settings.VERDICT_WEBHOOK_ALLOW_PRIVATE = True
    settings.VERDICT_ALERT_CANARY_KS = 0.0  # any difference at all fires the rule here
    hook = Webhook.objects.create(project=project, url="http://127.0.0.1:9/hook", secret="s")
    with django_capture_on_commit_callbacks(execute=True):
        canaries_import(project=project, fileobj=jsonl(CANARIES), filename="canaries.jsonl")
    active_rewards = CanaryScore.objects.get(model_version=scoring_model).rewards
    assert len(active_rewards) == 6  # every response of every canary, in order

    run = TrainingRun.objects.create(project=project, snapshot=factories.snapshot_with_both_splits(project),
                                     status="succeeded")
    storage_upload_dir(local=random_head_model, prefix="models/canary-candidate")
    with django_capture_on_commit_callbacks(execute=True):  # what the training runner does
        candidate = model_version_register(run=run, artifact_dir="models/canary-candidate", report={})
    candidate_rewards = CanaryScore.objects.get(model_version=candidate).rewards

    # The stored rewards are the models' own scores of the canary responses.
    texts = [(prompt_text(c["prompt"]), r) for c in CANARIES for r in (c.get("responses") or [c.get("response")])]
    expected = RewardModel(random_head_model).score([t[0] for t in texts], [t[1] for t in texts])
    assert np.allclose(candidate_rewards, expected[:, 0], atol=1e-4)
    from scipy.stats import ks_2samp

    shift = canary_shift_of(model=candidate)
    assert shift["status"] == "ok" and shift["reference"] == {"id": scoring_model.pk, "version": scoring_model.version}
    assert shift["ks"] == pytest.approx(ks_2samp(candidate_rewards, active_rewards).statistic)
    sigma = (np.mean(candidate_rewards) - np.mean(active_rewards)) / np.std(active_rewards, ddof=1)
    assert shift["mean_shift_sigma"] == pytest.approx(sigma)

    # The rule fired once, with its webhook; scoring again changes nothing and fires nothing.
    alert = Alert.objects.get(rule="canary_shift")
    assert alert.model_version == candidate and alert.numbers["ks"] == pytest.approx(shift["ks"])
    # One row per delivery attempt (eager Celery runs the retries at once): one event.
    deliveries = WebhookDelivery.objects.filter(webhook=hook, event="alert.fired")
    assert deliveries.values("event_id").distinct().count() == 1
    from rewardtrain.tasks import canary_scores_compute

    assert canary_scores_compute(candidate.pk)["ks"] == shift["ks"] and Alert.objects.count() == 1

    # Shown before promotion: the API and the model page.
    out = api(ml_engineer).get(f"/api/v1/models/{candidate.pk}/canary-shift/").json()
    assert out["ks"] == pytest.approx(shift["ks"]) and out["beyond_threshold"] is True
    client.force_login(ml_engineer)
    page = client.get(f"/train/projects/{project.pk}/models/{candidate.pk}/").content.decode()
    assert "Canary shift" in page and f"{shift['ks']:.3f}" in page and "Shifted beyond the threshold" in page
    assert candidate.status == ModelVersion.Status.CANDIDATE

    # Resolved, the beat does not report the same comparison again.
    alert_resolve(alert=alert, user=ml_engineer)
    assert alerts_evaluate() == {"fired": []}
    # Promoted (by hand or automatically before the worker came to it), it is compared with the version it replaced.
    model_version_promote(model_version=candidate)
    candidate.refresh_from_db()
    assert canary_shift_of(model=candidate)["reference"]["id"] == scoring_model.pk


def test_the_monitoring_page_replaces_the_canary_set_for_ml_engineers(client, project, ml_engineer, project_admin):
    url = f"/train/projects/{project.pk}/monitoring/canaries/"
    client.force_login(project_admin)
    assert client.post(url, {"file": jsonl(CANARIES)}).status_code == 403
    client.force_login(ml_engineer)
    bad = client.post(url, {"file": jsonl([{"prompt": "p"}], "bad.jsonl")})
    assert bad.status_code == 400 and "bad.jsonl:1: response" in bad.content.decode()
    assert not Canary.objects.exists()
    assert client.post(url, {"file": jsonl(CANARIES)}).status_code == 302
    page = client.get(f"/train/projects/{project.pk}/monitoring/").content.decode()
    assert "3 canary prompts" in page and "Replace the canary set" in page
