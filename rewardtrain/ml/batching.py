"""Token-budget, length-grouped batches of whole groups, and the collator that dedupes texts.

Speed on any hardware comes from three things done here:
* every distinct (prompt, response) text is tokenized once for the whole run and encoded once
  per batch, however many comparisons use it (k-way groups, repeated pairs);
* all responses of a batch go through the model in one forward pass;
* groups of similar length share a batch and a batch is capped by padded tokens
  (rows x longest row), so little compute is spent on padding.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .data import Group
from .formatting import Formatter


@dataclass
class EncodedData:
    """Groups with their texts tokenized, each distinct (prompt, response) stored once."""

    groups: list[Group]
    ids: list[list[int]]  # per distinct text
    types: list[list[int] | None]
    group_texts: list[list[int]]  # per group: index into ``ids`` of each response
    group_len: np.ndarray  # per group: its longest text, for length grouping

    @property
    def n_pairs(self) -> int:
        return sum(len(g.pairs) for g in self.groups)


def encode_groups(groups: list[Group], formatter: Formatter) -> EncodedData:
    key_index: dict[tuple[str, str], int] = {}
    group_texts = []
    for group in groups:
        indices = []
        for response in group.responses:
            indices.append(key_index.setdefault((group.prompt, response), len(key_index)))
        group_texts.append(indices)
    keys = list(key_index)
    encoded = formatter.encode([p for p, _ in keys], [r for _, r in keys])
    ids = [e[0] for e in encoded]
    types = [e[1] for e in encoded]
    lengths = np.array([len(i) for i in ids])
    group_len = np.array([lengths[t].max() for t in group_texts])
    return EncodedData(groups, ids, types, group_texts, group_len)


def length_grouped_batches(
    data: EncodedData,
    batch_tokens: int,
    seed: int,
    epoch: int,
    max_batch_pairs: int | None = None,
) -> list[list[int]]:
    """Batches of group indices; the same (seed, epoch) always gives the same batches.

    Groups are shuffled, then sorted by length inside large chunks (so batches are homogeneous
    in length but still differ between epochs), packed greedily under the token budget, and the
    batches are shuffled so long and short ones are interleaved.  A single group larger than the
    budget gets a batch of its own: all pairs of a prompt are always in one step.
    """
    rng = np.random.default_rng([seed, epoch])
    n = len(data.groups)
    order = rng.permutation(n)
    mean_cost = float(np.mean([data.group_len[g] * len(data.group_texts[g]) for g in range(n)]))
    per_batch = max(1, int(batch_tokens / mean_cost))
    chunk = max(64, 50 * per_batch)
    batches: list[list[int]] = []
    for start in range(0, n, chunk):
        part = order[start : start + chunk]
        part = part[np.argsort(-data.group_len[part], kind="stable")]
        current: list[int] = []
        rows = pairs = longest = 0
        for g in part.tolist():
            g_rows, g_pairs, g_len = len(data.group_texts[g]), len(data.groups[g].pairs), int(data.group_len[g])
            over_tokens = (rows + g_rows) * max(longest, g_len) > batch_tokens
            over_pairs = max_batch_pairs is not None and pairs + g_pairs > max_batch_pairs
            if current and (over_tokens or over_pairs):
                batches.append(current)
                current, rows, pairs, longest = [], 0, 0, 0
            current.append(g)
            rows, pairs, longest = rows + g_rows, pairs + g_pairs, max(longest, g_len)
        if current:
            batches.append(current)
    return [batches[i] for i in rng.permutation(len(batches))]


def shard(batches: list[list[int]], rank: int, world: int) -> list[list[int]]:
    """This rank's batches; the list is padded by wrapping so every rank takes the same steps."""
    if world == 1:
        return batches
    total = -(-len(batches) // world) * world
    padded = batches + batches[: total - len(batches)]
    return padded[rank::world]


@dataclass
class Batch:
    input_ids: torch.Tensor  # (texts, length), right padded
    attention_mask: torch.Tensor
    token_type_ids: torch.Tensor | None
    better: torch.Tensor  # (pairs,) row in input_ids of the preferred response
    worse: torch.Tensor
    tie: torch.Tensor  # bool
    margin: torch.Tensor
    weight: torch.Tensor
    head: torch.Tensor  # output index to compare on
    text_index: list[int]  # EncodedData text of each row (the length head looks up lengths by it)

    def to(self, device) -> "Batch":
        moved = {
            k: (v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v) for k, v in vars(self).items()
        }
        return Batch(**moved)


def pad_rows(ids: list[list[int]], types: list[list[int] | None], pad_id: int):
    longest = max(len(i) for i in ids)
    input_ids = torch.full((len(ids), longest), pad_id, dtype=torch.long)
    mask = torch.zeros((len(ids), longest), dtype=torch.long)
    token_types = torch.zeros((len(ids), longest), dtype=torch.long) if types and types[0] is not None else None
    for row, seq in enumerate(ids):
        input_ids[row, : len(seq)] = torch.tensor(seq)
        mask[row, : len(seq)] = 1
        if token_types is not None:
            token_types[row, : len(seq)] = torch.tensor(types[row])
    return input_ids, mask, token_types


def collate(data: EncodedData, group_ids: list[int], pad_id: int, head_of: dict[str | None, int]) -> Batch:
    """One forward's worth of inputs; identical texts across the batch become one row."""
    row_of: dict[int, int] = {}
    better, worse, tie, margin, weight, head = [], [], [], [], [], []
    for g in group_ids:
        group, texts = data.groups[g], data.group_texts[g]
        rows = [row_of.setdefault(t, len(row_of)) for t in texts]
        for (i, j), is_tie, m in zip(group.pairs, group.ties, group.margins):
            better.append(rows[i])
            worse.append(rows[j])
            tie.append(is_tie)
            margin.append(m)
            weight.append(group.pair_weight)
            head.append(head_of.get(group.criterion, 0))
    text_index = list(row_of)
    input_ids, mask, token_types = pad_rows([data.ids[t] for t in text_index], [data.types[t] for t in text_index], pad_id)
    return Batch(
        input_ids=input_ids,
        attention_mask=mask,
        token_type_ids=token_types,
        better=torch.tensor(better),
        worse=torch.tensor(worse),
        tie=torch.tensor(tie, dtype=torch.bool),
        margin=torch.tensor(margin, dtype=torch.float32),
        weight=torch.tensor(weight, dtype=torch.float32),
        head=torch.tensor(head),
        text_index=text_index,
    )


def inference_batches(lengths: list[int], batch_tokens: int) -> list[list[int]]:
    """Length-sorted batches for scoring: order does not matter there, padding does."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches, current, longest = [], [], 0
    for i in order:
        if current and (len(current) + 1) * max(longest, lengths[i]) > batch_tokens:
            batches.append(current)
            current, longest = [], 0
        current.append(i)
        longest = max(longest, lengths[i])
    if current:
        batches.append(current)
    return batches
