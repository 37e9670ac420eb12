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
import json
import secrets
from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone

from .models import Assignment, Project, TaskSlot

_rng = secrets.SystemRandom()
_MAX_CLAIM_ATTEMPTS = 8

_CANDIDATE_SQL = """
SELECT t.id {response_ids} FROM annotation_task t
WHERE t.project_id = %(project)s AND t.status = 'open' AND t.is_gold = %(gold)s {not_rejected}
  AND NOT EXISTS (SELECT 1 FROM annotation_judgement j WHERE j.task_id = t.id AND j.annotator_id = %(user)s)
  AND NOT EXISTS (SELECT 1 FROM annotation_assignment s
                  WHERE s.annotator_id = %(user)s AND s.task_id = t.id AND s.status = 'skipped')
  AND t.completed_judgements + (SELECT count(*) FROM annotation_assignment a
                                WHERE a.task_id = t.id AND a.status = 'active' AND a.expires_at > %(now)s)
      < t.target_judgements
ORDER BY t.priority DESC, t.id
LIMIT 1 {lock}
"""
# PostgreSQL also returns the task's response ids in slot order, saving a round trip.
_PG_RESPONSE_IDS = """, (SELECT array_agg(ts.response_id ORDER BY ts.position) FROM annotation_taskslot ts
                         WHERE ts.task_id = t.id)"""


def _candidate_sql(*, rejected: list[int]) -> str:
    # SQLite (the embedded default) has no row locks: its IMMEDIATE transactions serialize writers.
    postgres = connection.vendor == "postgresql"
    not_rejected = "AND t.id NOT IN ({})".format(", ".join(f"%(r{i})s" for i in range(len(rejected)))) \
        if rejected else ""
    return _CANDIDATE_SQL.format(response_ids=_PG_RESPONSE_IDS if postgres else "", not_rejected=not_rejected,
                                 lock="FOR UPDATE OF t SKIP LOCKED" if postgres else "")


_HAS_ROOM_SQL = """
SELECT t.status = 'open' AND t.completed_judgements + (
         SELECT count(*) FROM annotation_assignment a
         WHERE a.task_id = t.id AND a.status = 'active' AND a.expires_at > %(now)s) < t.target_judgements
FROM annotation_task t WHERE t.id = %(task)s
"""

# ON CONFLICT on the partial unique index: a parallel claim by the same annotator (double click,
# two tabs) inserts nothing here and we return that lease instead, without a savepoint round trip.
_INSERT_LEASE_SQL = """
INSERT INTO annotation_assignment (project_id, task_id, annotator_id, display_order, status, skip_reason,
                                   created_at, expires_at)
VALUES (%(project)s, %(task)s, %(user)s, %(order)s, 'active', '', %(now)s, %(expires)s)
ON CONFLICT (annotator_id, project_id) WHERE status = 'active' DO NOTHING
RETURNING id
"""


def lease_active(*, project: Project, annotator, now=None) -> Assignment | None:
    """The annotator's own unexpired lease in the project, if any."""
    now = now or timezone.now()
    return Assignment.objects.filter(project=project, annotator=annotator, status=Assignment.Status.ACTIVE,
                                     expires_at__gt=now).first()


def _claim_candidate(*, project: Project, annotator, gold: bool, now) -> tuple[int, list[int]] | None:
    """Locks one task with room for this annotator: (task id, response ids), or None."""
    rejected: list[int] = []
    db_now = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        for _ in range(_MAX_CLAIM_ATTEMPTS):
            params = {"project": project.pk, "gold": gold, "user": annotator.pk, "now": db_now,
                      **{f"r{i}": task_id for i, task_id in enumerate(rejected)}}
            cursor.execute(_candidate_sql(rejected=rejected), params)
            row = cursor.fetchone()
            if row is None:
                return None
            cursor.execute(_HAS_ROOM_SQL, {"task": row[0], "now": db_now})
            if cursor.fetchone()[0]:
                response_ids = row[1] if len(row) > 1 else list(
                    TaskSlot.objects.filter(task_id=row[0]).order_by("position").values_list("response_id", flat=True))
                return row[0], response_ids
            rejected.append(row[0])  # filled up by a claim committed after our snapshot
    return None


def _serve_gold_first(project: Project) -> bool:
    return project.gold_rate > 0 and _rng.random() < project.gold_rate


@transaction.atomic
def task_next(*, project: Project, annotator, now=None) -> Assignment | None:
    """The annotator's current lease, or a freshly claimed one; None when nothing is left for them."""
    now = now or timezone.now()
    current = Assignment.objects.filter(project=project, annotator=annotator, status=Assignment.Status.ACTIVE).first()
    if current is not None:
        if current.expires_at > now:
            return current
        Assignment.objects.filter(pk=current.pk, status=Assignment.Status.ACTIVE).update(
            status=Assignment.Status.EXPIRED, finished_at=now)

    gold_first = _serve_gold_first(project)
    claimed = None
    for gold in (gold_first, not gold_first):
        claimed = _claim_candidate(project=project, annotator=annotator, gold=gold, now=now)
        if claimed is not None:
            break
    if claimed is None:
        return None

    task_id, response_ids = claimed
    order = _rng.sample(response_ids, len(response_ids))
    expires_at = now + timedelta(seconds=project.lease_seconds)
    with connection.cursor() as cursor:
        cursor.execute(_INSERT_LEASE_SQL, {
            "project": project.pk, "task": task_id, "user": annotator.pk, "order": json.dumps(order),
            "now": connection.ops.adapt_datetimefield_value(now),
            "expires": connection.ops.adapt_datetimefield_value(expires_at)})
        row = cursor.fetchone()
    if row is None:
        return lease_active(project=project, annotator=annotator, now=now)
    return Assignment(pk=row[0], project=project, task_id=task_id, annotator=annotator, display_order=order,
                      status=Assignment.Status.ACTIVE, skip_reason="", created_at=now, expires_at=expires_at)


@transaction.atomic
def leases_expire(*, now=None) -> int:
    """Marks leases past their expiry as expired (they already stopped counting when they expired)."""
    now = now or timezone.now()
    return Assignment.objects.filter(status=Assignment.Status.ACTIVE, expires_at__lte=now).update(
        status=Assignment.Status.EXPIRED, finished_at=now
    )
