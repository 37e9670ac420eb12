"""Other architectures AutoModelForSequenceClassification supports: tiny random RoBERTa and
DeBERTa-v2 encoders (with the MiniLM tokenizer, so RoBERTa gets two token types), Llama and
Qwen2 decoders (pad == eos). Each trains, saves, and scores in one
padded batch exactly as plain transformers scores the texts one at a time."""
import pytest
import torch

from rewardtrain.ml import RewardModel, TrainConfig, train

from .conftest import EOS, gpt2_tokenizer, synthetic_rows, write_jsonl
from .test_model_folder import plain_hf_scores

PROMPTS = ["the cat sits", f"a dog {EOS} runs over the big tree", "red"]
RESPONSES = ["blue sky thanks", "slow", "the small dog sits under the tree"]


def _encoder(kind, tokenizer):
    from transformers import DebertaV2Config, DebertaV2Model, RobertaConfig, RobertaModel

    common = dict(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                  intermediate_size=64, pad_token_id=tokenizer.pad_token_id)
    if kind == "roberta":
        return RobertaModel(RobertaConfig(max_position_embeddings=160, type_vocab_size=2, **common))
    return DebertaV2Model(DebertaV2Config(max_position_embeddings=128, **common))


def _decoder(kind, tokenizer):
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

    common = dict(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                  num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=128,
                  pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
    return (LlamaForCausalLM(LlamaConfig(**common)) if kind == "llama"
            else Qwen2ForCausalLM(Qwen2Config(**common)))


@pytest.mark.parametrize("kind", ["roberta", "deberta-v2", "llama", "qwen2"])
def test_backbone_trains_saves_and_scores_like_plain_transformers(kind, tmp_path, minilm_tokenizer):
    torch.manual_seed(0)
    decoder = kind in ("llama", "qwen2")
    tokenizer = gpt2_tokenizer() if decoder else minilm_tokenizer
    backbone = (_decoder if decoder else _encoder)(kind, tokenizer)
    base = tmp_path / "base"
    backbone.save_pretrained(base)
    tokenizer.save_pretrained(base)
    out = tmp_path / "model"
    train(TrainConfig(data=write_jsonl(tmp_path / "train.jsonl", synthetic_rows(24, seed=4)), out=str(out),
                      model=str(base), epochs=1, lr=1e-3, max_length=64, batch_tokens=512, save_every=0))

    batched = RewardModel(str(out)).score(PROMPTS, RESPONSES)[:, 0].tolist()
    texts = [(p + " " + r,) for p, r in zip(PROMPTS, RESPONSES)] if decoder else list(zip(PROMPTS, RESPONSES))
    assert batched == pytest.approx(plain_hf_scores(str(out), texts), abs=1e-4)
