"""From selected pairs to snapshot rows: votes grouped by comparison (one streaming query), then one
row per vote (every) or one per comparison (majority; weighted by gold reliability; weighted by
Dawid–Skene reliability, fitted on every annotator's answers without gold; or adjudicated: a project
admin's verdict on the task where there is one, else the majority); the train/val split by prompt;
annotator pseudonyms."""
import hashlib
import hmac
import json
from collections.abc import Iterator
from functools import lru_cache

from django.conf import settings
from django.db.models.functions import Greatest, Least

from annotation.models import Adjudication, Project
from annotation.quality.annotators import dawid_skene_reliability
from annotation.selectors.gold import gold_reliability
from annotation.selectors.pairs import pairs_filter
from rewardtrain.models import DatasetSnapshot

from .filters import SnapshotFilters

Aggregation = DatasetSnapshot.Aggregation


ITERATOR_CHUNK = 2_000


# Reliability of a vote whose annotator has answered no gold tasks (and of imported votes):
# the mean of a uniform prior, so unknown voters neither dominate nor vanish.
PRIOR_RELIABILITY = 0.5


def annotator_pseudonym(user_id: int | None) -> str | None:
    """Stable per installation, not reversible without SECRET_KEY: exports never carry user ids."""
    return None if user_id is None else _pseudonym(settings.SECRET_KEY, user_id)


@lru_cache(maxsize=4096)
def _pseudonym(secret: str, user_id: int) -> str:
    digest = hmac.new(secret.encode(), f"verdict-annotator:{user_id}".encode(), hashlib.sha256)
    return "a_" + digest.hexdigest()[:16]


def split_of(*, prompt_hash: str, seed: int, val_fraction: float) -> str:
    """train or val, decided by the prompt alone, so no prompt lands on both sides."""
    digest = hashlib.sha256(f"{seed}:{prompt_hash}".encode()).digest()
    return "val" if int.from_bytes(digest[:8], "big") / 2**64 < val_fraction else "train"


_FIELDS = [
    "id", "prompt_id", "prompt__text", "prompt__messages", "prompt__content_hash", "chosen_id", "chosen__text",
    "rejected_id", "rejected__text", "margin", "strength", "criterion", "is_tie", "source", "weight",
    "judgement_id", "judgement__task_id", "annotator_id", "judgement__annotator_id", "judgement__display_order",
    "judgement__duration_ms", "judgement__rubric__version", "batch_id", "created_at", "provenance",
]


def pairs_selected(*, project: Project, filters: SnapshotFilters):
    """The pairs the filters select: the same query the pairs API lists with."""
    return pairs_filter(project=project, criteria=filters.criteria, sources=filters.sources, since=filters.since,
                        until=filters.until, batch_ids=filters.batch_ids, exclude_gold=filters.exclude_gold,
                        exclude_annotator_ids=filters.exclude_annotator_ids)


def _votes_grouped(qs) -> Iterator[list[dict]]:
    ordered = qs.annotate(lo=Least("chosen_id", "rejected_id"), hi=Greatest("chosen_id", "rejected_id")).order_by(
        "prompt__content_hash", "criterion", "lo", "hi", "id")
    group, key = [], None
    for row in ordered.values(*_FIELDS, "lo", "hi").iterator(chunk_size=ITERATOR_CHUNK):
        row_key = (row["prompt_id"], row["criterion"], row["lo"], row["hi"])
        if row_key != key and group:
            yield group
            group = []
        key = row_key
        group.append(row)
    if group:
        yield group


def _direction(vote: dict) -> str:
    if vote["is_tie"]:
        return "tie"
    return "forward" if vote["chosen_id"] == vote["lo"] else "backward"


def _iso(value) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def _messages(value) -> list[dict] | None:
    if not value:
        return None
    return [{"role": str(m.get("role", "")), "content": str(m.get("content", ""))} for m in value]


def _base_row(vote: dict, *, split: str) -> dict:
    return {
        "split": split, "prompt_id": vote["prompt_id"], "prompt": vote["prompt__text"],
        "prompt_messages": _messages(vote["prompt__messages"]), "criterion": vote["criterion"],
    }


def _vote_row(vote: dict, *, split: str, agreement: float, votes: int) -> dict:
    annotator = vote["annotator_id"] or vote["judgement__annotator_id"]
    return {
        **_base_row(vote, split=split),
        "chosen_id": vote["chosen_id"], "chosen": vote["chosen__text"],
        "rejected_id": vote["rejected_id"], "rejected": vote["rejected__text"],
        "tie": vote["is_tie"], "margin": vote["margin"], "strength": vote["strength"], "weight": vote["weight"],
        "agreement": agreement, "votes": votes, "source": vote["source"],
        "pair_id": vote["id"], "pair_ids": [vote["id"]], "judgement_id": vote["judgement_id"],
        "task_id": vote["judgement__task_id"], "annotator": annotator_pseudonym(annotator),
        "display_order": vote["judgement__display_order"] or [], "duration_ms": vote["judgement__duration_ms"],
        "rubric_version": vote["judgement__rubric__version"], "batch_id": vote["batch_id"],
        "judged_at": _iso(vote["created_at"]),
        "provenance": json.dumps(vote["provenance"] or {}, sort_keys=True, ensure_ascii=False),
    }


