"""One row of statistics per annotator of a project, with flags at stated thresholds.

Position bias: in every judgement the first two responses *shown* (`Judgement.display_order`) are
compared; where the annotator did not tie them, did the first-shown one win? An unbiased annotator
picks it half the time, whatever the true answer (display order is shuffled), so the share is tested
against 0.5 with an exact binomial test.

Agreement with the active reward model: `annotation` never imports `rewardtrain`, and scoring tasks
on a page view would be slow, so a rewardtrain worker scores the most recently judged tasks with the
active model and stores each task's rewards (`TaskModelPreference`, `ModelAgreementState` says for
which model). Here every decisive pair of a judgement on a scored task is compared with the model's
choice (the higher reward; K-way rankings through their C(K, 2) pairs): a tie the annotator gave
counts as not agreeing (the model chose), "both bad" is left out.

Agreement with adjudicated verdicts: of an annotator's judgements on tasks a project admin settled,
the share whose answer is the verdict's. Dawid–Skene reliability: `dawid_skene` fitted on every
pair unit's labels (A / B / tie / both bad), the chance it gives the annotator of the true label.
Inter-annotator agreement (agreement.py) stays over the annotators' judgements only.
"""
import json
import statistics
from collections import Counter, defaultdict
from itertools import combinations

from django.contrib.auth import get_user_model
from django.db.models import Count, TextField
from django.db.models.functions import Cast

from annotation.models import Adjudication, Assignment, ModelAgreementState, Project, TaskModelPreference

from . import metrics
from .dawid_skene import dawid_skene
from .disputes import answer_key
from .units import cached, computed, judgement_rows, units_build

# Flags: name -> the rule, with the evidence it needs, as the pages state it.
FLAGS = {
    "too_fast": "median time under 3 s per task (5+ judgements)",
    "low_gold_accuracy": "gold accuracy not above chance: the 95 % interval reaches below 50 % (10+ gold answers)",
    "position_bias": "chooses the first-shown response in under 35 % or over 65 % of decisive answers, "
                     "binomial p < 0.01 (20+ answers)",
    "mostly_ties": "ties in over half of the judgements (10+ judgements)",
    "low_agreement": "agrees with the others' majority under 50 % of the time (20+ comparable units)",
    "many_skips": "skips over 30 % of the tasks served (10+ served)",
}


def _flags(row: dict) -> list[str]:
    flags = []
    if row["judgements"] >= 5 and row["median_seconds"] is not None and row["median_seconds"] < 3:
        flags.append("too_fast")
    if row["gold_answers"] >= 10 and row["gold_ci"][0] < 0.5:
        flags.append("low_gold_accuracy")
    if (row["position_bias_n"] >= 20 and row["position_bias_p"] < 0.01
            and abs(row["position_bias"] - 0.5) > 0.15):
        flags.append("position_bias")
    if row["judgements"] >= 10 and row["tie_rate"] > 0.5:
        flags.append("mostly_ties")
    if row["majority_units"] >= 20 and row["agreement_with_majority"] < 0.5:
        flags.append("low_agreement")
    if row["judgements"] + row["skips"] >= 10 and row["skip_rate"] > 0.3:
        flags.append("many_skips")
    return flags


def _majority_agreement(units) -> dict[int, list[int]]:
    """annotator id -> [agreed, compared] with the majority of the *other* labels of each unit
    (units where the others tie for the most common choice are not compared)."""
    out = defaultdict(lambda: [0, 0])
    for labels in units.labels:
        if len(labels) < 2:
            continue
        counts = Counter(choice for _, choice, _, _ in labels)
        for annotator_id, choice, _, _ in labels:
            counts[choice] -= 1
            top = counts.most_common(2)
            if top[0][1] > 0 and (len(top) == 1 or top[0][1] > top[1][1]):
                out[annotator_id][1] += 1
                out[annotator_id][0] += top[0][0] == choice
            counts[choice] += 1
    return out


