"""Agreement of annotators with the active reward model, the half that needs a model.

`annotation` never imports `rewardtrain`, so the annotator table cannot score anything itself. A worker
scores the responses of a project's most recently judged tasks (at most VERDICT_MODEL_AGREEMENT_MAX_TASKS)
with the active model and stores each task's rewards in `annotation.TaskModelPreference`;
`annotation.ModelAgreementState` says for which model and whether they are complete, and
`annotation.quality.annotators` compares every judgement with them. It runs after a promotion, a
rollback or an archive (on commit) and on the beat for projects judged since (only the tasks not yet
scored by that model are scored). Safe to run twice: rows are unique per (task, model version).
"""
import logging

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from annotation.models import Judgement, ModelAgreementState, TaskModelPreference, TaskSlot
from annotation.quality.units import quality_stamp_forget

from ..models import ModelVersion

log = logging.getLogger(__name__)
CHUNK_TASKS = 256
LOCK_SECONDS = 3600
State = ModelAgreementState.Status


def _label(model: ModelVersion) -> str:
    return f"version {model.version}"


def model_agreement_after_switch(*, project_id: int) -> None:
    """In the transaction that changed the project's active model: the page says "computing" (or
    "no active model") at once, and a worker recomputes once the change is committed."""
    from .. import tasks

    active = ModelVersion.objects.filter(project_id=project_id, status=ModelVersion.Status.ACTIVE).first()
    ModelAgreementState.objects.update_or_create(project_id=project_id, defaults={
        "model_version_id": active.pk if active else None, "model_label": _label(active) if active else "",
        "status": State.COMPUTING if active else State.NO_MODEL, "error": "",
        **({} if active else {"tasks_scored": 0, "computed_at": None})})
    quality_stamp_forget(project_id=project_id)
    transaction.on_commit(lambda: tasks.model_agreement_refresh.delay(project_id))


def _recent_tasks(project_id: int) -> list[int]:
    """The project's judged tasks, most recently judged first, at most VERDICT_MODEL_AGREEMENT_MAX_TASKS."""
    return list(Judgement.objects.filter(task__project_id=project_id).values("task_id").annotate(last=Max("id"))
                .order_by("-last").values_list("task_id", flat=True)[:settings.VERDICT_MODEL_AGREEMENT_MAX_TASKS])


def _texts(task_ids: list[int]) -> tuple[list[str], list[str], list[tuple[int, int]]]:
    """(prompt per response, response text, (task id, response id)) in task then slot order."""
    rows = (TaskSlot.objects.filter(task_id__in=task_ids).order_by("task_id", "position")
            .values_list("task_id", "response_id", "task__prompt__text", "response__text"))
    prompts, responses, keys = [], [], []
    for task_id, response_id, prompt, response in rows:
        prompts.append(prompt)
        responses.append(response)
        keys.append((task_id, response_id))
    return prompts, responses, keys


def _score(model_version: ModelVersion, task_ids: list[int]) -> None:
    from .cache import loaded_model

    model = loaded_model(model_version=model_version)
    heads = list(getattr(model, "heads", []) or [])
    column = heads.index("overall") if "overall" in heads else 0
    for start in range(0, len(task_ids), CHUNK_TASKS):
        prompts, responses, keys = _texts(task_ids[start:start + CHUNK_TASKS])
        if not keys:
            continue
        rewards = model.score(prompts, responses)[:, column]
        by_task: dict[int, dict[str, float]] = {}
        for (task_id, response_id), reward in zip(keys, rewards):
            by_task.setdefault(task_id, {})[str(response_id)] = round(float(reward), 6)
        TaskModelPreference.objects.bulk_create(
            [TaskModelPreference(task_id=t, model_version_id=model_version.pk, rewards=r) for t, r in by_task.items()],
            ignore_conflicts=True)


def model_agreement_refresh(*, project_id: int) -> str:
    """Scores the recently judged tasks the active model has not scored yet; marks the state ready."""
    active = ModelVersion.objects.filter(project_id=project_id, status=ModelVersion.Status.ACTIVE).first()
    try:
        if active is None:
            TaskModelPreference.objects.filter(task__project_id=project_id).delete()
            ModelAgreementState.objects.update_or_create(project_id=project_id, defaults={
                "model_version_id": None, "model_label": "", "status": State.NO_MODEL, "tasks_scored": 0,
                "computed_at": None, "error": ""})
            return "no active model"
        recent = _recent_tasks(project_id)
        have = set(TaskModelPreference.objects.filter(model_version_id=active.pk, task_id__in=recent)
                   .values_list("task_id", flat=True))
        missing = [t for t in recent if t not in have]
        state = ModelAgreementState.objects.filter(project_id=project_id).first()
        if (not missing and state is not None and state.model_version_id == active.pk
                and state.status == State.READY and state.tasks_scored == len(recent)):
            return "up to date"
        if missing:
            ModelAgreementState.objects.update_or_create(project_id=project_id, defaults={
                "model_version_id": active.pk, "model_label": _label(active), "status": State.COMPUTING, "error": ""})
            _score(active, missing)
        TaskModelPreference.objects.filter(task__project_id=project_id).exclude(model_version_id=active.pk).delete()
        ModelAgreementState.objects.update_or_create(project_id=project_id, defaults={
            "model_version_id": active.pk, "model_label": _label(active), "status": State.READY,
            "tasks_scored": len(recent), "computed_at": timezone.now(), "error": ""})
        return f"scored {len(missing)} task(s)"
    except Exception as exc:
        log.exception("Agreement with the model of project %s failed", project_id)
        ModelAgreementState.objects.update_or_create(project_id=project_id, defaults={
            "model_version_id": active.pk if active else None, "model_label": _label(active) if active else "",
            "status": State.FAILED, "error": f"{type(exc).__name__}: {exc}"[:2000]})
        return "failed"
    finally:
        quality_stamp_forget(project_id=project_id)  # the annotator table reads the new state at once
        cache.delete(f"model-agreement:{project_id}:queued")


def model_agreements_refresh_due() -> list[int]:
    """Beat: projects whose active model's preferences are missing, for another model, unfinished, or
    older than their latest judgement get a refresh (one queued at a time per project)."""
    from .. import tasks

    due = []
    states = {s.project_id: s for s in ModelAgreementState.objects.all()}
    for model in ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).only("pk", "project_id"):
        state = states.get(model.project_id)
        if state is not None and state.model_version_id == model.pk and state.status == State.READY:
            last = Judgement.objects.filter(task__project_id=model.project_id).aggregate(at=Max("created_at"))["at"]
            if last is None or (state.computed_at and last <= state.computed_at):
                continue
        if cache.add(f"model-agreement:{model.project_id}:queued", 1, timeout=LOCK_SECONDS):
            tasks.model_agreement_refresh.delay(model.project_id)
            due.append(model.project_id)
    for project_id, state in states.items():  # the active model was archived meanwhile
        if state.model_version_id is not None and not ModelVersion.objects.filter(
                project_id=project_id, status=ModelVersion.Status.ACTIVE).exists():
            tasks.model_agreement_refresh.delay(project_id)
            due.append(project_id)
    return due
