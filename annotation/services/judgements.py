"""Judgements: validation, idempotent submission, late and surplus answers, pairs and skips (gold: gold.py).

Rules (the README's "Task distribution" section says the same in prose):

* **Idempotent.** A judgement is unique per (task, annotator) in the database. Submitting again —
  a double click, a retry after a timeout, a replayed request, even through an older lease of the
  same task — returns the judgement already stored (``created=False``; the API answers 200 rather
  than 201). The first submission wins; later payloads are not merged.
* **On time.** A submission on an unexpired lease (active, or prefetched) counts towards the task's target.
* **Late.** A submission whose lease has expired is still stored, never dropped. It counts when
  the task is open and has room: completed judgements plus *other* annotators' unexpired leases
  stay below the target (so a late answer never takes the slot of someone who holds a valid
  lease). Otherwise it is stored with ``is_surplus=True`` and does not count.
* **Skipped** leases cannot be judged afterwards (409): the skip was that annotator's answer.
* A task becomes COMPLETE when its counted judgements reach its target.
* **Adaptive overlap** (``Project.adaptive_overlap``): when a counted judgement brings a task to its
  target and the task's judgements are disputed (annotation.quality.disputes), the target goes up
  by one instead of the task completing, never past ``max(max_overlap, overlap)``; gold tasks never.
* **Pairs** are written in the same transaction: every C(K, 2) pair of a ranking, best group first.
  Responses in the same group give one tie row (``is_tie``, margin 0). Otherwise
  ``margin = (strength + 1 if strength is given else 1) × group distance`` — for a pairwise answer
  that is simply strength + 1 (1 = "negligibly better" ... 4 = "much better"). Each rubric
  criterion gives its own rows with ``criterion=key`` (criteria carry no strength, so margin is the
  group distance). Surplus judgements write pairs too, marked ``provenance.surplus``.
* **Both bad** (``both_bad=True``) means the annotator rejects every response. The ranking defaults
  to one group holding all responses and no *overall* pairs are written: a reward model should not
  learn "chosen" from two bad answers. Criterion answers are optional then and still give pairs.
  Strength is not stored for both-bad answers or full ties.
* **Criteria** always allow ties (two answers are often equally harmless); ``Project.allow_ties``
  governs the overall answer. Every criterion of the project's rubric must be answered.
* **Revising.** An annotator may revise their *last* judgement in the project while its task is
  still open, or within ``REVISION_WINDOW`` of submitting it. The answer is validated like a new
  one and replaces the old one in place (still one judgement per task and annotator): the old
  answer goes to ``history``, ``revision`` counts up, and the pairs are replaced in the same
  transaction. Whether it counts toward the target does not change.
* **Gold.** ``gold_correct`` is true when the answer's groups equal the gold ranking's groups, in
  order (a both-bad answer matches a gold ranking that ties everything).
"""
from datetime import timedelta
from itertools import combinations

from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from annotation.models import Assignment, Batch, Criterion, Judgement, PreferencePair, Task, Webhook
from annotation.pii.services import rationale_findings_save, rationale_scrub
from annotation.quality.disputes import task_is_disputed
from annotation.services.webhooks import webhook_event
from annotation.selectors.judgements import judgement_last

MAX_RATIONALE_CHARS = 5000
MAX_DURATION_MS = 24 * 3600 * 1000
REVISION_WINDOW = timedelta(minutes=10)


