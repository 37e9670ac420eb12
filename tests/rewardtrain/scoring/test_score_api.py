"""POST /api/v1/projects/{id}/score/ with a real (tiny, trained) registered model."""
import json
import math

import pytest
from rest_framework.test import APIClient

from annotation.hashing import messages_to_text
from rewardtrain.scoring.cache import model_options
from rewardtrain.models import ModelVersion
from rewardtrain.registry.services import model_version_promote
from tests import factories

from .conftest import register

GOOD, BAD = "the cat sits thanks", "the cat sits idiot"


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def score(user, project, body, expect=200):
    response = client_for(user).post(f"/api/v1/projects/{project.pk}/score/", body, format="json")
    assert response.status_code == expect, response.content
    return response.json()


def test_best_of_n_ranks_by_reward_and_p_best_sums_to_one(project, ml_engineer, scoring_model):
    responses = [BAD, GOOD, "the dog runs idiot", GOOD]
    out = score(ml_engineer, project, {"prompt": "the sky is blue", "responses": responses})
    assert out["model"] == {"id": scoring_model.pk, "version": scoring_model.version}
    rewards = out["rewards"]
    assert len(rewards) == len(out["normalized"]) == len(out["p_best"]) == 4
    assert rewards[1] == pytest.approx(rewards[3], abs=1e-5)  # the same response twice: the same reward
    assert min(rewards[1], rewards[3]) > max(rewards[0], rewards[2])  # the model learned thanks > idiot
    assert sorted(out["ranking"]) == [0, 1, 2, 3]
    assert [rewards[i] for i in out["ranking"]] == sorted(rewards, reverse=True)
    assert set(out["ranking"][:2]) == {1, 3}
    assert math.fsum(out["p_best"]) == pytest.approx(1.0)
    assert out["p_best"][1] > out["p_best"][0]
    assert "rewards_by_criterion" not in out  # one head only


def test_rewards_match_the_model_folder_and_normalized_uses_its_training_stats(project, admin_client_user,
                                                                             scoring_model, trained_bert):
    from rewardtrain.ml import RewardModel

    out = score(admin_client_user, project, {"prompt": "a tree", "responses": [GOOD, BAD]})
    direct = RewardModel(trained_bert["dir"], **model_options())
    raw = direct.score(["a tree"] * 2, [GOOD, BAD])[:, 0]
    assert out["rewards"] == pytest.approx(raw.tolist(), abs=1e-5)
    meta = json.load(open(f"{trained_bert['dir']}/rewardtrain.json"))["normalization"]
    assert out["normalized"] == pytest.approx(((raw - meta["mean"][0]) / meta["std"][0]).tolist(), abs=1e-4)
    temperature = direct.temperature
    assert out["p_best"][0] == pytest.approx(1 / (1 + math.exp(-(raw[0] - raw[1]) / temperature)), abs=1e-5)


@pytest.fixture
def admin_client_user(project):
    return factories.member(project, "admin")


def test_a_chat_prompt_scores_as_its_transcript(project, ml_engineer, scoring_model):
    chat = [{"role": "user", "content": "hello there"}, {"role": "assistant", "content": "hi"},
            {"role": "user", "content": "the red tree"}]
    as_chat = score(ml_engineer, project, {"prompt": chat, "responses": [GOOD, BAD]})
    as_text = score(ml_engineer, project, {"prompt": messages_to_text(chat), "responses": [GOOD, BAD]})
    assert as_chat["rewards"] == pytest.approx(as_text["rewards"])


def test_a_named_model_scores_and_promotion_switches_the_default(project, ml_engineer, scoring_model, trained_bert,
                                                               tiny_bert):
    second = register(project, trained_bert["dir"], active=False)
    assert score(ml_engineer, project, {"prompt": "p", "responses": [GOOD], "model": second.pk})["model"]["id"] == second.pk
    assert score(ml_engineer, project, {"prompt": "p", "responses": [GOOD]})["model"]["id"] == scoring_model.pk
    model_version_promote(model_version=second)
    assert score(ml_engineer, project, {"prompt": "p", "responses": [GOOD]})["model"]["version"] == second.version


def test_criterion_heads_give_per_criterion_rewards(project, ml_engineer, criteria_bert):
    register(project, criteria_bert)
    out = score(ml_engineer, project, {"prompt": "p", "responses": [GOOD, BAD, "x"]})
    assert set(out["rewards_by_criterion"]) == {"helpful", "harmless"}
    assert all(len(v) == 3 for v in out["rewards_by_criterion"].values())


def test_no_active_model_is_a_409_that_says_what_to_do(project, ml_engineer):
    ModelVersion.objects.create(project=project, version=1, artifact_dir="models/nowhere")  # a candidate only
    out = score(ml_engineer, project, {"prompt": "p", "responses": ["a"]}, expect=409)
    assert "no active reward model" in out["error"]["message"] and "promote" in out["error"]["message"]


@pytest.mark.parametrize("body, message", [
    ({"prompt": "p", "responses": []}, "responses: give 1 to 64 responses, got 0"),
    ({"prompt": "p", "responses": ["r"] * 65}, "responses: give 1 to 64 responses, got 65"),
    ({"prompt": "p", "responses": "just one"}, "responses: must be a list of strings, got a string"),
    ({"prompt": "p", "responses": ["ok", "  "]}, "responses[1]: must not be empty"),
    ({"prompt": "p", "responses": ["ok", 3]}, "responses[1]: must be a string, got a number"),
    ({"prompt": "p", "responses": ["ok\x00"]}, "responses[0]: contains a NUL character"),
    ({"prompt": 7, "responses": ["ok"]}, "prompt: must be a string or a list of chat messages, got a number"),
    ({"prompt": [{"role": "robot", "content": "x"}], "responses": ["ok"]}, "prompt[0].role: must be one of"),
    ({"prompt": "", "responses": ["ok"]}, "prompt: must not be empty"),
    ({"responses": ["ok"]}, "prompt: This field is required."),
    ({"prompt": "p", "responses": ["ok"], "model": "x"}, "model: A valid integer is required."),
])
def test_bad_input_is_a_400_naming_the_field(project, ml_engineer, scoring_model, body, message):
    out = score(ml_engineer, project, body, expect=400)
    assert out["error"]["message"].startswith(message), out


def test_a_model_of_another_project_is_refused(project, ml_engineer, scoring_model):
    other = factories.ProjectFactory()
    foreign = ModelVersion.objects.create(project=other, version=1, artifact_dir="models/x")
    out = score(ml_engineer, project, {"prompt": "p", "responses": ["a"], "model": foreign.pk}, expect=400)
    assert out["error"]["message"] == f"model: no model version {foreign.pk} in project “{project.name}”."


def test_annotators_may_not_score(project, annotator, scoring_model):
    score(annotator, project, {"prompt": "p", "responses": ["a"]}, expect=403)


def test_with_bf16_off_rewards_equal_plain_transformers(project, ml_engineer, scoring_model, trained_bert, settings):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    settings.VERDICT_SCORING_BF16 = "off"
    out = score(ml_engineer, project, {"prompt": "the red sky", "responses": [GOOD, BAD]})
    tokenizer = AutoTokenizer.from_pretrained(trained_bert["dir"])
    plain = AutoModelForSequenceClassification.from_pretrained(trained_bert["dir"]).eval()
    with torch.no_grad():
        expected = [float(plain(**tokenizer("the red sky", r, return_tensors="pt")).logits[0, 0]) for r in (GOOD, BAD)]
    assert out["rewards"] == pytest.approx(expected, abs=1e-5)
