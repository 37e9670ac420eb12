"""benchmarks/active_learning.py runs each pool in its own process: the child must run the same experiment."""

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "active_learning.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("active_learning_bench", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_child_process_gets_every_setting_of_the_parent(bench):
    parent = bench.build_parser().parse_args(
        ["--seeds", "4", "--first-seed", "2", "--strategies", "random,dopt", "--lr", "0.0003", "--batch", "40",
         "--train-layers", "2", "--epsilon", "0.25", "--candidates", "99", "--threads", "2", "--pool-size", "500"])
    parent.strategies = parent.strategies.split(",")
    argv = bench.child_argv(parent, "mixed")
    assert argv[1] == str(SCRIPT)
    child = bench.build_parser().parse_args(argv[2:])
    assert (child.pools, child.json, child.jobs, child.plot) == ("mixed", True, 1, "")
    for name, value in vars(parent).items():
        if name in {"pools", "json", "jobs", "plot", "merge"}:
            continue
        got = getattr(child, name)
        assert (got.split(",") if name == "strategies" else got) == value, name


def test_defaults_are_the_full_experiment(bench):
    args = bench.build_parser().parse_args([])
    assert (args.seeds, args.pools, args.pool_size, args.eval_size) == (3, "hh,mixed", 0, 0)
    assert args.initial + args.rounds * args.batch >= 300  # enough labels for random's curve to rise
