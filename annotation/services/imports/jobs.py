"""Import jobs: an upload over VERDICT_IMPORT_INLINE_MAX_BYTES is imported on a worker, not in the request.

The file is saved to storage and a queued `ImportJob` row is written; the worker runs the very same
all-or-nothing importer (`tasks_import` / `pairs_import`) on it, so the errors are the same
`file:line: field: problem` and a bad line anywhere leaves nothing behind. The import is one
transaction, so its progress cannot be read from the database while it runs (and on SQLite the
import holds the write lock): the worker puts it in the shared cache, where the page and the API
read it (`import_job_live`); the row records the outcome, in the same transaction as the imported
rows. `import_jobs_fail_stale` (beat) fails a job whose worker stopped reporting progress.
"""
import logging
import time
import uuid
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.core.cache import cache
from django.core.files import File
from django.db import transaction
from django.utils import timezone

from annotation.models import ImportJob, Project

from .common import ImportFailed, ImportResult, batch_name_check, lines_count
from .pairs import pairs_import
from .tasks import tasks_import

log = logging.getLogger(__name__)
Status = ImportJob.Status
FINISHED = (Status.SUCCEEDED, Status.FAILED)
PAIR_FORMATS = ("trl", "hh")


class JobGivenUp(Exception):
    """The job was marked failed (stale) while the worker was still importing: its rows are rolled back."""


def import_inline(*, size: int) -> bool:
    """Whether an upload of `size` bytes is imported inside the request (else: as a job)."""
    return size <= settings.VERDICT_IMPORT_INLINE_MAX_BYTES


def stale_seconds() -> int:
    return int(settings.VERDICT_IMPORT_JOB_STALE_SECONDS)


def import_job_create(*, project: Project, kind: str, upload, pair_format: str = "", batch_name: str | None = None,
                      user=None, pool: bool = False) -> ImportJob:
    """A queued job holding the uploaded file in storage; the import runs on a worker after commit.
    What can be checked without reading the file (kind, format, batch name) is checked now."""
    if kind not in ImportJob.Kind.values:
        raise ValueError(f"Unknown import kind {kind!r}; use tasks or pairs.")
    if kind == ImportJob.Kind.PAIRS and pair_format not in PAIR_FORMATS:
        raise ValueError(f"Unknown pair format {pair_format!r}; use trl or hh.")
    if pool and kind != ImportJob.Kind.TASKS:
        raise ValueError("Only tasks to annotate can go into the pool; judged pairs are imported as they are.")
    batch_name_check(batch_name)
    if not isinstance(upload, File):  # a plain binary file object (scripts, tests)
        upload = File(upload, name=getattr(upload, "name", None))
    job = ImportJob(project=project, kind=kind, pair_format=pair_format if kind == ImportJob.Kind.PAIRS else "",
                    filename=upload.name or "upload.jsonl", size=upload.size or 0, batch_name=batch_name or "", pool=pool,
                    created_by=user if user is not None and user.is_authenticated else None)
    job.file.save(f"{uuid.uuid4().hex}.jsonl", upload, save=False)  # the name the user gave stays in `filename`
    job.save()

    def enqueue():
        from annotation.tasks import import_job_execute as task

        task.delay(job.pk)

    transaction.on_commit(enqueue)
    return job


# --- live progress (the cache) -------------------------------------------------------------------

def _key(job_id: int) -> str:
    return f"verdict:import-job:{job_id}"


def _progress_put(job_id: int, rows_done: int, rows_total: int | None) -> None:
    fraction = min(rows_done / rows_total, 0.99) if rows_total else 0.0
    cache.set(_key(job_id), {"rows_done": rows_done, "rows_total": rows_total, "progress": fraction,
                             "at": time.time()}, timeout=stale_seconds() * 2)


def import_job_live(job: ImportJob) -> ImportJob:
    """The job with its live progress filled in while it runs."""
    if job.status == Status.RUNNING and (live := cache.get(_key(job.pk))):
        job.rows_done, job.rows_total, job.progress = live["rows_done"], live["rows_total"], live["progress"]
    return job


def import_job_get(*, project: Project, job_id: int) -> ImportJob:
    """One job of the project with its live progress (ImportJob.DoesNotExist for another project's)."""
    return import_job_live(ImportJob.objects.select_related("batch", "created_by").get(project=project, pk=job_id))


