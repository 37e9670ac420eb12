"""Import of tasks to annotate from JSONL(.gz): {"prompt": str | messages, "responses": [...], "id"?, "metadata"?}."""
from functools import partial

from annotation.hashing import content_hash, prompt_hash, task_hash
from annotation.models import Batch, Project, Task, TaskSlot

from .common import (ImportResult, RowError, import_run, object_field, prompt_field, prompts_ensure,
                     responses_ensure, rows_fresh, text_field, type_name)


MAX_RESPONSES = 9


def task_row_parse(row: dict, *, mode: str) -> dict:
    """One task row checked (RowError naming the field): the rules of file imports *and* of services.tasks.task_create."""
    text, messages = prompt_field(row.get("prompt"))
    responses = row.get("responses")
    if responses is None:
        raise RowError("responses", "is required")
    if not isinstance(responses, list):
        raise RowError("responses", f"must be a list, got {type_name(responses)}")
    # A pairwise project shows two responses side by side; more would be served as a ranking under a
    # "pairwise" header, so the file is refused instead (all or nothing).
    if mode == Project.Mode.PAIRWISE and len(responses) != 2:
        raise RowError("responses", f"a pairwise project takes exactly 2 responses (got {len(responses)})")
    if not 2 <= len(responses) <= MAX_RESPONSES:
        raise RowError("responses", f"a ranking project takes 2 to {MAX_RESPONSES} responses (got {len(responses)})")
    items, seen = [], {}
    for i, item in enumerate(responses):
        if isinstance(item, dict):
            body = text_field(item.get("text"), f"responses[{i}].text")
            model = item.get("model", "") or ""
            if not isinstance(model, str):
                raise RowError(f"responses[{i}].model", f"must be a string, got {type_name(model)}")
        else:
            body, model = text_field(item, f"responses[{i}]"), ""
        digest = content_hash(body)
        if digest in seen:
            raise RowError(f"responses[{i}]", f"is the same text as responses[{seen[digest]}]")
        seen[digest] = i
        items.append({"text": body, "model": model[:200], "hash": digest})
    external_id = row.get("id", "")
    if not isinstance(external_id, (str, int)) or isinstance(external_id, bool):
        raise RowError("id", f"must be a string, got {type_name(external_id)}")
    return {"text": text, "messages": messages, "prompt_hash": prompt_hash(text=text, messages=messages),
            "responses": items, "external_id": str(external_id)[:255], "metadata": object_field(row, "metadata")}


def _write_tasks(project: Project, batch: Batch, rows: list[dict], result: ImportResult, *, pool: bool = False) -> None:
    for row in rows:
        row["hash"] = task_hash(prompt_hash=row["prompt_hash"], response_hashes=[r["hash"] for r in row["responses"]])
    fresh = rows_fresh(rows, Task.objects.filter(project=project), "content_hash", result)
    if not fresh:
        return
    prompt_ids = prompts_ensure(project, list(fresh.values()))
    response_ids = responses_ensure([(prompt_ids[r["prompt_hash"]], item)
                                      for r in fresh.values() for item in r["responses"]])
    tasks = Task.objects.bulk_create([
        Task(project=project, batch=batch, prompt_id=prompt_ids[r["prompt_hash"]], content_hash=h,
             target_judgements=project.overlap, external_id=r["external_id"], metadata=r["metadata"],
             status=Task.Status.POOL if pool else Task.Status.OPEN)
        for h, r in fresh.items()
    ])
    task_ids = {t.content_hash: t.pk for t in tasks}
    TaskSlot.objects.bulk_create([
        TaskSlot(task_id=task_ids[h], position=i, response_id=response_ids[(prompt_ids[r["prompt_hash"]], item["hash"])])
        for h, r in fresh.items() for i, item in enumerate(r["responses"])
    ])
    result.created += len(fresh)


def tasks_import(*, project: Project, fileobj, filename: str, user=None, batch_name: str | None = None,
                 pool: bool = False, progress=None) -> ImportResult:
    """Tasks to annotate: {"prompt": str | messages, "responses": [str | {"text", "model"}], "id"?, "metadata"?}.

    With ``pool`` the tasks go into the active-learning pool (status POOL): annotators are never
    served them until an acquisition round opens them."""
    return import_run(project=project, fileobj=fileobj, filename=filename, user=user, batch_name=batch_name,
                      parse=partial(task_row_parse, mode=project.mode), write=partial(_write_tasks, pool=pool),
                      progress=progress)
