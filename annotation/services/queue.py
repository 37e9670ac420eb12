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
* **Prefetch.** While annotators work on their lease, the workspace reserves their *next* task
  (``task_prefetch``): a second lease with status PREFETCHED (at most one per annotator and
  project), claimed by the same rules and holding a slot of its task like an active lease, so a
  task is never promised past its target. The page holds that task already rendered and shows it
  the instant the current answer is submitted; the next ``task_next`` promotes the prefetched lease
  to the active one with a full lease time from then. An unused prefetched lease expires like any
  other and its task returns to the queue. A reservation never makes someone else wait: an
  annotator who would otherwise be told "nothing left" takes over another annotator's prefetched
  lease (the slot changes hands, so the count stays the same); that annotator's page is told when
  it moves on and gets another task.
* **Gold.** With probability ``Project.gold_rate`` a gold task is tried first, otherwise a regular
  one; either way the other kind is the fallback, so nobody is told "no more tasks" while a task
  they could do remains. Gold tasks obey their target like any other task (raise their target to
  show one gold item to more people) and are served looking exactly like regular tasks.
* **Paused batches.** Tasks of a paused batch (``Batch.paused``) are neither claimed nor taken over
  until the batch is resumed; leases already handed out run their course.
* **Display order.** Every claim shuffles the task's responses and stores the order on the
  assignment (and later on the judgement), so position bias can be measured.
"""
import json
import secrets
from datetime import timedelta

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from annotation.models import Assignment, Project, Task, TaskSlot

_rng = secrets.SystemRandom()
# Status values in the SQL below are formatted in from the model enums (TextChoices str() is the
# value), never typed as literals.
_MAX_CLAIM_ATTEMPTS = 8

# The two rules every way of handing out a task shares, on the task row `t`. The annotator may do
# it: they have neither judged nor skipped it.
_MAY_DO = """NOT EXISTS (SELECT 1 FROM annotation_judgement j WHERE j.task_id = t.id AND j.annotator_id = %(user)s)
  AND NOT EXISTS (SELECT 1 FROM annotation_assignment s
                  WHERE s.annotator_id = %(user)s AND s.task_id = t.id AND s.status = '{skipped}')""".format(
    skipped=Assignment.Status.SKIPPED)
# Its batch is not paused (Batch.paused: a reversible hold the project admin puts on a whole import).
_NOT_PAUSED = """NOT EXISTS (SELECT 1 FROM annotation_batch b WHERE b.id = t.batch_id AND b.paused)"""
# It has room: completed judgements plus unexpired held (active or prefetched) leases below its target.
_HAS_ROOM = _NOT_PAUSED + """ AND t.status = '{open}' AND t.completed_judgements + (
    SELECT count(*) FROM annotation_assignment a
    WHERE a.task_id = t.id AND a.status IN ({held}) AND a.expires_at > %(now)s) < t.target_judgements""".format(
    open=Task.Status.OPEN, held=", ".join(f"'{status}'" for status in Assignment.HELD))

_CANDIDATE_SQL = """
SELECT t.id {response_ids} FROM annotation_task t
WHERE t.project_id = %(project)s AND t.is_gold = %(gold)s {not_rejected}
  AND {has_room}
  AND {may_do}
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
                                 lock="FOR UPDATE OF t SKIP LOCKED" if postgres else "", may_do=_MAY_DO,
                                 has_room=_HAS_ROOM)


_HAS_ROOM_SQL = f"SELECT {_HAS_ROOM} FROM annotation_task t WHERE t.id = %(task)s"
_HAS_ROOM_FOR_SQL = f"SELECT {_HAS_ROOM} AND {_MAY_DO} FROM annotation_task t WHERE t.id = %(task)s"

# ON CONFLICT on the partial unique index: a parallel claim by the same annotator (double click,
# two tabs) inserts nothing here and we return that lease instead, without a savepoint round trip.
_INSERT_LEASE_SQL = """
INSERT INTO annotation_assignment (project_id, task_id, annotator_id, display_order, status, skip_reason,
                                   created_at, expires_at)
VALUES (%(project)s, %(task)s, %(user)s, %(order)s, '{status}', '', %(now)s, %(expires)s)
ON CONFLICT (annotator_id, project_id) WHERE status = '{status}' DO NOTHING
RETURNING id
"""


def lease_active(*, project: Project, annotator, now=None) -> Assignment | None:
    """The annotator's own unexpired lease in the project, if any."""
    now = now or timezone.now()
    return Assignment.objects.filter(project=project, annotator=annotator, status=Assignment.Status.ACTIVE,
                                     expires_at__gt=now).first()