def _model_rewards(project: Project) -> dict[int, dict[int, float]]:
    """Task id -> {response id: reward} under the model the project's stored preferences are for."""
    state = (ModelAgreementState.objects.filter(project=project, status=ModelAgreementState.Status.READY)
             .values_list("model_version_id", flat=True).first())
    if state is None:  # no model, or its preferences are still being written
        return {}
    return {task_id: {int(r): float(v) for r, v in rewards.items()} for task_id, rewards in
            TaskModelPreference.objects.filter(task__project=project, model_version_id=state)
            .values_list("task_id", "rewards")}


def model_agreement(*, ranking, both_bad: bool, rewards: dict[int, float]) -> tuple[int, int]:
    """(pairs where the annotator put the model's choice strictly higher, pairs compared) of one
    judgement; pairs the model scores equal, or responses it has no reward for, are left out."""
    if both_bad:
        return 0, 0
    place = {response: i for i, group in enumerate(ranking) for response in group}
    agreed = compared = 0
    for a, b in combinations(sorted(r for r in place if r in rewards), 2):
        if rewards[a] == rewards[b]:
            continue
        better, worse = (a, b) if rewards[a] > rewards[b] else (b, a)
        compared += 1
        agreed += place[better] < place[worse]
    return agreed, compared


def _reliability(units) -> dict[int, float]:
    """Annotator id -> Dawid–Skene reliability over the units (each unit an item, its choices the labels)."""
    items, annotators, labels = [], [], []
    index: dict[int, int] = {}
    code = {choice: k for k, choice in enumerate(metrics.CHOICES)}
    for i, unit in enumerate(units.labels):
        for annotator_id, choice, _, _ in unit:
            items.append(i)
            annotators.append(index.setdefault(annotator_id, len(index)))
            labels.append(code[choice])
    if not items:
        return {}
    fit = dawid_skene(items, annotators, labels, n_items=len(units.labels), n_annotators=len(index),
                      n_classes=len(metrics.CHOICES))
    return {annotator_id: float(fit.reliability[j]) for annotator_id, j in index.items()}


def first_shown_wins(*, display_order, ranking, both_bad: bool) -> bool | None:
    """Did the first-shown response beat the second-shown one? None if tied, both bad or fewer than two."""
    if both_bad or len(display_order) < 2:
        return None
    place = {response: i for i, group in enumerate(ranking) for response in group}
    first, second = place.get(display_order[0]), place.get(display_order[1])
    if first is None or second is None or first == second:
        return None
    return first < second


def model_agreement_status(*, project: Project) -> dict:
    """{"status": no_model | computing | ready | failed, "label", "computed_at", "tasks", "error"}: for
    which model the "agreement with the model" column is, and whether it is ready (one indexed read)."""
    state = ModelAgreementState.objects.filter(project=project).first()
    if state is None:
        return {"status": ModelAgreementState.Status.NO_MODEL, "label": "", "computed_at": None, "tasks": 0, "error": ""}
    return {"status": state.status, "label": state.model_label, "computed_at": state.computed_at,
            "tasks": state.tasks_scored, "error": state.error}


def annotator_stats_list(*, project: Project, wait: bool = True):
    """Per annotator who judged or skipped in the project, by username; cached until judgements change
    (`units.COMPUTING` without `wait` while a worker computes them, see `units.cached`)."""
    return cached(project=project, name="annotators", wait=wait)