class JudgementInvalid(ValueError):
    """The answer itself is wrong (maps to HTTP 400); `field` names the offending input."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class AssignmentConflict(Exception):
    """The lease is in a state that forbids the action (maps to HTTP 409)."""


def ranking_validate(*, ranking, response_ids, allow_ties: bool, field: str = "ranking") -> list[list[int]]:
    """Groups of response ids, best first, covering each of `response_ids` exactly once."""
    expected = set(response_ids)
    if not isinstance(ranking, list) or not ranking:
        raise JudgementInvalid(field, "must be a non-empty list of groups of response ids, best first.")
    groups, seen = [], set()
    for group in ranking:
        group = [group] if isinstance(group, int) and not isinstance(group, bool) else group
        if not isinstance(group, list) or not group:
            raise JudgementInvalid(field, "each group must be a non-empty list of response ids.")
        for response_id in group:
            if not isinstance(response_id, int) or isinstance(response_id, bool):
                raise JudgementInvalid(field, f"{response_id!r} is not a response id.")
            if response_id not in expected:
                raise JudgementInvalid(field, f"response {response_id} is not part of this task.")
            if response_id in seen:
                raise JudgementInvalid(field, f"response {response_id} appears more than once.")
            seen.add(response_id)
        groups.append(list(group))
    if missing := expected - seen:
        raise JudgementInvalid(field, f"must rank every response of the task; missing {sorted(missing)}.")
    if not allow_ties and any(len(group) > 1 for group in groups):
        raise JudgementInvalid(field, "ties are not allowed in this project.")
    return groups


def _is_full_tie(ranking: list[list[int]]) -> bool:
    return len(ranking) == 1


def _normalized(ranking) -> list[frozenset]:
    return [frozenset(group if isinstance(group, list) else [group]) for group in ranking]


def gold_matches(*, ranking, gold_ranking) -> bool:
    return _normalized(ranking) == _normalized(gold_ranking)


def _storable_text(text: str, field: str) -> None:
    """PostgreSQL stores no NUL character, and UTF-8 has no lone surrogates: say so instead of a 500."""
    if "\x00" in text:
        raise JudgementInvalid(field, "must not contain NUL characters.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise JudgementInvalid(field, "must be valid Unicode (it holds a lone surrogate).")


def _validated(*, project, response_ids, ranking, strength, both_bad, criteria, rationale, duration_ms) -> dict:
    if both_bad and not project.allow_both_bad:
        raise JudgementInvalid("both_bad", "this project does not offer “both bad”.")
    if both_bad and ranking is None:
        ranking = [list(response_ids)]
    # A both-bad answer may tie everything even where ties are otherwise not allowed.
    ranking = ranking_validate(ranking=ranking, response_ids=response_ids,
                               allow_ties=project.allow_ties or (both_bad and _is_full_tie(ranking or [])))
    scale = project.strength_scale or []
    if strength is not None:
        if not isinstance(strength, int) or isinstance(strength, bool) or not 0 <= strength < len(scale):
            allowed = f"0..{len(scale) - 1}" if scale else "none (this project has no strength scale)"
            raise JudgementInvalid("strength", f"must be an index into the strength scale: {allowed}.")
        if both_bad or _is_full_tie(ranking):
            strength = None
    criteria = criteria or {}
    if not isinstance(criteria, dict):
        raise JudgementInvalid("criteria", "must be an object mapping criterion keys to rankings.")
    keys = list(Criterion.objects.filter(rubric_id=project.rubric_id).values_list("key", flat=True)) \
        if project.rubric_id else []
    if unknown := sorted(set(criteria) - set(keys)):
        raise JudgementInvalid("criteria", f"unknown criterion {', '.join(unknown)}.")
    if not both_bad and (missing := [k for k in keys if k not in criteria]):
        raise JudgementInvalid("criteria", f"answer every criterion; missing {', '.join(missing)}.")
    criteria = {key: ranking_validate(ranking=criteria[key], response_ids=response_ids, allow_ties=True,
                                      field=f"criteria.{key}") for key in keys if key in criteria}
    rationale = (rationale or "").strip()
    if project.rationale_required and not rationale:
        raise JudgementInvalid("rationale", "this project requires a rationale.")
    if len(rationale) > MAX_RATIONALE_CHARS:
        raise JudgementInvalid("rationale", f"must be at most {MAX_RATIONALE_CHARS} characters.")
    _storable_text(rationale, "rationale")
    if duration_ms is not None and (not isinstance(duration_ms, int) or isinstance(duration_ms, bool)
                                    or not 0 <= duration_ms <= MAX_DURATION_MS):
        raise JudgementInvalid("duration_ms", f"must be an integer between 0 and {MAX_DURATION_MS}.")
    return {"ranking": ranking, "strength": strength, "both_bad": both_bad, "criteria": criteria,
            "rationale": rationale, "duration_ms": duration_ms}


def pair_rows(*, ranking: list[list[int]], strength: int | None) -> list[tuple[int, int, float, bool]]:
    """(chosen, rejected, margin, is_tie) for every unordered pair of a ranking: C(K, 2) rows."""
    unit = float(strength + 1) if strength is not None else 1.0
    rows = []
    for i, group in enumerate(ranking):
        rows.extend((a, b, 0.0, True) for a, b in combinations(group, 2))
        for j in range(i + 1, len(ranking)):
            rows.extend((a, b, unit * (j - i), False) for a in group for b in ranking[j])
    return rows


def _pairs_create(*, judgement: Judgement, task: Task, project) -> None:
    provenance = {"task": task.pk, "assignment": judgement.assignment_id}
    if judgement.is_surplus:
        provenance["surplus"] = True
    common = {"project": project, "prompt_id": task.prompt_id, "source": PreferencePair.Source.HUMAN,
              "judgement": judgement, "annotator_id": judgement.annotator_id, "batch_id": task.batch_id,
              "provenance": provenance}
    pairs = []
    if not judgement.both_bad:
        pairs += [PreferencePair(chosen_id=c, rejected_id=r, margin=m, is_tie=t,
                                 strength=None if t else judgement.strength, criterion="", **common)
                  for c, r, m, t in pair_rows(ranking=judgement.ranking, strength=judgement.strength)]
    for key, ranking in judgement.criteria.items():
        pairs += [PreferencePair(chosen_id=c, rejected_id=r, margin=m, is_tie=t, criterion=key, **common)
                  for c, r, m, t in pair_rows(ranking=ranking, strength=None)]
    PreferencePair.objects.bulk_create(pairs)


def _wants_another(*, task: Task, project) -> bool:
    """Adaptive overlap: a (non-gold) task that reached its target disputed gets one more judgement
    wanted, never past the project's maximum. Called with the task row locked, so parallel
    submissions raise the target one after the other and each sees the other's raise."""
    if not project.adaptive_overlap or task.is_gold:
        return False
    if task.target_judgements >= max(project.max_overlap, project.overlap):
        return False
    return task_is_disputed(task=task, project=project)


