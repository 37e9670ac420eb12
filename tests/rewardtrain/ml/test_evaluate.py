"""Length baselines, length correlation and per-comparison rewards on rows with known answers."""

import numpy as np
import pytest

from rewardtrain.ml import evaluate_model, score_texts
from rewardtrain.ml.batching import encode_groups
from rewardtrain.ml.data import load_groups
from rewardtrain.ml.evaluate import pair_metrics
from rewardtrain.ml.formatting import Formatter, InputFormat

from .conftest import synthetic_rows, write_jsonl

ROWS = [
    {"prompt": "p1", "chosen": "a long answer", "rejected": "short"},  # longer chosen
    {"prompt": "p2", "chosen": "the longest answer", "rejected": "brief"},  # longer chosen
    {"prompt": "p3", "chosen": "ok", "rejected": "a rambling reply"},  # shorter chosen
    {"prompt": "p4", "chosen": "abcd", "rejected": "wxyz"},  # equal length: neither rule is right
    {"prompt": "p5", "chosen": "x", "rejected": "a much longer one", "tie": True},  # ties are not judged
]


def encoded(tmp_path, tokenizer, rows=ROWS):
    groups = load_groups(write_jsonl(tmp_path / "rows.jsonl", rows))
    return encode_groups(groups, Formatter(tokenizer, InputFormat(kind="pair", max_length=64, last_token_pooling=False)))


def length_scores(data, sign=1.0):
    """A "model" whose reward is the response length in characters (times ``sign``)."""
    scores = np.zeros((len(data.ids), 1), dtype=np.float32)
    for group, texts in zip(data.groups, data.group_texts):
        for response, t in zip(group.responses, texts):
            scores[t, 0] = sign * len(response)
    return scores


def test_longer_and_shorter_wins_count_equal_lengths_as_wrong(tmp_path, minilm_tokenizer):
    data = encoded(tmp_path, minilm_tokenizer)
    metrics = pair_metrics(length_scores(data), data, ["overall"])
    assert metrics["longer_wins"] == pytest.approx(2 / 4)
    assert metrics["shorter_wins"] == pytest.approx(1 / 4)
    # A pure length detector scores exactly the "longer wins" baseline and correlates perfectly.
    assert metrics["accuracy"] == metrics["longer_wins"]
    assert metrics["length_correlation"] == pytest.approx(1.0)
    flipped = pair_metrics(length_scores(data, -1.0), data, ["overall"])
    assert flipped["accuracy"] == flipped["shorter_wins"] and flipped["length_correlation"] == pytest.approx(-1.0)


def test_rewards_per_comparison_only_when_asked(tmp_path, minilm_tokenizer):
    data = encoded(tmp_path, minilm_tokenizer)
    assert "chosen_rewards" not in pair_metrics(length_scores(data), data, ["overall"])
    metrics = pair_metrics(length_scores(data), data, ["overall"], return_rewards=True)
    assert metrics["chosen_rewards"] == [len(r["chosen"]) for r in ROWS]
    assert metrics["rejected_rewards"] == [len(r["rejected"]) for r in ROWS]


def test_evaluate_model_returns_the_rewards_it_scored_and_draws_histograms(trained_bert, tmp_path):
    rows = synthetic_rows(6, seed=21)
    path = write_jsonl(tmp_path / "e.jsonl", rows)
    report = evaluate_model(trained_bert["dir"], path, return_rewards=True, histogram=str(tmp_path / "h.png"))
    prompts = [r["prompt"] for r in rows]
    assert report["chosen_rewards"] == pytest.approx(score_texts(trained_bert["dir"], prompts, [r["chosen"] for r in rows]), abs=1e-5)
    assert report["rejected_rewards"] == pytest.approx(score_texts(trained_bert["dir"], prompts, [r["rejected"] for r in rows]), abs=1e-5)
    assert open(tmp_path / "h.png", "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    assert report["precision"] == "fp32"  # CPU scoring matches plain transformers
    plain = evaluate_model(trained_bert["dir"], path, histogram=str(tmp_path / "h2.png"))
    assert "chosen_rewards" not in plain and 0 <= plain["longer_wins"] <= 1
