"""Each plot writes a readable PNG, also from the edge cases a fresh run produces."""

import json
import os

import pytest

from rewardtrain.ml.plots import reliability_diagram, reward_histograms, training_curves

PNG = b"\x89PNG\r\n\x1a\n"


def is_png(path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(8) == PNG and os.path.getsize(path) > 2000


def test_reward_histograms_write_a_png(tmp_path):
    reward_histograms([1.0, 2.0, 2.5, 3.0], [0.0, -1.0, 0.5, 1.0], str(tmp_path / "h.png"), title="HH harmless v3")
    assert is_png(tmp_path / "h.png")
    reward_histograms([], [], str(tmp_path / "empty.png"))  # an empty eval set still gives a picture
    assert is_png(tmp_path / "empty.png")


def test_training_curves_from_metrics_json(trained_bert, tmp_path):
    metrics = json.load(open(os.path.join(trained_bert["dir"], "metrics.json")))
    steps = trained_bert["result"].steps
    assert [e["step"] for e in metrics["train_history"]] == list(range(1, steps + 1))
    assert {e["split"] for e in metrics["history"]} == {"eval"}
    training_curves(metrics["history"] + metrics["train_history"], str(tmp_path / "curves.png"))
    assert is_png(tmp_path / "curves.png")


@pytest.mark.parametrize("history", [[], [{"step": 1, "loss": 0.7, "accuracy": None}]])
def test_training_curves_cope_with_little_history(tmp_path, history):
    training_curves(history, str(tmp_path / "c.png"))
    assert is_png(tmp_path / "c.png")


def test_reliability_diagram_writes_a_png(tmp_path):
    table = [{"low": 0.5, "high": 0.55, "confidence": 0.52, "accuracy": 0.5, "n": 10},
             {"low": 0.9, "high": 0.95, "confidence": 0.93, "accuracy": 0.8, "n": 5}]
    reliability_diagram(table, str(tmp_path / "r.png"))
    assert is_png(tmp_path / "r.png")