@computed("annotators")
def _compute(project: Project) -> list[dict]:
    per = defaultdict(lambda: {"durations": [], "ties": 0, "n": 0, "gold": 0, "correct": 0, "first": 0, "decisive": 0,
                               "model": [0, 0], "verdicts": [0, 0]})
    model_rewards = _model_rewards(project)
    verdicts = {task_id: answer_key(ranking=ranking, both_bad=False) for task_id, ranking in
                Adjudication.objects.filter(task__project=project).values_list("task_id", "ranking")}
    rows = [(task_id, annotator_id, json.loads(ranking), both_bad, strength, day, duration_ms, display_order,
             gold_correct) for task_id, annotator_id, ranking, both_bad, strength, day, duration_ms, display_order,
            gold_correct in judgement_rows(project=project, extra=(
                "duration_ms", Cast("display_order", TextField()), "gold_correct"))]
    for task_id, annotator_id, ranking, both_bad, _, _, duration_ms, display_order, gold_correct in rows:
        display_order = json.loads(display_order)
        s = per[annotator_id]
        s["n"] += 1
        if duration_ms is not None:
            s["durations"].append(duration_ms)
        s["ties"] += not both_bad and any(len(group) > 1 for group in ranking)
        if gold_correct is not None:
            s["gold"] += 1
            s["correct"] += gold_correct
        won = first_shown_wins(display_order=display_order, ranking=ranking, both_bad=both_bad)
        if won is not None:
            s["decisive"] += 1
            s["first"] += won
        if task_id in model_rewards:
            agreed, compared = model_agreement(ranking=ranking, both_bad=both_bad, rewards=model_rewards[task_id])
            s["model"][0] += agreed
            s["model"][1] += compared
        if task_id in verdicts:
            s["verdicts"][0] += answer_key(ranking=ranking, both_bad=both_bad) == verdicts[task_id]
            s["verdicts"][1] += 1
    skips = dict(Assignment.objects.filter(project=project, status=Assignment.Status.SKIPPED)
                 .values_list("annotator_id").annotate(n=Count("id"))
                 .values_list("annotator_id", "n"))
    units = units_build(rows=rows)
    majority = _majority_agreement(units)
    reliability = _reliability(units)
    names = dict(get_user_model().objects.filter(pk__in=set(per) | set(skips)).values_list("pk", "username"))
    table = []
    for annotator_id, username in sorted(names.items(), key=lambda item: item[1]):
        s, skipped = per[annotator_id], skips.get(annotator_id, 0)
        agreed, compared = majority.get(annotator_id, (0, 0))
        row = {
            "annotator_id": annotator_id, "username": username, "judgements": s["n"],
            "median_seconds": statistics.median(s["durations"]) / 1000 if s["durations"] else None,
            "skips": skipped, "skip_rate": skipped / (skipped + s["n"]) if skipped + s["n"] else None,
            "tie_rate": s["ties"] / s["n"] if s["n"] else None,
            "gold_answers": s["gold"], "gold_accuracy": s["correct"] / s["gold"] if s["gold"] else None,
            "gold_ci": metrics.wilson_interval(s["correct"], s["gold"]),
            "agreement_with_majority": agreed / compared if compared else None, "majority_units": compared,
            "agreement_with_model": s["model"][0] / s["model"][1] if s["model"][1] else None,
            "model_pairs": s["model"][1],
            "agreement_with_adjudication": s["verdicts"][0] / s["verdicts"][1] if s["verdicts"][1] else None,
            "adjudicated_judgements": s["verdicts"][1],
            "reliability": round(reliability[annotator_id], 4) if annotator_id in reliability else None,
            "position_bias": s["first"] / s["decisive"] if s["decisive"] else None,
            "position_bias_n": s["decisive"], "position_bias_p": metrics.binomial_p(s["first"], s["decisive"]),
        }
        row["flags"] = _flags(row)
        table.append(row)
    return table


def dawid_skene_reliability(*, project: Project) -> dict[int, float]:
    """Annotator id -> Dawid–Skene reliability (snapshots' "dawid_skene" aggregation weighs votes by it);
    computed here if the annotator table is not cached for the current judgements."""
    return {r["annotator_id"]: r["reliability"] for r in annotator_stats_list(project=project)
            if r["reliability"] is not None}


def position_bias_project(*, rows: list[dict]) -> dict:
    """The project's position bias from the annotator rows: first-shown chosen / decisive, and its p."""
    first = sum(round(r["position_bias"] * r["position_bias_n"]) for r in rows if r["position_bias_n"])
    n = sum(r["position_bias_n"] for r in rows)
    return {"rate": first / n if n else None, "n": n, "p": metrics.binomial_p(first, n)}
