"""The assignment engine: who gets which task next, leases and their expiry.

Rules (the README's "Task distribution" section says the same in prose):

* **Next task.** An annotator is served the highest-priority OPEN task of the project (ties broken
  by id) that they have not judged, have not skipped, and that still has room: its completed
  judgements plus its *unexpired* active leases are below its target. The row is claimed with
  ``SELECT ... FOR UPDATE SKIP LOCKED``, so concurrent claimers never wait on each other and never
  see the same free slot twice.
* **Room is re-checked after the lock.** Under READ COMMITTED the claiming statement's snapshot
  may predate a lease another claimer committed a moment earlier on the same task; a second,
  fresh statement counts again while we hold the row lock, so a task never has more leases plus
  judgements than its target.
* **Leases.** A claim creates an ACTIVE assignment that expires after ``Project.lease_seconds``.
  Expired leases stop counting at once (the count compares ``expires_at`` with now); the periodic
  ``leases_expire`` sweep only tidies their status. Asking again (a page reload) returns the
  annotator's own unexpired lease; one past its expiry is closed and a fresh claim is made.
  The database allows one active lease per annotator and project, so a double request can never
  hold two.
* **Gold.** With probability ``Project.gold_rate`` a gold task is tried first, otherwise a regular
  one; either way the other kind is the fallback, so nobody is told "no more tasks" while a task
  they could do remains. Gold tasks obey their target like any other task (raise their target to
  show one gold item to more people) and are served looking exactly like regular tasks.
* **Display order.** Every claim shuffles the task's responses and stores the order on the
  assignment (and later on the judgement), so position bias can be measured.
"""
import secrets
from datetime import timedelta

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from .models import Assignment, Project, TaskSlot

_rng = secrets.SystemRandom()
_MAX_CLAIM_ATTEMPTS = 8

_CANDIDATE_SQL = """
SELECT t.id FROM annotation_task t
WHERE t.project_id = %(project)s AND t.status = 'open' AND t.is_gold = %(gold)s
  AND NOT (t.id = ANY(%(rejected)s))
  AND NOT EXISTS (SELECT 1 FROM annotation_judgement j WHERE j.task_id = t.id AND j.annotator_id = %(user)s)
  AND NOT EXISTS (SELECT 1 FROM annotation_assignment s
                  WHERE s.annotator_id = %(user)s AND s.task_id = t.id AND s.status = 'skipped')
  AND t.completed_judgements + (SELECT count(*) FROM annotation_assignment a
                                WHERE a.task_id = t.id AND a.status = 'active' AND a.expires_at > %(now)s)
      < t.target_judgements
ORDER BY t.priority DESC, t.id
LIMIT 1
FOR UPDATE OF t SKIP LOCKED
"""

_HAS_ROOM_SQL = """
SELECT t.status = 'open' AND t.completed_judgements + (
         SELECT count(*) FROM annotation_assignment a
         WHERE a.task_id = t.id AND a.status = 'active' AND a.expires_at > %(now)s) < t.target_judgements
FROM annotation_task t WHERE t.id = %(task)s
"""


def lease_active(*, project: Project, annotator, now=None) -> Assignment | None:
    """The annotator's own unexpired lease in the project, if any."""
    now = now or timezone.now()
    return (Assignment.objects.select_related("task")
            .filter(project=project, annotator=annotator, status=Assignment.Status.ACTIVE, expires_at__gt=now)
            .first())


def _close_expired_own_lease(*, project: Project, annotator, now) -> None:
    Assignment.objects.filter(project=project, annotator=annotator, status=Assignment.Status.ACTIVE,
                              expires_at__lte=now).update(status=Assignment.Status.EXPIRED, finished_at=now)


def _claim_candidate(*, project: Project, annotator, gold: bool, now) -> int | None:
    """Locks one task with room for this annotator and returns its id (None when there is none)."""
    rejected: list[int] = []
    with connection.cursor() as cursor:
        for _ in range(_MAX_CLAIM_ATTEMPTS):
            cursor.execute(_CANDIDATE_SQL, {"project": project.pk, "gold": gold, "user": annotator.pk,
                                            "now": now, "rejected": rejected})
            row = cursor.fetchone()
            if row is None:
                return None
            cursor.execute(_HAS_ROOM_SQL, {"task": row[0], "now": now})
            if cursor.fetchone()[0]:
                return row[0]
            rejected.append(row[0])  # filled up by a claim committed after our snapshot
    return None


def _serve_gold_first(project: Project) -> bool:
    return project.gold_rate > 0 and _rng.random() < project.gold_rate


@transaction.atomic
def task_next(*, project: Project, annotator, now=None) -> Assignment | None:
    """The annotator's current lease, or a freshly claimed one; None when nothing is left for them."""
    now = now or timezone.now()
    current = lease_active(project=project, annotator=annotator, now=now)
    if current is not None:
        return current
    _close_expired_own_lease(project=project, annotator=annotator, now=now)

    gold_first = _serve_gold_first(project)
    task_id = None
    for gold in (gold_first, not gold_first):
        task_id = _claim_candidate(project=project, annotator=annotator, gold=gold, now=now)
        if task_id is not None:
            break
    if task_id is None:
        return None

    response_ids = list(TaskSlot.objects.filter(task_id=task_id)
                        .order_by("position").values_list("response_id", flat=True))
    try:
        with transaction.atomic():
            return Assignment.objects.create(
                project=project, task_id=task_id, annotator=annotator,
                display_order=_rng.sample(response_ids, len(response_ids)),
                expires_at=now + timedelta(seconds=project.lease_seconds),
            )
    except IntegrityError:
        # The same annotator claimed in a parallel request (double click, two tabs): use that lease.
        return lease_active(project=project, annotator=annotator, now=now)


@transaction.atomic
def leases_expire(*, now=None) -> int:
    """Marks leases past their expiry as expired (they already stopped counting when they expired)."""
    now = now or timezone.now()
    return Assignment.objects.filter(status=Assignment.Status.ACTIVE, expires_at__lte=now).update(
        status=Assignment.Status.EXPIRED, finished_at=now
    )
