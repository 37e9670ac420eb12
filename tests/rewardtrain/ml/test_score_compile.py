"""Scoring through torch.compile is opt-in and can never break scoring: a missing compiler or a
compiled forward that fails leaves the eager path, with the same rewards and a reason to read."""
import numpy as np

from rewardtrain.ml import RewardModel
from rewardtrain.ml import score as score_module

PROMPTS = ["the cat sits", "the dog runs over the tree", "a sky"]
RESPONSES = ["big cat thanks", "the red dog idiot", "blue"]


def test_compile_is_off_unless_asked(trained_bert):
    model = RewardModel(trained_bert["dir"])
    assert model.compiled == "eager (not asked for)"


def test_no_compiler_means_eager_with_a_reason(trained_bert, monkeypatch):
    monkeypatch.setattr(score_module.shutil, "which", lambda name: None)
    model = RewardModel(trained_bert["dir"], device="cpu", compile=True)
    assert model.compiled == "eager (no C/C++ compiler on this host for inductor's CPU kernels)"
    eager = RewardModel(trained_bert["dir"], device="cpu")
    assert np.array_equal(model.score(PROMPTS, RESPONSES), eager.score(PROMPTS, RESPONSES))


def test_a_failing_compiled_forward_falls_back_to_eager_once(trained_bert, monkeypatch):
    calls = []

    def broken(*args):
        calls.append(1)
        raise RuntimeError("inductor: C++ compile error")

    monkeypatch.setattr(score_module, "compile_scorer", lambda scorer, device: (broken, "fake"))
    model = RewardModel(trained_bert["dir"], device="cpu", compile=True)
    assert model.compiled == "fake"
    eager = RewardModel(trained_bert["dir"], device="cpu")
    expected = eager.score(PROMPTS, RESPONSES)
    assert np.array_equal(model.score(PROMPTS, RESPONSES), expected)
    assert model.compiled == "eager (compiled scoring failed: RuntimeError)"
    assert np.array_equal(model.score(PROMPTS, RESPONSES), expected) and len(calls) == 1