def _claim_candidate(*, project: Project, annotator, gold: bool, now,
                     exclude: tuple[int, ...] = ()) -> tuple[int, list[int]] | None:
    """Locks one task with room for this annotator (not one of `exclude`): (task id, response ids), or None."""
    rejected: list[int] = list(exclude)
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
                return row[0], (row[1] if len(row) > 1 else _response_ids(row[0]))
            rejected.append(row[0])  # filled up by a claim committed after our snapshot
    return None


def _response_ids(task_id: int) -> list[int]:
    return list(TaskSlot.objects.filter(task_id=task_id).order_by("position").values_list("response_id", flat=True))


def _serve_gold_first(project: Project) -> bool:
    return project.gold_rate > 0 and _rng.random() < project.gold_rate


def _held_leases(*, project: Project, annotator) -> tuple[Assignment | None, Assignment | None]:
    """The annotator's (active, prefetched) leases in the project, from one query."""
    held = {a.status: a for a in Assignment.objects.filter(project=project, annotator=annotator,
                                                           status__in=Assignment.HELD)}
    return held.get(Assignment.Status.ACTIVE), held.get(Assignment.Status.PREFETCHED)


def _expire(lease: Assignment, now) -> None:
    Assignment.objects.filter(pk=lease.pk, status=lease.status).update(status=Assignment.Status.EXPIRED,
                                                                        finished_at=now)


def _claim(*, project: Project, annotator, now, status: str, exclude: tuple[int, ...] = ()) -> Assignment | None:
    gold_first = _serve_gold_first(project)
    claimed = None
    for gold in (gold_first, not gold_first):
        claimed = _claim_candidate(project=project, annotator=annotator, gold=gold, now=now, exclude=exclude)
        if claimed is not None:
            break
    if claimed is None:
        return None
    task_id, response_ids = claimed
    return _lease_insert(project=project, annotator=annotator, now=now, status=status, task_id=task_id,
                         response_ids=response_ids)


def _lease_insert(*, project: Project, annotator, now, status: str, task_id: int,
                  response_ids: list[int]) -> Assignment | None:
    """A new lease on a task whose slot is already secured, with a freshly shuffled display order."""
    order = _rng.sample(response_ids, len(response_ids))
    expires_at = now + timedelta(seconds=project.lease_seconds)
    with connection.cursor() as cursor:
        cursor.execute(_INSERT_LEASE_SQL.format(status=status), {
            "project": project.pk, "task": task_id, "user": annotator.pk, "order": json.dumps(order),
            "now": connection.ops.adapt_datetimefield_value(now),
            "expires": connection.ops.adapt_datetimefield_value(expires_at)})
        row = cursor.fetchone()
    if row is None:  # a parallel request of the same annotator got there first: use its lease
        return Assignment.objects.filter(project=project, annotator=annotator, status=status,
                                         expires_at__gt=now).first()
    return Assignment(pk=row[0], project=project, task_id=task_id, annotator=annotator, display_order=order,
                      status=status, skip_reason="", created_at=now, expires_at=expires_at)


_RESERVED_SQL = """
SELECT p.id, p.task_id FROM annotation_assignment p JOIN annotation_task t ON t.id = p.task_id
WHERE p.project_id = %(project)s AND p.status = '{prefetched}' AND p.expires_at > %(now)s
  AND p.annotator_id <> %(user)s AND t.status = '{open}'
  AND {may_do} AND {not_paused}
  AND NOT EXISTS (SELECT 1 FROM annotation_assignment m
                  WHERE m.annotator_id = %(user)s AND m.task_id = t.id AND m.status = '{active}')
ORDER BY t.priority DESC, t.id
LIMIT 1 {lock}
"""


def _take_over_reservation(*, project: Project, annotator, now) -> Assignment | None:
    """Another annotator's prefetched (not yet started) task, handed to this annotator instead of
    "nothing left": that lease expires and this one takes its slot."""
    db_now = connection.ops.adapt_datetimefield_value(now)
    lock = "FOR UPDATE OF p SKIP LOCKED" if connection.vendor == "postgresql" else ""
    with connection.cursor() as cursor:
        cursor.execute(_RESERVED_SQL.format(lock=lock, may_do=_MAY_DO, prefetched=Assignment.Status.PREFETCHED,
                                           open=Task.Status.OPEN, active=Assignment.Status.ACTIVE,
                                           not_paused=_NOT_PAUSED),
                       {"project": project.pk, "user": annotator.pk, "now": db_now})
        row = cursor.fetchone()
    if row is None:
        return None
    Assignment.objects.filter(pk=row[0]).update(status=Assignment.Status.EXPIRED, finished_at=now)
    return _lease_insert(project=project, annotator=annotator, now=now, status=Assignment.Status.ACTIVE,
                         task_id=row[1], response_ids=_response_ids(row[1]))


