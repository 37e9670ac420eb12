"""Two CPU processes on gloo, as torchrun would start them."""

import hashlib
import os
import socket

import torch
import torch.multiprocessing as mp

from .conftest import synthetic_rows, write_jsonl


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, config_values: dict, report_dir: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank), HF_HUB_OFFLINE="1")
    torch.set_num_threads(1)
    from rewardtrain.ml import TrainConfig, train

    events = []
    result = train(TrainConfig(**config_values), callback=events.append)
    digest = hashlib.sha256()
    for name, tensor in sorted(result.model.state_dict().items()):
        digest.update(name.encode() + tensor.detach().cpu().numpy().tobytes())
    with open(os.path.join(report_dir, f"rank{rank}.txt"), "w") as handle:
        handle.write(f"{digest.hexdigest()} {result.steps} {len(events)}")


def test_two_ranks_end_with_identical_weights_and_one_model_folder(tmp_path, tiny_bert):
    data = write_jsonl(tmp_path / "train.jsonl", synthetic_rows(30, seed=7))
    out = tmp_path / "model"
    config = dict(data=data, eval_data=data, out=str(out), model=tiny_bert, epochs=1, lr=1e-3, max_length=48,
                  batch_tokens=256, save_every=2)
    mp.spawn(_worker, args=(2, _free_port(), config, str(tmp_path)), nprocs=2, join=True)
    reports = [open(tmp_path / f"rank{r}.txt").read().split() for r in range(2)]
    assert reports[0][0] == reports[1][0]  # same weights on both ranks
    assert reports[0][1] == reports[1][1]  # same number of steps
    assert int(reports[0][2]) > 0 and int(reports[1][2]) == 0  # only rank 0 reports progress
    assert sorted(os.listdir(out)) == sorted([
        "config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "rewardtrain.json",
        "metrics.json", "reliability.png"])
    import json

    metrics = json.load(open(out / "metrics.json"))
    assert metrics["train"]["world_size"] == 2 and metrics["eval"]["pairs"] == 30
