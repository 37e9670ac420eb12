"""A PII policy change applied to what is already stored (issue 15: the policy is retroactive).

`pii_apply_plan` says what a change from one policy to another must do to stored text:
- record: leaving "off" for any other policy, the texts that entered while the policy was off (since
  its last switch to off, read from the audit trail; everything when it never was switched) were never
  scanned: scan them and record their findings (PiiFinding, value partly hidden) — the flagged-items
  page then lists them as it lists findings of imports.
- mask: switching to "mask-import" rewrites every stored prompt (text and chat messages), response and
  annotator rationale (and the rationales kept in revision history) with placeholders, in place. This
  is irreversible, which is why the page and the API ask for confirmation. Prompts and responses are
  shared by every task and pair that uses them, so one rewrite masks them everywhere. Content hashes are
  recomputed (prompt, response, task, imported pair), so a later import of the same file, masked before
  hashing, collapses into the stored rows as duplicates; where two stored rows become the same text the
  later one keeps its old hash (the unique constraints hold; both rows stay). Findings already recorded
  are marked masked.
- "mask-export" needs no rewrite: every snapshot cut and export masks at export time, and downloads
  of snapshots cut before the switch are masked as they stream (rewardtrain/snapshots/exports.py).

The work runs as a PiiApplyJob on a worker, in chunks, with progress (texts done of total), and is safe
to run twice (masking is idempotent; a done job is not run again). Its end is recorded in the audit trail
(pii_policy.applied, with counts per kind).
"""
from collections import Counter

from django.db import transaction
from django.utils import timezone

from annotation.hashing import content_hash, messages_to_text, pair_hash, prompt_hash, task_hash
from annotation.models import (AuditEvent, Judgement, PiiApplyJob, PiiFinding, PreferencePair, Project, Prompt,
                               Response, Task)
from annotation.services.audit import audit_record

from .detectors import find, partly_hidden
from .services import _region, counts_out, pii_mask

Policy = Project.PiiPolicy
CHUNK = 500


def pii_apply_plan(*, project: Project, before: str, after: str) -> dict | None:
    """What switching `project` from `before` to `after` must do to stored text, or None for nothing."""
    record = before == Policy.OFF and after != Policy.OFF
    mask = after == Policy.MASK_IMPORT and before != Policy.MASK_IMPORT
    if not (record or mask):
        return None
    last_off = (AuditEvent.objects.filter(project_id=project.pk, action="pii_policy.changed", detail__to=Policy.OFF)
                .order_by("-at", "-id").values_list("at", flat=True).first())
    return {"record": record, "mask": mask, "record_since": last_off if record else None}


def pii_stored_texts(*, project: Project) -> int:
    """How many stored texts a mask-import switch rewrites at most (the page's confirmation says it)."""
    return (Prompt.objects.filter(project=project).count()
            + Response.objects.filter(prompt__project=project).count()
            + Judgement.objects.filter(task__project=project).exclude(rationale="").count())


def pii_apply_enqueue(*, project: Project, plan: dict, policy: str, user=None) -> PiiApplyJob:
    """Creates the job (inside the caller's transaction) and queues it once that commits."""
    from annotation import tasks

    job = PiiApplyJob.objects.create(project=project, policy=policy, created_by=user if getattr(
        user, "is_authenticated", False) else None, **plan)
    transaction.on_commit(lambda: tasks.pii_apply.delay(job.pk))
    return job


def pii_apply_latest(*, project: Project) -> PiiApplyJob | None:
    return PiiApplyJob.objects.filter(project=project).first()


class _Run:
    def __init__(self, job: PiiApplyJob):
        self.job, self.counts, self.masked = job, Counter(), 0
        self.findings: list[PiiFinding] = []
        self.regions = _region()

    def records(self, obj) -> bool:
        since = self.job.record_since
        return self.job.record and (since is None or obj.created_at >= since)

    def text(self, text: str, *, record: bool, source: str, field: str) -> str:
        """`text` masked when the job masks; its findings recorded when `record`."""
        if not text:
            return text
        if record:
            for f in find(text, phone_region=self.regions):
                self.counts[f.kind] += 1
                self.findings.append(PiiFinding(project_id=self.job.project_id, source=source[:500], field=field,
                                                kind=f.kind, hidden_value=partly_hidden(f.value, f.kind)[:200],
                                                masked=self.job.mask))
        return pii_mask(text)[0] if self.job.mask else text

    def progress(self, n: int) -> None:
        PiiFinding.objects.bulk_create(self.findings, batch_size=1000)
        self.findings = []
        self.job.done += n
        PiiApplyJob.objects.filter(pk=self.job.pk).update(done=self.job.done, counts=counts_out(self.counts))


def _each_chunk(queryset, run: "_Run", handle) -> None:
    """`handle(row)` for every row, in chunks of CHUNK by id; each chunk's rewrites, findings and progress
    commit together."""
    last = 0
    while True:
        with transaction.atomic():
            rows = list(queryset.filter(pk__gt=last).order_by("pk")[:CHUNK])
            if not rows:
                return
            for row in rows:
                handle(row)
            run.progress(len(rows))
        last = rows[-1].pk


def _scope(queryset, job: PiiApplyJob):
    # Recording alone reads only what entered while the policy was off; masking reads everything.
    if not job.mask and job.record_since is not None:
        return queryset.filter(created_at__gte=job.record_since)
    return queryset


