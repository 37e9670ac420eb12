import numpy as np
import pytest

from rewardtrain.ml.batching import collate, encode_groups, length_grouped_batches, shard
from rewardtrain.ml.data import Group
from rewardtrain.ml.formatting import Formatter, InputFormat

from .conftest import synthetic_rows


def pair(prompt, chosen, rejected, **kw):
    return Group(prompt=prompt, responses=[chosen, rejected], pairs=[(0, 1)], ties=[False], margins=[0.0], **kw)


@pytest.fixture
def formatter(minilm_tokenizer):
    return Formatter(minilm_tokenizer, InputFormat("pair", 64, last_token_pooling=False))


def encoded_synthetic(formatter, n=200):
    return encode_groups([pair(r["prompt"] * (1 + i % 4), r["chosen"], r["rejected"]) for i, r in enumerate(synthetic_rows(n))], formatter)


def test_batches_cover_every_group_once_within_the_token_budget(formatter):
    data = encoded_synthetic(formatter)
    batches = length_grouped_batches(data, batch_tokens=512, seed=0, epoch=0)
    flat = sorted(g for b in batches for g in b)
    assert flat == list(range(len(data.groups)))
    for batch in batches:
        rows = sum(len(data.group_texts[g]) for g in batch)
        assert rows * max(data.group_len[g] for g in batch) <= 512
    assert batches == length_grouped_batches(data, 512, seed=0, epoch=0)  # deterministic
    assert batches != length_grouped_batches(data, 512, seed=0, epoch=1)  # reshuffled per epoch


def test_length_grouping_pads_far_less_than_random_batches(formatter):
    data = encoded_synthetic(formatter)
    batches = length_grouped_batches(data, batch_tokens=512, seed=0, epoch=0)

    def padded(batch):
        return sum(len(data.group_texts[g]) for g in batch) * max(data.group_len[g] for g in batch)

    real = sum(len(data.ids[t]) for texts in data.group_texts for t in texts)
    grouped = sum(padded(b) for b in batches)
    order = np.random.default_rng(0).permutation(len(data.groups))
    size = int(np.mean([len(b) for b in batches]))
    random = sum(padded(order[i : i + size]) for i in range(0, len(order), size))
    assert grouped - real < 0.5 * (random - real)


def test_pair_cap_limits_comparisons_per_batch(formatter):
    data = encoded_synthetic(formatter, 50)
    batches = length_grouped_batches(data, batch_tokens=100_000, seed=0, epoch=0, max_batch_pairs=8)
    assert max(len(b) for b in batches) == 8


def test_identical_texts_are_encoded_once_per_batch(formatter):
    groups = [
        pair("p", "good", "bad"),
        pair("p", "good", "worse"),  # same (prompt, chosen) as above
        Group(prompt="q", responses=["a", "b", "c"], pairs=[(0, 1), (0, 2), (1, 2)], ties=[False, False, True], margins=[0, 0, 0]),
    ]
    data = encode_groups(groups, formatter)
    batch = collate(data, [0, 1, 2], formatter.pad_id, head_of={})
    assert batch.input_ids.shape[0] == 6  # p/good, p/bad, p/worse, q/a, q/b, q/c
    texts = [formatter.tokenizer.decode(batch.input_ids[i], skip_special_tokens=True) for i in range(6)]
    assert [(texts[b], texts[w]) for b, w in zip(batch.better.tolist(), batch.worse.tolist())] == [
        ("p good", "p bad"), ("p good", "p worse"), ("q a", "q b"), ("q a", "q c"), ("q b", "q c")]
    assert batch.tie.tolist() == [False, False, False, False, True]
    # Each comparison of the 3-way group weighs 1/3, so the group counts like one pair.
    assert batch.weight.tolist() == pytest.approx([1, 1, 1 / 3, 1 / 3, 1 / 3])


def test_every_rank_gets_the_same_number_of_batches():
    batches = [[i] for i in range(7)]
    parts = [shard(batches, rank, 2) for rank in range(2)]
    assert len(parts[0]) == len(parts[1]) == 4
    assert {b[0] for p in parts for b in p} == set(range(7))  # padding repeats, never drops