def _batch_complete_check(task: Task) -> None:
    """The batch.complete webhook, sent by the judgement that completes a batch's last open task. The
    batch row lock serialises two last judgements in one batch, so exactly one of them sees none left."""
    batch = Batch.objects.select_for_update().get(pk=task.batch_id)
    left = Task.objects.filter(batch_id=batch.pk, status__in=[Task.Status.OPEN, Task.Status.POOL]).exists()
    if not left:
        webhook_event(project_id=task.project_id, event=Webhook.Event.BATCH_COMPLETE, data={"batch": {
            "id": batch.pk, "name": batch.name, "tasks": Task.objects.filter(batch_id=batch.pk).count()}})


@transaction.atomic
def judgement_submit(*, assignment: Assignment, ranking=None, strength=None, both_bad: bool = False,
                     criteria=None, rationale: str = "", duration_ms=None, now=None) -> tuple[Judgement, bool]:
    """Stores the annotator's answer for this lease; returns (judgement, created)."""
    now = now or timezone.now()
    # Lock order: the task, then this lease; other leases only with SKIP LOCKED. Claims never wait
    # for a task lock and skips and sweeps hold only lease rows, so no wait cycle can form.
    task = Task.objects.select_for_update().get(pk=assignment.task_id)
    prior = Judgement.objects.filter(task_id=OuterRef("task_id"), annotator_id=OuterRef("annotator_id"))
    assignment = (Assignment.objects.select_for_update(of=("self",)).select_related("project")
                  .annotate(prior_judgement=Subquery(prior.values("pk")[:1])).get(pk=assignment.pk))
    project = assignment.project
    if assignment.prior_judgement is not None:  # a replay, or judged through another lease of this task
        existing = Judgement.objects.get(pk=assignment.prior_judgement)
        if assignment.status in Assignment.HELD:
            Assignment.objects.filter(pk=assignment.pk).update(status=Assignment.Status.EXPIRED, finished_at=now)
        return existing, False
    if assignment.status == Assignment.Status.SKIPPED:
        raise AssignmentConflict("This task was skipped, so it can no longer be judged on this lease.")
    data = _validated(project=project, response_ids=assignment.display_order, ranking=ranking,
                      strength=strength, both_bad=both_bad, criteria=criteria, rationale=rationale,
                      duration_ms=duration_ms)
    if data["duration_ms"] is None:
        elapsed_ms = int((now - assignment.created_at).total_seconds() * 1000)
        data["duration_ms"] = min(max(elapsed_ms, 0), MAX_DURATION_MS)
    data["rationale"], pii_found = rationale_scrub(project=project, rationale=data["rationale"])  # the PII policy

    on_time = assignment.status in Assignment.HELD and assignment.expires_at > now
    others_holding = 0 if on_time else (
        Assignment.objects.filter(task=task, status__in=Assignment.HELD, expires_at__gt=now)
        .exclude(annotator_id=assignment.annotator_id).count())
    counts = task.status == Task.Status.OPEN and task.completed_judgements + others_holding < task.target_judgements

    judgement = Judgement.objects.create(
        task=task, annotator_id=assignment.annotator_id, assignment=assignment,
        display_order=assignment.display_order, rubric_id=project.rubric_id, is_surplus=not counts,
        gold_correct=gold_matches(ranking=data["ranking"], gold_ranking=task.gold_ranking) if task.is_gold else None,
        **data,
    )
    rationale_findings_save(judgement_id=judgement.pk, findings=pii_found)
    if counts:
        task.completed_judgements += 1
        if task.completed_judgements >= task.target_judgements:
            if _wants_another(task=task, project=project):  # adaptive overlap: the task stays open
                task.target_judgements += 1
            else:
                task.status = Task.Status.COMPLETE
        task.save(update_fields=["completed_judgements", "status", "target_judgements"])
        if task.status == Task.Status.COMPLETE and task.batch_id:
            _batch_complete_check(task)
    Assignment.objects.filter(pk=assignment.pk).update(status=Assignment.Status.SUBMITTED, finished_at=now)
    if not on_time:
        # A newer lease of the same task by the same annotator has nothing left to do. (On time, this
        # lease is the annotator's only active one.) A locked one is being submitted, skipped or
        # expired right now; its own transaction will close it.
        others = (Assignment.objects.select_for_update(skip_locked=True)
                  .filter(task=task, annotator_id=assignment.annotator_id, status__in=Assignment.HELD)
                  .exclude(pk=assignment.pk).values_list("pk", flat=True))
        Assignment.objects.filter(pk__in=list(others)).update(status=Assignment.Status.EXPIRED, finished_at=now)
    _pairs_create(judgement=judgement, task=task, project=project)
    return judgement, True


