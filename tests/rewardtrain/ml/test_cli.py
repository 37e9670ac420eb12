import json
import os
import subprocess
import sys

import pytest

from rewardtrain.ml.cli import main

from .conftest import synthetic_rows, write_jsonl

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def test_train_evaluate_score_round_trip(tmp_path, tiny_bert, capsys):
    train_file = write_jsonl(tmp_path / "train.jsonl", synthetic_rows(24, seed=4))
    out = tmp_path / "model"
    assert main(["train", "--data", train_file, "--eval", train_file, "--model", tiny_bert, "--out", str(out),
                 "--max-length", "48", "--batch-tokens", "512", "--lr", "1e-3", "--quiet"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["train"]["pairs"] == 24 and "accuracy" in report["eval"]

    assert main(["evaluate", "--model", str(out), "--data", train_file]) == 0
    assert json.loads(capsys.readouterr().out)["pairs"] == 24

    score_in = write_jsonl(tmp_path / "s.jsonl", [{"prompt": "p", "response": "a", "id": 1}, {"prompt": "p", "chosen": "a", "rejected": "b"}])
    assert main(["score", "--model", str(out), "--data", score_in, "--out", str(tmp_path / "scores.jsonl")]) == 0
    scored = [json.loads(line) for line in open(tmp_path / "scores.jsonl")]
    assert scored[0]["id"] == 1 and len(scored[0]["rewards"]) == 1 and len(scored[1]["rewards"]) == 2
    assert scored[0]["rewards"][0] == pytest.approx(scored[1]["rewards"][0], abs=1e-5)  # same text, same reward
    assert "rewards_normalized" in scored[0]


@pytest.mark.parametrize(
    "rows, expected",
    [
        (None, "missing.jsonl: file not found"),
        (['{"prompt": "p", "chosen": "c", "rejected": "r"}', "{not json"], "data.jsonl:2: invalid JSON"),
        (['{"prompt": "p", "rejected": "r"}'], "data.jsonl:1: field 'chosen': missing"),
    ],
)
def test_bad_input_exits_2_with_file_line_field_and_no_traceback(tmp_path, tiny_bert, rows, expected):
    data = str(tmp_path / "missing.jsonl") if rows is None else write_jsonl(tmp_path / "data.jsonl", rows)
    proc = subprocess.run(
        [sys.executable, "-m", "rewardtrain.ml", "train", "--data", data, "--model", tiny_bert, "--out", str(tmp_path / "o")],
        capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": ROOT},
    )
    assert proc.returncode == 2
    assert expected in proc.stderr
    assert "Traceback" not in proc.stderr


def test_evaluate_rejects_a_folder_that_is_not_a_model(tmp_path, capsys):
    data = write_jsonl(tmp_path / "d.jsonl", synthetic_rows(2))
    assert main(["evaluate", "--model", str(tmp_path), "--data", data]) == 2
    assert "not a model folder" in capsys.readouterr().err
