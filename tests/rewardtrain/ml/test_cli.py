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
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["train"]["pairs"] == 24 and "accuracy" in report["eval"]
    # Each evaluation line puts length beside accuracy (issue 13).
    eval_line = next(line for line in captured.err.splitlines() if line.startswith("[eval step"))
    assert "length_r=" in eval_line and "longer_wins=" in eval_line and "shorter_wins=" in eval_line

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


def parse_train(*flags):
    from rewardtrain.ml.cli import _parser, config_from_args

    return config_from_args(_parser().parse_args(["train", "--data", "d.jsonl", "--out", "o", *flags]))


def test_train_options_come_from_the_config_fields_with_the_same_defaults():
    import dataclasses

    from rewardtrain.ml import TrainConfig

    # Nothing given: the dataclass defaults, except that the command line shows a progress bar.
    assert parse_train() == TrainConfig(data="d.jsonl", out="o", progress_bar=True)
    config = parse_train("--eval", "v.jsonl", "--no-resume", "--no-bf16", "--quiet", "--max-steps", "3",
                         "--max-grad-norm", "none", "--criteria", "helpful", "harmless", "--no-disable-dropout",
                         "--tie-loss", "davidson", "--lr", "1e-4", "--criterion-heads")
    assert (config.eval_data, config.resume, config.bf16, config.progress_bar, config.max_steps) == ("v.jsonl", False, False, False, 3)
    assert (config.max_grad_norm, config.criteria, config.disable_dropout) == (None, ["helpful", "harmless"], False)
    assert (config.tie_loss, config.lr, config.criterion_heads) == ("davidson", 1e-4, True)
    assert parse_train("--eval-data", "v.jsonl").eval_data == "v.jsonl"
    assert all(f.metadata.get("help") for f in dataclasses.fields(TrainConfig))  # every option is explained


@pytest.mark.parametrize("flags", [["--tie-loss", "hinge"], ["--lr", "fast"], ["--max-steps", "1.5"]])
def test_bad_option_values_exit_2(flags, capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse_train(*flags)
    assert exit_info.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_train_prints_the_precision_it_chose(tmp_path, tiny_bert, capsys, monkeypatch):
    from rewardtrain.ml import hardware

    (tmp_path / "cpuinfo").write_text("processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512bw avx512vl\n")
    monkeypatch.setattr(hardware, "CPUINFO", str(tmp_path / "cpuinfo"))
    train_file = write_jsonl(tmp_path / "train.jsonl", synthetic_rows(8, seed=4))
    assert main(["train", "--data", train_file, "--model", tiny_bert, "--out", str(tmp_path / "m"), "--max-length", "48",
                 "--batch-tokens", "512", "--max-steps", "1", "--quiet"]) == 0
    captured = capsys.readouterr()
    assert "precision: fp32 (no native bf16 on this CPU)" in captured.err
    assert json.loads(captured.out)["train"]["precision"] == "fp32"
