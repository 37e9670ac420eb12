"""Absurd numbers found in the QA pass: each is a specific 400 that changes nothing, never a 500 from an
overflowing column nor a queued run that would hold a training worker for ever."""
import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from rewardtrain.active.services import AcquisitionError, acquisition_params_check
from rewardtrain.models import AcquisitionRound, TrainingPolicy, TrainingRun
from rewardtrain.training.config import ConfigError, config_validate

HUGE = "99999999999999999999"


@pytest.mark.parametrize("config, message", [
    ({"epochs": 1e20}, "config.epochs must be at most 1000, got 1e+20."),
    ({"lr": 1e308}, "config.lr must be at most 1, got 1e+308."),
    ({"max_steps": 10**20}, "config.max_steps must be at most 1e+08"),
    ({"lr": float("nan")}, "config.lr must be a finite number greater than 0, got nan."),
    ({"epochs": float("inf")}, "config.epochs must be a finite number greater than 0, got inf."),
    ({"seed": -1}, "config.seed must be a whole number from 0 to 4294967295, got -1."),
    ({"seed": 10**20}, "config.seed must be a whole number from 0 to 4294967295"),
])
def test_run_configs_beyond_any_sane_run_are_refused(config, message):
    with pytest.raises(ConfigError, match=message.replace("+", r"\+").replace(".", r"\.")):
        config_validate(config=config)
    assert config_validate(config={"epochs": 1000, "lr": 1.0, "max_steps": 100_000_000})["epochs"] == 1000


def test_the_run_page_refuses_absurd_epochs_and_learning_rates(client, project, ml_engineer, snapshot):
    client.force_login(ml_engineer)
    for field, value in (("epochs", "1e20"), ("lr", "1e308"), ("max_steps", HUGE), ("seed", HUGE)):
        data = {"snapshot": snapshot.pk, "epochs": "1", "lr": "5e-5", "seed": "0", field: value}
        response = client.post(reverse("run-new", args=[project.pk]), data)
        assert response.status_code == 400, field
        assert "Ensure this value is less than or equal to" in response.content.decode()
    api = APIClient()
    api.force_authenticate(ml_engineer)
    response = api.post(f"/api/v1/projects/{project.pk}/training-runs/",
                        {"snapshot": snapshot.pk, "config": {"epochs": 1e20}}, format="json")
    assert response.status_code == 400 and "config.epochs must be at most 1000" in response.json()["error"]["message"]
    assert not TrainingRun.objects.exists()


@pytest.mark.parametrize("field", ["retrain_every", "acquire_every_hours", "acquire_size"])
def test_huge_policy_numbers_are_a_400_not_a_500(client, project, ml_engineer, field):
    client.force_login(ml_engineer)
    data = {"retrain_every": "0", "promote_confidence": "0.95", "config": "{}", "acquire_size": "50", field: HUGE}
    response = client.post(reverse("run-policy", args=[project.pk]), data)
    assert response.status_code == 400 and "Ensure this value is less than or equal to" in response.content.decode()
    api = APIClient()
    api.force_authenticate(ml_engineer)
    response = api.patch(f"/api/v1/projects/{project.pk}/training-policy/", {field: 10**20}, format="json")
    assert response.status_code == 400 and field in response.json()["error"]["message"]
    assert not TrainingPolicy.objects.filter(project=project).exists()


def test_a_huge_acquisition_round_is_a_400_not_a_500(client, project, ml_engineer):
    client.force_login(ml_engineer)
    response = client.post(reverse("acquisition-new", args=[project.pk]),
                           {"strategy": "random", "size": HUGE, "epsilon": "0.1", "diversity": "0.3"})
    assert response.status_code == 400 and "Ensure this value is less than or equal to 1000000" in response.content.decode()
    with pytest.raises(AcquisitionError, match="size: must be a whole number from 1 to 1,000,000"):
        acquisition_params_check(strategy="random", size=10**20)
    assert not AcquisitionRound.objects.exists()
