import json
import os

import pytest
import torch

from rewardtrain.ml import TrainConfig, evaluate_model, train

from .conftest import BAD, GOOD, synthetic_rows, write_jsonl


def test_training_learns_the_preference_and_reports_it(trained_bert):
    result = trained_bert["result"]
    metrics = json.load(open(os.path.join(trained_bert["dir"], "metrics.json")))
    assert metrics["eval"]["accuracy"] >= 0.9
    assert metrics["train"]["pairs"] == 96 and metrics["train"]["steps"] == result.steps
    assert len(metrics["history"]) == 4 and metrics["history"][-1]["step"] == result.steps  # once per epoch
    with open(os.path.join(trained_bert["dir"], "reliability.png"), "rb") as handle:
        assert handle.read(8) == b"\x89PNG\r\n\x1a\n"


def test_evaluate_model_reports_every_metric(trained_bert, tmp_path):
    rows = synthetic_rows(20, seed=9)
    for i, row in enumerate(rows):
        row["margin"] = i % 3
        row["criterion"] = "helpful" if i % 2 else None
    rows.append({"prompt": "the dog", "chosen": "blue sky", "rejected": "red sky", "tie": True})
    report = evaluate_model(trained_bert["dir"], write_jsonl(tmp_path / "e.jsonl", rows), diagram=str(tmp_path / "r.png"))
    assert report["pairs"] == 21 and report["tie_pairs"] == 1
    assert set(report["accuracy_by_strength"]) == {"0", "1", "2"}
    assert set(report["accuracy_by_criterion"]) == {"helpful", "overall"}
    assert sum(b["pairs"] for b in report["accuracy_by_strength"].values()) == 20
    assert 0 <= report["ece"] <= 1 and report["reliability"]
    for key in ("loss", "reward_mean", "reward_std", "length_correlation", "tie_mean_abs_difference"):
        assert isinstance(report[key], float), key
    assert os.path.getsize(tmp_path / "r.png") > 1000


def test_equal_scores_count_as_wrong(trained_bert, tmp_path):
    # chosen == rejected gives identical scores: a tie in scores must not count as a right answer.
    path = write_jsonl(tmp_path / "same.jsonl", [{"prompt": "p", "chosen": "same text", "rejected": "same text"}])
    assert evaluate_model(trained_bert["dir"], path)["accuracy"] == 0.0


def small_config(tmp_path, model, **kw):
    tmp_path.mkdir(parents=True, exist_ok=True)
    data = write_jsonl(tmp_path / "train.jsonl", synthetic_rows(40, seed=5))
    values = dict(data=data, out=str(tmp_path / "out"), model=model, epochs=2, lr=1e-3, max_length=48,
                  batch_tokens=256, save_every=2, seed=3)
    values.update(kw)
    return TrainConfig(**values)


def weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


class Stop(Exception):
    pass


def test_a_killed_run_resumes_from_its_checkpoint_and_ends_identical(tmp_path, tiny_bert):
    full = train(small_config(tmp_path / "a", tiny_bert))
    assert full.steps > 5

    def kill_at_step_5(event):
        if event["event"] == "step" and event["step"] == 5:
            raise Stop

    config = small_config(tmp_path / "b", tiny_bert)
    with pytest.raises(Stop):
        train(config, callback=kill_at_step_5)
    assert os.path.exists(os.path.join(config.checkpoint_path, "state.pt"))
    assert not os.path.exists(os.path.join(config.out, "model.safetensors"))

    resumed = train(config)
    assert resumed.metrics["train"]["resumed_from"] == 4
    a, b = weights(full.model), weights(resumed.model)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not os.path.exists(config.checkpoint_path)  # a finished run leaves no checkpoint behind


def test_grad_accumulation_and_fractional_epochs_plan_the_right_number_of_steps(tmp_path, tiny_bert):
    events = []
    result = train(small_config(tmp_path, tiny_bert, epochs=1, grad_accum=2, max_batch_pairs=4, batch_tokens=4096, save_every=0),
                   events.append)
    # 40 pairs, 4 per micro-batch, 2 micro-batches per step: 5 steps.
    assert result.steps == 5
    steps = [e for e in events if e["event"] == "step"]
    assert [e["step"] for e in steps] == [1, 2, 3, 4, 5]
    assert events[0]["event"] == "start" and events[-1]["event"] == "done"
    half = train(small_config(tmp_path / "half", tiny_bert, epochs=0.5, max_batch_pairs=4, batch_tokens=4096, save_every=0))
    assert half.steps == 5


