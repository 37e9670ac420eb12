"""Tasks one at a time (files go through services/imports): a prompt and its responses in slots."""
from django.db import transaction

from annotation.hashing import content_hash, messages_to_text, prompt_hash, task_hash
from annotation.models import Batch, Project, Prompt, Response, Task, TaskSlot
from annotation.pii.services import import_scrubber


def _prompt_get_or_create(*, project: Project, prompt) -> Prompt:
    messages = prompt if isinstance(prompt, list) else None
    text = messages_to_text(messages) if messages else prompt
    obj, _ = Prompt.objects.get_or_create(
        project=project, content_hash=prompt_hash(text=text, messages=messages),
        defaults={"text": text, "messages": messages},
    )
    return obj


@transaction.atomic
def task_create(*, project: Project, prompt, responses: list, batch: Batch | None = None,
                is_gold: bool = False, gold_ranking=None, priority: float = 0.0, external_id: str = "",
                metadata: dict | None = None) -> Task:
    """One task from a prompt (text or chat messages) and 2+ responses (text or {"text", "model"})."""
    if len(responses) < 2:
        raise ValueError("A task needs at least two responses.")
    scrubber = import_scrubber(project=project, source="task_create")
    row = scrubber.row({"prompt": prompt, "responses": responses})  # the PII policy, before any hash
    prompt, responses = row["prompt"], row["responses"]
    scrubber.flush(batch)
    prompt_obj = _prompt_get_or_create(project=project, prompt=prompt)
    response_objs = []
    for item in responses:
        text, model = (item, "") if isinstance(item, str) else (item["text"], item.get("model", ""))
        obj, _ = Response.objects.get_or_create(prompt=prompt_obj, content_hash=content_hash(text),
                                                defaults={"text": text, "source_model": model})
        response_objs.append(obj)
    task = Task.objects.create(
        project=project, batch=batch, prompt=prompt_obj, priority=priority, is_gold=is_gold,
        gold_ranking=gold_ranking, external_id=external_id, metadata=metadata or {},
        target_judgements=project.overlap,
        content_hash=task_hash(prompt_hash=prompt_obj.content_hash,
                               response_hashes=[r.content_hash for r in response_objs]),
    )
    TaskSlot.objects.bulk_create(TaskSlot(task=task, response=r, position=i) for i, r in enumerate(response_objs))
    return task


@transaction.atomic
def task_set_priority(*, task: Task, priority: float) -> Task:
    """Higher is served first (set by admins, or by active-learning scripts)."""
    task.priority = priority
    task.save(update_fields=["priority"])
    return task