def _prompts(run: _Run, project: Project) -> set[int]:
    changed = set()

    def handle(p):
        record, source = run.records(p), f"stored prompt {p.pk}"
        if p.messages:
            messages = [{**m, "content": run.text(str(m.get("content", "")), record=record, source=source,
                                                  field=f"messages[{i}].content")} if isinstance(m, dict) else m
                        for i, m in enumerate(p.messages)]
            text = messages_to_text(messages) if run.job.mask else p.text
        else:
            messages, text = p.messages, run.text(p.text, record=record, source=source, field="text")
        if (text, messages) != (p.text, p.messages):
            Prompt.objects.filter(pk=p.pk).update(text=text, messages=messages)
            changed.add(p.pk)

    _each_chunk(_scope(Prompt.objects.filter(project=project), run.job), run, handle)
    return changed


def _responses(run: _Run, project: Project) -> set[int]:
    changed = set()

    def handle(r):
        text = run.text(r.text, record=run.records(r), source=f"stored response {r.pk}", field="text")
        if text != r.text:
            Response.objects.filter(pk=r.pk).update(text=text)
            changed.add(r.pk)

    _each_chunk(_scope(Response.objects.filter(prompt__project=project), run.job), run, handle)
    return changed


def _rationales(run: _Run, project: Project) -> None:
    def handle(j):
        rationale = run.text(j.rationale, record=run.records(j), source=f"judgement {j.pk}", field="rationale")
        history = [{**h, "rationale": pii_mask(h["rationale"])[0]} if run.job.mask and h.get("rationale") else h
                   for h in (j.history or [])]
        if rationale != j.rationale or history != (j.history or []):
            Judgement.objects.filter(pk=j.pk).update(rationale=rationale, history=history)

    _each_chunk(_scope(Judgement.objects.filter(task__project=project).exclude(rationale=""), run.job), run, handle)


def _rehash(project: Project, prompts: set[int], responses: set[int]) -> None:
    """New content hashes for the rewritten rows, unless another row already holds the new hash."""
    for p in Prompt.objects.filter(pk__in=prompts):
        digest = prompt_hash(text=p.text, messages=p.messages)
        if not Prompt.objects.filter(project=project, content_hash=digest).exists():
            Prompt.objects.filter(pk=p.pk).update(content_hash=digest)
    for r in Response.objects.filter(pk__in=responses):
        digest = content_hash(r.text)
        if not Response.objects.filter(prompt_id=r.prompt_id, content_hash=digest).exists():
            Response.objects.filter(pk=r.pk).update(content_hash=digest)
    touched = set(prompts) | set(Response.objects.filter(pk__in=responses).values_list("prompt_id", flat=True))
    for task in Task.objects.filter(prompt_id__in=touched).select_related("prompt").prefetch_related("slots__response"):
        digest = task_hash(prompt_hash=task.prompt.content_hash,
                           response_hashes=[s.response.content_hash for s in task.slots.all()])
        if digest != task.content_hash and not Task.objects.filter(project=project, content_hash=digest).exists():
            Task.objects.filter(pk=task.pk).update(content_hash=digest)
    pairs = (PreferencePair.objects.filter(project=project, prompt_id__in=touched, dedupe_key__isnull=False)
             .select_related("prompt", "chosen", "rejected"))
    for pair in pairs:
        digest = pair_hash(prompt_hash=pair.prompt.content_hash, chosen_hash=pair.chosen.content_hash,
                           rejected_hash=pair.rejected.content_hash)
        if digest != pair.dedupe_key and not PreferencePair.objects.filter(project=project, dedupe_key=digest).exists():
            PreferencePair.objects.filter(pk=pair.pk).update(dedupe_key=digest)


def pii_apply_run(*, job_id: int) -> str:
    """Runs a queued job (a second delivery finds it taken and returns)."""
    with transaction.atomic():
        job = PiiApplyJob.objects.select_for_update(skip_locked=True).filter(pk=job_id).first()
        if job is None or job.status != PiiApplyJob.Status.QUEUED:
            return "taken"
        project = Project.objects.get(pk=job.project_id)
        job.total = (_scope(Prompt.objects.filter(project=project), job).count()
                     + _scope(Response.objects.filter(prompt__project=project), job).count()
                     + _scope(Judgement.objects.filter(task__project=project).exclude(rationale=""), job).count())
        job.status = PiiApplyJob.Status.RUNNING
        job.save(update_fields=["status", "total"])
    run = _Run(job)
    try:
        # Chunk by chunk, so progress shows; masking is idempotent, so a failed job is simply run again
        # (setting the same policy again queues a new one).
        prompts = _prompts(run, project)
        responses = _responses(run, project)
        _rationales(run, project)
        with transaction.atomic():
            if job.mask:
                _rehash(project, prompts, responses)
                PiiFinding.objects.filter(project=project).update(masked=True)
            job.status, job.finished_at = PiiApplyJob.Status.DONE, timezone.now()
            job.counts, job.masked_texts = counts_out(run.counts), len(prompts) + len(responses)
            job.save(update_fields=["status", "finished_at", "counts", "masked_texts"])
            audit_record(action="pii_policy.applied", user=job.created_by, project=project, target=job,
                         detail={"policy": job.policy, "masked": job.mask, "recorded": job.record,
                                 "texts": job.total, "masked_prompts_and_responses": job.masked_texts,
                                 "counts": job.counts})
    except Exception as exc:
        PiiApplyJob.objects.filter(pk=job.pk).update(status=PiiApplyJob.Status.FAILED, error=str(exc)[:2000],
                                                     finished_at=timezone.now())
        raise
    return "done"