@transaction.atomic
def judgement_revise(*, judgement: Judgement, ranking=None, strength=None, both_bad: bool = False, criteria=None,
                     rationale: str = "", duration_ms=None, now=None) -> Judgement:
    """Replaces the annotator's last judgement with a new answer (see "Revising" above)."""
    now = now or timezone.now()
    task = Task.objects.select_for_update().select_related("project").get(pk=judgement.task_id)
    judgement = Judgement.objects.select_for_update().get(pk=judgement.pk)
    latest = judgement_last(project=task.project, user=judgement.annotator)
    if latest is None or latest.pk != judgement.pk:
        raise AssignmentConflict("Only your last judgement in this project can be revised.")
    if task.status != Task.Status.OPEN and now - judgement.created_at > REVISION_WINDOW:
        raise AssignmentConflict(f"This task is complete and the judgement is older than "
                                 f"{int(REVISION_WINDOW.total_seconds() // 60)} minutes: it can no longer be revised.")
    project = task.project
    if project.rubric_id != judgement.rubric_id:
        raise AssignmentConflict("The project's rubric changed since this judgement: it can no longer be revised.")
    data = _validated(project=project, response_ids=judgement.display_order, ranking=ranking, strength=strength,
                      both_bad=both_bad, criteria=criteria, rationale=rationale, duration_ms=duration_ms)
    if data["duration_ms"] is None:
        data["duration_ms"] = judgement.duration_ms
    data["rationale"], pii_found = rationale_scrub(project=project, rationale=data["rationale"])
    rationale_findings_save(judgement_id=judgement.pk, findings=pii_found)
    judgement.history = [*judgement.history, {
        "ranking": judgement.ranking, "strength": judgement.strength, "both_bad": judgement.both_bad,
        "criteria": judgement.criteria, "rationale": judgement.rationale, "duration_ms": judgement.duration_ms,
        "gold_correct": judgement.gold_correct, "replaced_at": now.isoformat()}]
    judgement.revision += 1
    for field, value in data.items():
        setattr(judgement, field, value)
    if task.is_gold:
        judgement.gold_correct = gold_matches(ranking=data["ranking"], gold_ranking=task.gold_ranking)
    judgement.save()
    PreferencePair.objects.filter(judgement=judgement).delete()
    _pairs_create(judgement=judgement, task=task, project=project)
    return judgement


@transaction.atomic
def assignment_skip(*, assignment: Assignment, reason: str, now=None) -> Assignment:
    """Gives the task back with a reason; the annotator is not offered it again. Safe to repeat."""
    now = now or timezone.now()
    reason = (reason or "").strip()
    if not reason:
        raise JudgementInvalid("reason", "say why you skip (e.g. “outside my expertise”).")
    _storable_text(reason, "reason")
    assignment = Assignment.objects.select_for_update().get(pk=assignment.pk)
    if assignment.status == Assignment.Status.SKIPPED:
        return assignment
    if assignment.status == Assignment.Status.SUBMITTED or Judgement.objects.filter(
            task_id=assignment.task_id, annotator_id=assignment.annotator_id).exists():
        raise AssignmentConflict("This task has already been judged, so it cannot be skipped.")
    assignment.status = Assignment.Status.SKIPPED
    assignment.skip_reason = reason[:500]
    assignment.finished_at = now
    assignment.save(update_fields=["status", "skip_reason", "finished_at"])
    return assignment


