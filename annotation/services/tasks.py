"""Tasks one at a time (files go through services/imports): a prompt and its responses in slots,
checked by the same rules as an imported row (imports.tasks.task_row_parse)."""
import math

from django.db import transaction

from annotation.hashing import task_hash
from annotation.models import Batch, Project, Prompt, Response, Task, TaskSlot
from annotation.pii.services import import_scrubber

from .imports.common import RowError, storable
from .imports.tasks import task_row_parse
from .judgements import JudgementInvalid, ranking_validate


@transaction.atomic
def task_create(*, project: Project, prompt, responses: list, batch: Batch | None = None,
                is_gold: bool = False, gold_ranking=None, priority: float = 0.0, external_id: str = "",
                metadata: dict | None = None) -> Task:
    """One task from a prompt (text or chat messages) and its responses (text or {"text", "model"}).

    ValueError naming the field, and nothing written, for anything a task file would be refused for
    (a pairwise project takes exactly two responses, no empty or repeated texts, ...), a task
    already in the project, a priority that is no finite number, or a gold answer that does not
    rank every response."""
    row = {"prompt": prompt, "responses": responses, "id": external_id, "metadata": metadata}
    scrubber = import_scrubber(project=project, source="task_create")
    try:
        storable(row)
        row = scrubber.row(row)  # the PII policy, before any hash
        parsed = task_row_parse(row, mode=project.mode)
    except RowError as exc:
        raise ValueError(str(exc))
    if isinstance(priority, bool) or not isinstance(priority, (int, float)) or not math.isfinite(priority):
        raise ValueError("priority: must be a finite number.")
    digest = task_hash(prompt_hash=parsed["prompt_hash"], response_hashes=[r["hash"] for r in parsed["responses"]])
    if existing := Task.objects.filter(project=project, content_hash=digest).values_list("pk", flat=True).first():
        raise ValueError(f"prompt: this task (same prompt and responses) is already in the project as task {existing}.")
    scrubber.flush(batch)
    prompt_obj, _ = Prompt.objects.get_or_create(
        project=project, content_hash=parsed["prompt_hash"],
        defaults={"text": parsed["text"], "messages": parsed["messages"]})
    response_objs = [Response.objects.get_or_create(prompt=prompt_obj, content_hash=item["hash"],
                                                    defaults={"text": item["text"], "source_model": item["model"]})[0]
                     for item in parsed["responses"]]
    task = Task.objects.create(
        project=project, batch=batch, prompt=prompt_obj, priority=priority, external_id=parsed["external_id"],
        metadata=parsed["metadata"], target_judgements=project.overlap, content_hash=digest)
    TaskSlot.objects.bulk_create(TaskSlot(task=task, response=r, position=i) for i, r in enumerate(response_objs))
    if is_gold:
        try:
            task.gold_ranking = ranking_validate(ranking=gold_ranking, response_ids=[r.pk for r in response_objs],
                                                 allow_ties=True, field="gold_ranking")
        except JudgementInvalid as exc:
            raise ValueError(str(exc))
        task.is_gold = True
        task.save(update_fields=["is_gold", "gold_ranking"])
    return task


@transaction.atomic
def task_set_priority(*, task: Task, priority: float) -> Task:
    """Higher is served first (set by admins, or by active-learning scripts)."""
    task.priority = priority
    task.save(update_fields=["priority"])
    return task