def _activate(*, lease: Assignment, project: Project, now, **still) -> Assignment | None:
    """`lease` becomes the annotator's active lease, with a full lease time from now, if it is still
    as `still` says; None otherwise, or when a parallel request made another lease active."""
    expires_at = now + timedelta(seconds=project.lease_seconds)
    try:
        with transaction.atomic():
            changed = Assignment.objects.filter(pk=lease.pk, **still).update(
                status=Assignment.Status.ACTIVE, created_at=now, expires_at=expires_at, finished_at=None)
    except IntegrityError:  # the one-active-lease index: a parallel request got there first
        changed = 0
    if not changed:
        return None
    lease.status, lease.created_at, lease.expires_at, lease.project = Assignment.Status.ACTIVE, now, expires_at, project
    return lease


def _revive(*, project: Project, annotator, lease_id, now) -> Assignment | None:
    """The annotator's lapsed lease `lease_id` active again, display order and all, if its task still
    has room for them: the page kept showing that task (a reservation that ran out while the
    annotator worked on the task before it), so they get to answer what they see."""
    lease = Assignment.objects.filter(pk=lease_id, project=project, annotator=annotator,
                                      status__in=(Assignment.Status.PREFETCHED, Assignment.Status.EXPIRED)).first()
    if lease is None:
        return None
    db_now = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":  # the same lock a claim takes, so a slot is never given twice
            cursor.execute("SELECT id FROM annotation_task WHERE id = %s FOR UPDATE", [lease.task_id])
        cursor.execute(_HAS_ROOM_FOR_SQL, {"task": lease.task_id, "now": db_now, "user": annotator.pk})
        if not cursor.fetchone()[0]:
            return None
    return _activate(lease=lease, project=project, now=now, status=lease.status)


@transaction.atomic
def task_next(*, project: Project, annotator, now=None, shown=None) -> Assignment | None:
    """The annotator's current lease, their prefetched one promoted, or a freshly claimed one; None when
    nothing is left for them. `shown`: the lease id of the task the workspace is already showing
    (its prefetched task), revived if it lapsed and its task still has room."""
    now = now or timezone.now()
    active, prefetched = _held_leases(project=project, annotator=annotator)
    if active is not None:
        if active.expires_at > now:
            return active
        _expire(active, now)
    if prefetched is not None and prefetched.expires_at <= now:
        _expire(prefetched, now)
    elif prefetched is not None:
        promoted = _activate(lease=prefetched, project=project, now=now,  # promoted to the current task
                             status=Assignment.Status.PREFETCHED, expires_at__gt=now)
        if promoted is not None:
            return promoted
        current = lease_active(project=project, annotator=annotator, now=now)
        if current is not None:  # promoted by a parallel request a moment ago
            return current
    if shown is not None:
        revived = _revive(project=project, annotator=annotator, lease_id=shown, now=now)
        if revived is not None:
            return revived
    return (_claim(project=project, annotator=annotator, now=now, status=Assignment.Status.ACTIVE)
            or _take_over_reservation(project=project, annotator=annotator, now=now))


@transaction.atomic
def task_prefetch(*, project: Project, annotator, now=None) -> Assignment | None:
    """Reserves the annotator's next task while they work on their active lease (see "Prefetch")."""
    now = now or timezone.now()
    active, prefetched = _held_leases(project=project, annotator=annotator)
    if active is None or active.expires_at <= now:
        return None  # nothing in progress: task_next serves the next task directly
    if prefetched is not None:
        if prefetched.expires_at > now and prefetched.task_id != active.task_id:
            return prefetched
        _expire(prefetched, now)
    return _claim(project=project, annotator=annotator, now=now, status=Assignment.Status.PREFETCHED,
                  exclude=(active.task_id,))


@transaction.atomic
def leases_expire(*, now=None) -> int:
    """Marks leases past their expiry as expired (they already stopped counting when they expired)."""
    now = now or timezone.now()
    return Assignment.objects.filter(status__in=Assignment.HELD, expires_at__lte=now).update(
        status=Assignment.Status.EXPIRED, finished_at=now
    )