def import_jobs_recent(*, project: Project, limit: int = 5) -> list[ImportJob]:
    """The import page's job list: the latest jobs of the project, newest first, with live progress."""
    jobs = ImportJob.objects.filter(project=project).select_related("batch", "created_by").order_by("-created_at", "-id")
    return [import_job_live(job) for job in jobs[:limit]]


# --- the worker ----------------------------------------------------------------------------------

def _importer(job: ImportJob):
    if job.kind == ImportJob.Kind.TASKS:
        return partial(tasks_import, pool=job.pool)
    return lambda **kw: pairs_import(fmt=job.pair_format, **kw)


def _result(result: ImportResult) -> dict:
    return {"created": result.created, "duplicates": result.duplicates, "lines": result.lines}


def import_job_execute(*, job_id: int) -> str:
    """Runs the job's import. A second delivery finds the job taken and exits."""
    if not ImportJob.objects.filter(pk=job_id, status=Status.QUEUED).update(status=Status.RUNNING,
                                                                           started_at=timezone.now()):
        return "not claimed"
    job = ImportJob.objects.select_related("project", "created_by").get(pk=job_id)
    total = None
    try:
        with job.file.open("rb") as fileobj:
            total = lines_count(fileobj)
            _progress_put(job_id, 0, total)
            with transaction.atomic():
                result = _importer(job)(project=job.project, fileobj=fileobj, filename=job.filename,
                                        user=job.created_by, batch_name=job.batch_name or None,
                                        progress=lambda n: _progress_put(job_id, n, total))
                # The outcome is committed with the rows, or not at all.
                if not ImportJob.objects.filter(pk=job_id, status=Status.RUNNING).update(
                        status=Status.SUCCEEDED, progress=1.0, rows_done=result.lines, rows_total=total,
                        result=_result(result), batch=result.batch, finished_at=timezone.now()):
                    raise JobGivenUp()
    except ImportFailed as exc:
        _fail(job_id, exc.errors, total)
        return "failed"
    except JobGivenUp:
        log.warning("Import job %s was marked failed while it ran; its rows were rolled back", job_id)
        return "given up"
    except Exception as exc:
        log.exception("Import job %s failed", job_id)
        _fail(job_id, [f"{job.filename}: the import stopped unexpectedly ({type(exc).__name__}: {exc}); "
                       "nothing was written."], total)
        return "failed"
    finally:
        cache.delete(_key(job_id))
        _file_delete(job)
    log.info("Import job %s: %s", job_id, _result(result))
    return "succeeded"


def _fail(job_id: int, errors: list[str], total: int | None) -> None:
    ImportJob.objects.filter(pk=job_id, status=Status.RUNNING).update(
        status=Status.FAILED, errors=errors, rows_total=total, finished_at=timezone.now())


def _file_delete(job: ImportJob) -> None:
    """The upload is only needed until the job has run; failing to delete it must not fail the job."""
    if job.file:
        try:
            job.file.delete(save=False)
            ImportJob.objects.filter(pk=job.pk).update(file="")
        except Exception:
            log.exception("Could not delete the upload of import job %s", job.pk)


def import_jobs_fail_stale() -> list[int]:
    """Jobs "running" with no progress for VERDICT_IMPORT_JOB_STALE_SECONDS lost their worker (the import
    reports progress every VERDICT_IMPORT_BATCH_SIZE lines): marked failed, their upload removed.
    Nothing of theirs was written: the import is one transaction, rolled back when the worker died."""
    seconds = stale_seconds()
    now = time.time()
    limit = timezone.now() - timedelta(seconds=seconds)
    stale = []
    for job in ImportJob.objects.filter(status=Status.RUNNING, started_at__lt=limit):
        live = cache.get(_key(job.pk))
        if live is None or now - live["at"] > seconds:
            stale.append(job)
    for job in stale:
        if ImportJob.objects.filter(pk=job.pk, status=Status.RUNNING).update(
                status=Status.FAILED, finished_at=timezone.now(),
                errors=[f"{job.filename}: worker lost: no progress for {seconds // 60} min; nothing was "
                        "written. Upload the file again."]):
            _file_delete(job)
    return [job.pk for job in stale]
