"""Adjudication: a project admin's final verdict on a task, with a note (the one write path; page and
API both call `adjudication_record`). Snapshots with the "adjudicated" aggregation use the verdict
instead of the annotators' votes."""
from django.db import transaction

from annotation.quality.units import quality_stamp_forget
from annotation.services.audit import audit_record
from annotation.models import Adjudication, Task, TaskSlot

from .judgements import JudgementInvalid, _storable_text, ranking_validate

MAX_NOTE_CHARS = 5000


@transaction.atomic
def adjudication_record(*, task: Task, ranking, note: str, user) -> Adjudication:
    """Stores (or replaces) the verdict: groups of response ids, best first (ties allowed)."""
    task = Task.objects.select_for_update().get(pk=task.pk)
    response_ids = list(TaskSlot.objects.filter(task=task).order_by("position").values_list("response_id", flat=True))
    ranking = ranking_validate(ranking=ranking, response_ids=response_ids, allow_ties=True)
    note = (note or "").strip() if isinstance(note, str) else note
    if not isinstance(note, str) or not note:
        raise JudgementInvalid("note", "say why this is the verdict (the note is kept with it).")
    if len(note) > MAX_NOTE_CHARS:
        raise JudgementInvalid("note", f"must be at most {MAX_NOTE_CHARS} characters.")
    _storable_text(note, "note")
    adjudication, _ = Adjudication.objects.update_or_create(
        task=task, defaults={"ranking": ranking, "note": note, "decided_by": user})
    quality_stamp_forget(project_id=task.project_id)  # "agrees with verdicts" changes now
    audit_record(action="adjudication.recorded", user=user, project=task.project, target=adjudication,
                 detail={"task": task.pk, "ranking": ranking, "note": note})
    return adjudication
