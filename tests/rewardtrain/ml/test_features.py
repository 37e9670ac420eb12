import numpy as np
import torch

from rewardtrain.ml import RewardModel
from rewardtrain.ml.features import head_layer

from .conftest import synthetic_rows


def test_features_are_what_the_reward_head_reads(trained_bert):
    rows = synthetic_rows(12, seed=4)
    prompts = [r["prompt"] for r in rows] * 2
    responses = [r["chosen"] for r in rows] + [r["rejected"] for r in rows]
    model = RewardModel(trained_bert["dir"])
    rewards, features = model.features(prompts, responses)
    assert features.shape == (24, 32) and rewards.shape == (24, 1)
    head = head_layer(model.scorer.model)
    with torch.no_grad():
        from_head = head(torch.from_numpy(features)).numpy()
    np.testing.assert_allclose(from_head, rewards, atol=1e-5)
    np.testing.assert_allclose(rewards, model.score(prompts, responses), atol=1e-5)  # same order as score()
    # Distinct texts give distinct features (not one pooled vector broadcast to every row).
    assert np.linalg.matrix_rank(features) > 5


def test_features_of_a_decoder_reward_model(tiny_gpt2, tmp_path):
    from rewardtrain.ml import TrainConfig, train

    from .conftest import write_jsonl

    data = write_jsonl(tmp_path / "t.jsonl", synthetic_rows(8, seed=2))
    train(TrainConfig(data=data, out=str(tmp_path / "m"), model=tiny_gpt2, max_steps=1, max_length=48,
                      batch_tokens=512, save_every=0))
    model = RewardModel(str(tmp_path / "m"))
    rows = synthetic_rows(5, seed=6)
    rewards, features = model.features([r["prompt"] for r in rows], [r["chosen"] for r in rows])
    head = head_layer(model.scorer.model)
    assert head is model.scorer.model.score
    with torch.no_grad():
        np.testing.assert_allclose(head(torch.from_numpy(features)).numpy(), rewards, atol=1e-5)
