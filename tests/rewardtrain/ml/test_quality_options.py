"""Pooling, validation split, best checkpoint, early stopping and temperature, as a user sees them."""

import json
import os

import numpy as np
import pytest
import torch

from rewardtrain.ml import RewardModel, TrainConfig, evaluate_model, score_file, train

from .conftest import synthetic_rows, write_jsonl


def config(tmp_path, model, **kw):
    tmp_path.mkdir(parents=True, exist_ok=True)
    values = dict(data=write_jsonl(tmp_path / "train.jsonl", synthetic_rows(80, seed=7)), out=str(tmp_path / "out"),
                  model=model, epochs=3, lr=3e-3, max_length=64, batch_tokens=1024, save_every=0, seed=1)
    values.update(kw)
    return TrainConfig(**values)


@pytest.fixture(scope="module")
def mean_pooled(tmp_path_factory, tiny_bert):
    root = tmp_path_factory.mktemp("mean_pooled")
    result = train(config(root, tiny_bert, pooling="mean", epochs=4, eval_data=write_jsonl(root / "val.jsonl", synthetic_rows(30, seed=8))))
    return root, result


def test_mean_pooled_folder_scores_identically_in_plain_transformers(mean_pooled):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    root, result = mean_pooled
    folder = result.out
    assert json.load(open(os.path.join(folder, "rewardtrain.json")))["pooling"] == "mean"
    rows = synthetic_rows(6, seed=11)
    prompts, responses = [r["prompt"] for r in rows], [r["chosen"] for r in rows]
    ours = RewardModel(folder).score(prompts, responses)[:, 0]
    # The documented recipe: the folder carries its pooling code, so trust_remote_code loads it.
    plain = AutoModelForSequenceClassification.from_pretrained(folder, trust_remote_code=True).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    with torch.no_grad():
        logits = plain(**tokenizer(prompts, responses, padding=True, return_tensors="pt")).logits[:, 0].numpy()
    np.testing.assert_allclose(logits, ours, rtol=1e-4, atol=1e-5)
    # ... and reading [CLS] instead (no trust_remote_code) would give other rewards.
    cls_read = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    with torch.no_grad():
        other = cls_read(**tokenizer(prompts, responses, padding=True, return_tensors="pt")).logits[:, 0].numpy()
    assert not np.allclose(other, ours, atol=1e-3)


def test_mean_pooled_model_learns_the_preference(mean_pooled):
    root, result = mean_pooled
    assert result.metrics["eval"]["accuracy"] >= 0.75  # 30 pairs: chance is 0.5 +- 0.09


def test_the_kept_weights_are_the_best_validation_checkpoint(mean_pooled):
    root, result = mean_pooled
    history = result.metrics["history"]
    assert len(history) == 4  # once per epoch
    best = min(history, key=lambda h: h["calibrated_loss"])
    assert result.metrics["train"]["best_step"] == best["step"]
    # The final report is of the saved weights: the same validation numbers as that evaluation.
    assert result.metrics["eval"]["calibrated_loss"] == pytest.approx(best["calibrated_loss"], rel=1e-5)
    assert result.metrics["eval"]["accuracy"] == best["accuracy"]


def test_temperature_is_fitted_on_validation_stored_and_used_for_probabilities(mean_pooled, tmp_path):
    root, result = mean_pooled
    meta = json.load(open(os.path.join(result.out, "rewardtrain.json")))
    temperature = meta["calibration"]["temperature"]
    assert meta["calibration"]["fitted_on"] == "validation split" and temperature != 1.0
    rm = RewardModel(result.out)
    assert rm.temperature == temperature
    assert rm.preference_probability(2.0, 1.0) == pytest.approx(1 / (1 + np.exp(-1.0 / temperature)))
    report = evaluate_model(rm, str(root / "val.jsonl"))
    assert report["temperature"] == temperature
    # Fitted on these very pairs, the temperature's loss is the best any temperature gives.
    assert report["fitted_temperature"] == pytest.approx(temperature, rel=1e-3)
    rows = [{"prompt": "the dog", "responses": ["a cat thanks", "a cat idiot", "blue sky"]}]
    score_file(rm, write_jsonl(tmp_path / "rows.jsonl", rows), str(tmp_path / "scored.jsonl"))
    scored = json.loads(open(tmp_path / "scored.jsonl").read())
    expected = np.exp(np.array(scored["rewards"]) / temperature)
    np.testing.assert_allclose(scored["p_best"], expected / expected.sum(), rtol=1e-5)


def test_without_eval_data_a_validation_split_is_held_out_by_prompt(tmp_path, tiny_bert):
    result = train(config(tmp_path / "a", tiny_bert, epochs=1))
    t = result.metrics["train"]
    assert t["validation_pairs"] > 0 and t["pairs"] + t["validation_pairs"] == 80
    assert "eval" in result.metrics
    assert json.load(open(os.path.join(result.out, "rewardtrain.json")))["calibration"]["fitted_on"] == "validation split"
    everything = train(config(tmp_path / "b", tiny_bert, epochs=1, val_fraction=0.0))
    assert everything.metrics["train"]["pairs"] == 80 and "eval" not in everything.metrics
    assert json.load(open(os.path.join(everything.out, "rewardtrain.json")))["calibration"]["temperature"] == 1.0


def test_early_stopping_ends_training_when_validation_stops_improving(tmp_path, tiny_bert):
    events = []
    # lr 0: the weights never change, so no evaluation after the first is an improvement.
    result = train(config(tmp_path, tiny_bert, lr=0.0, eval_every=1, early_stopping_patience=2), events.append)
    assert result.steps == 3 and result.metrics["train"]["planned_steps"] > 3
    assert [e["step"] for e in events if e["event"] == "early_stop"] == [3]


def test_length_head_trains_and_the_folder_scores_quality_only(tmp_path, tiny_bert):
    result = train(config(tmp_path, tiny_bert, epochs=1, length_head=True))
    meta = json.load(open(os.path.join(result.out, "rewardtrain.json")))
    assert meta["length_head"]["unit"] == "characters of the response"
    assert RewardModel(result.out).score(["the dog"], ["a cat thanks"]).shape == (1, 1)
