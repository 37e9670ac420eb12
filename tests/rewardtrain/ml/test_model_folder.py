"""The saved folder is a plain Hugging Face model that gives the same scores as our scorer."""

import json
import os

import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from rewardtrain.ml import RewardModel, TrainConfig, score_texts, train

from .conftest import EOS, synthetic_rows, write_jsonl

PROMPTS = ["the cat sits", "a dog runs over the big tree and the sky is blue", "red"]
RESPONSES = ["blue sky thanks", "slow", "the small dog sits under the tree idiot"]


def plain_hf_scores(folder, texts):
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    with torch.no_grad():  # one text at a time: no padding, nothing for pooling to get wrong
        return [model(**tokenizer(*t, return_tensors="pt")).logits[0, 0].item() for t in texts]


def test_encoder_folder_loads_with_plain_transformers_and_scores_the_same(trained_bert):
    folder = trained_bert["dir"]
    for name in ("config.json", "model.safetensors", "tokenizer_config.json", "rewardtrain.json", "metrics.json"):
        assert os.path.exists(os.path.join(folder, name)), name
    ours = score_texts(folder, PROMPTS, RESPONSES)
    assert ours == pytest.approx(plain_hf_scores(folder, list(zip(PROMPTS, RESPONSES))), abs=1e-5)


def test_normalization_is_the_reward_mean_and_std_on_training_data(trained_bert):
    folder = trained_bert["dir"]
    with open(os.path.join(folder, "rewardtrain.json")) as handle:
        meta = json.load(handle)
    assert meta["format"]["kind"] == "pair" and meta["heads"] == ["overall"]
    rows = [json.loads(line) for line in open(trained_bert["train"])]
    prompts = [r["prompt"] for r in rows for _ in (0, 1)]
    responses = [r[k] for r in rows for k in ("chosen", "rejected")]
    raw = torch.tensor(score_texts(folder, prompts, responses))
    assert meta["normalization"]["mean"][0] == pytest.approx(raw.mean().item(), abs=1e-4)
    assert meta["normalization"]["std"][0] == pytest.approx(raw.std(unbiased=False).item(), abs=1e-4)
    normalized = torch.tensor(score_texts(folder, prompts, responses, normalize=True))
    assert normalized.mean().item() == pytest.approx(0.0, abs=1e-3)


@pytest.fixture(scope="module")
def trained_gpt2(tmp_path_factory, tiny_gpt2):
    root = tmp_path_factory.mktemp("trained_gpt2")
    config = TrainConfig(
        data=write_jsonl(root / "train.jsonl", synthetic_rows(48, seed=3)), out=str(root / "model"), model=tiny_gpt2,
        epochs=1, lr=1e-3, max_length=64, batch_tokens=512, save_every=0,
    )
    train(config)
    return str(root / "model")


def test_decoder_with_pad_equal_to_eos_is_scored_at_the_last_real_token(trained_gpt2):
    tokenizer = AutoTokenizer.from_pretrained(trained_gpt2)
    assert tokenizer.pad_token_id == tokenizer.eos_token_id
    # eos inside the prompt (a multi-turn transcript) and at the end of a response: a scorer that
    # looks for "the first pad token" or reads the padded end of a batch would get these wrong.
    prompts = [f"the cat {EOS} a dog", "sky", f"blue {EOS} red tree over the big dog"]
    responses = ["runs thanks", f"slow {EOS}", "sits"]
    batched = RewardModel(trained_gpt2).score(prompts, responses)[:, 0].tolist()  # one padded batch
    texts = [(p + " " + r,) for p, r in zip(prompts, responses)]
    assert batched == pytest.approx(plain_hf_scores(trained_gpt2, texts), abs=1e-5)

    model = AutoModelForSequenceClassification.from_pretrained(trained_gpt2).eval()
    last_real = model(**tokenizer("sky slow", return_tensors="pt")).logits[0, 0].item()
    assert batched[1] == pytest.approx(last_real, abs=1e-5)  # trailing eos carries no content