def test_max_steps_stops_the_plan_however_many_epochs_are_asked(tmp_path, tiny_bert):
    import signal

    def too_slow(*_):
        raise AssertionError("planning 1e12 epochs for a 2-step run did not stop")

    previous = signal.signal(signal.SIGALRM, too_slow)
    signal.alarm(120)
    try:
        result = train(small_config(tmp_path, tiny_bert, epochs=1e12, max_steps=2, save_every=0))
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert result.steps == 2


def test_criterion_heads_learn_opposite_preferences(tmp_path, tiny_bert):
    # "helpful" prefers GOOD over BAD, "harmless" prefers "safe" over "harm"; on half the rows
    # the two disagree, so one shared output could not get both criteria right.
    rows = []
    for i, row in enumerate(synthetic_rows(64, seed=11)):
        a, b = row["chosen"].replace(GOOD, ""), row["rejected"].replace(BAD, "")
        if i % 2:
            first, second = f"{a} {GOOD} safe", f"{b} {BAD} harm"  # both criteria prefer first
            rows.append({"prompt": row["prompt"], "chosen": first, "rejected": second, "criterion": "helpful"})
            rows.append({"prompt": row["prompt"], "chosen": first, "rejected": second, "criterion": "harmless"})
        else:
            first, second = f"{a} {GOOD} harm", f"{b} {BAD} safe"  # they disagree
            rows.append({"prompt": row["prompt"], "chosen": first, "rejected": second, "criterion": "helpful"})
            rows.append({"prompt": row["prompt"], "chosen": second, "rejected": first, "criterion": "harmless"})
    data = write_jsonl(tmp_path / "crit.jsonl", rows)
    config = TrainConfig(data=data, eval_data=data, out=str(tmp_path / "m"), model=tiny_bert, epochs=12, lr=3e-3,
                         max_length=48, batch_tokens=1024, criterion_heads=True, save_every=0)
    result = train(config)
    assert result.model.config.num_labels == 3
    assert json.load(open(tmp_path / "m" / "rewardtrain.json"))["heads"] == ["overall", "harmless", "helpful"]
    by_criterion = result.metrics["eval"]["accuracy_by_criterion"]
    assert by_criterion["helpful"]["accuracy"] >= 0.9 and by_criterion["harmless"]["accuracy"] >= 0.9


def test_ties_and_kway_groups_train_together(tmp_path, tiny_bert):
    rows = []
    for row in synthetic_rows(40, seed=12):
        rows.append({"prompt": row["prompt"], "ranking": [[row["chosen"]], [row["rejected"] + " dog", row["rejected"]]]})
    data = write_jsonl(tmp_path / "kway.jsonl", rows)
    result = train(TrainConfig(data=data, eval_data=data, out=str(tmp_path / "m"), model=tiny_bert, epochs=6, lr=3e-3,
                               max_length=48, batch_tokens=1024, save_every=0))
    metrics = result.metrics["eval"]
    assert metrics["pairs"] == 120 and metrics["tie_pairs"] == 40
    assert metrics["accuracy"] >= 0.9
    # Tied responses end up much closer together than the mean reward spread.
    assert metrics["tie_mean_abs_difference"] < metrics["reward_std"]


def test_rows_longer_than_max_length_are_trained_not_dropped(tmp_path, tiny_bert):
    rows = synthetic_rows(12, seed=13)
    for row in rows:
        row["prompt"] = " ".join([row["prompt"]] * 10)  # at least 30 words: beyond max_length 24
    events = []
    result = train(small_config(tmp_path, tiny_bert, max_length=24, batch_tokens=256, epochs=1, save_every=0, val_fraction=0.0,
                                data=write_jsonl(tmp_path / "long.jsonl", rows)), events.append)
    assert result.metrics["train"]["pairs"] == 12
    assert result.metrics["train"]["truncated_prompts"] == 24  # chosen and rejected of every row
    assert events[0]["truncated_prompts"] == 24  # and the caller is told before training starts