def _aggregate_row(group: list[dict], *, split: str, scores: dict[str, float], agreement: float) -> dict | None:
    """One row for a comparison: the side with the highest score wins; an even split is dropped."""
    total = sum(scores.values())
    best = max(scores.values())
    winners = [side for side, score in scores.items() if score == best]
    if len(winners) > 1 or total <= 0:
        return None
    side = winners[0]
    first = group[0]
    lo_text = first["chosen__text"] if first["chosen_id"] == first["lo"] else first["rejected__text"]
    hi_text = first["rejected__text"] if first["chosen_id"] == first["lo"] else first["chosen__text"]
    chosen, rejected = ((first["hi"], hi_text), (first["lo"], lo_text)) if side == "backward" else (
        (first["lo"], lo_text), (first["hi"], hi_text))
    backing = [v for v in group if _direction(v) == side]
    sources = sorted({v["source"] for v in group})
    # A verdict no annotator voted for has no votes to average: one step of preference.
    margin = round(sum(v["margin"] for v in backing) / len(backing), 6) if backing else (0.0 if side == "tie" else 1.0)
    return {
        **_base_row(first, split=split),
        "chosen_id": chosen[0], "chosen": chosen[1], "rejected_id": rejected[0], "rejected": rejected[1],
        "tie": side == "tie", "margin": margin,
        "strength": None, "weight": round(best / total, 6), "agreement": agreement, "votes": len(group),
        "source": sources[0] if len(sources) == 1 else "mixed",
        "pair_id": None, "pair_ids": [v["id"] for v in group], "judgement_id": None, "task_id": None,
        "annotator": None, "display_order": [], "duration_ms": None, "rubric_version": None,
        "batch_id": first["batch_id"] if len({v["batch_id"] for v in group}) == 1 else None,
        "judged_at": _iso(max(v["created_at"] for v in group)), "provenance": "{}",
    }


def _verdicts(project: Project) -> dict[int, dict[int, int]]:
    """Task id -> {response id: rank} of every adjudicated task of the project (one query)."""
    return {task_id: {rid: rank for rank, group in enumerate(ranking) for rid in group}
            for task_id, ranking in Adjudication.objects.filter(task__project=project).values_list("task_id", "ranking")}


def _verdict_side(group: list[dict], verdicts: dict[int, dict[int, int]]) -> str | None:
    """The side the verdict on the group's task takes for the overall preference; None without one
    (criteria are not adjudicated, and a comparison may come from several tasks that disagree)."""
    if group[0]["criterion"] or not verdicts:
        return None
    sides = set()
    for task_id in {v["judgement__task_id"] for v in group if v["judgement__task_id"] is not None}:
        ranks = verdicts.get(task_id)
        if ranks is not None and group[0]["lo"] in ranks and group[0]["hi"] in ranks:
            lo, hi = ranks[group[0]["lo"]], ranks[group[0]["hi"]]
            sides.add("tie" if lo == hi else "forward" if lo < hi else "backward")
    return sides.pop() if len(sides) == 1 else None


def snapshot_rows(*, project: Project, filters: SnapshotFilters, aggregation: str, seed: int,
                  val_fraction: float, stats: dict | None = None) -> Iterator[dict]:
    """The snapshot's rows in their canonical order (also used by tests and the benchmark)."""
    stats = stats if stats is not None else {}
    reliability = (gold_reliability(project=project) if aggregation == Aggregation.WEIGHTED
                   else dawid_skene_reliability(project=project) if aggregation == Aggregation.DAWID_SKENE else {})
    verdicts = _verdicts(project) if aggregation == Aggregation.ADJUDICATED else {}
    for group in _votes_grouped(pairs_selected(project=project, filters=filters)):
        counts = {"forward": 0, "backward": 0, "tie": 0}
        for vote in group:
            counts[_direction(vote)] += 1
        agreement = round(max(counts.values()) / len(group), 6)
        verdict = _verdict_side(group, verdicts) if verdicts else None
        # A verdict settles a dispute: the minimum agreement (meant for unsettled votes) does not drop it.
        if verdict is None and filters.min_agreement is not None and agreement < filters.min_agreement:
            stats["dropped_below_agreement"] = stats.get("dropped_below_agreement", 0) + len(group)
            continue
        split = split_of(prompt_hash=group[0]["prompt__content_hash"], seed=seed, val_fraction=val_fraction)
        if aggregation == Aggregation.EVERY:
            for vote in group:
                yield _vote_row(vote, split=split, agreement=agreement, votes=len(group))
            continue
        if aggregation in (Aggregation.WEIGHTED, Aggregation.DAWID_SKENE):
            scores = {"forward": 0.0, "backward": 0.0, "tie": 0.0}
            for vote in group:
                annotator = vote["annotator_id"] or vote["judgement__annotator_id"]
                scores[_direction(vote)] += reliability.get(annotator, PRIOR_RELIABILITY) * vote["weight"]
        elif verdict is not None:
            scores = {side: float(side == verdict) for side in counts}
            stats["adjudicated"] = stats.get("adjudicated", 0) + 1
        else:
            scores = {side: float(n) for side, n in counts.items()}
        row = _aggregate_row(group, split=split, scores=scores, agreement=agreement)
        if row is None:
            stats["dropped_no_majority"] = stats.get("dropped_no_majority", 0) + len(group)
            continue
        yield row
