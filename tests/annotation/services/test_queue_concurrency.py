"""Many annotators claiming, submitting, replaying, skipping and abandoning at once, on PostgreSQL.

Workers also reserve their next task (prefetch) most of the time, as the workspace does.
A virtual clock (the services take `now`) moves the world past lease expiry without sleeping:
phase 1 works at T0 and abandons some leases, phase 2 at T0 + lease + 1 s mixes late submissions
of the abandoned leases with fresh claims, phase 3 drains the queue. After every phase the
database must hold the invariants the issue promises.
"""
import random
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Count, Q
from django.utils import timezone

from annotation.services import judgements, queue
from annotation.models import Assignment, Judgement, PreferencePair, Task
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)

N_TASKS, OVERLAP, N_ANNOTATORS, LEASE = 40, 3, 14, 30


class Ledger:
    """What the threads were told: every accepted submission must be in the database afterwards."""

    def __init__(self):
        self.lock = threading.Lock()
        self.accepted: dict[int, int] = {}  # assignment id -> judgement id
        self.abandoned: list[Assignment] = []
        self.skips = 0
        self.prefetched = 0
        self.errors: list[BaseException] = []
        self.superseded: set[int] = set()  # abandoned leases the annotator's other tab skipped meanwhile

    def accept(self, assignment, judgement):
        with self.lock:
            previous = self.accepted.setdefault(assignment.pk, judgement.pk)
            assert previous == judgement.pk, "a replay returned a different judgement"


def answer(assignment):
    order = assignment.display_order
    return {"ranking": [[order[0]], [order[1]]], "strength": 1}


def in_thread(fn):
    def run(*args):
        try:
            fn(*args)
        except BaseException as exc:  # surfaced by the test, not swallowed
            ledger = args[-1]
            ledger.errors.append(exc)
        finally:
            connection.close()
    return run


@in_thread
def worker(project, annotator, now, seed, abandon_rate, skip_rate, ledger):
    rng = random.Random(seed)
    for _ in range(60):
        lease = queue.task_next(project=project, annotator=annotator, now=now)
        if lease is None:
            return
        if rng.random() < 0.6:  # the workspace reserves the next task while this one is worked on
            if queue.task_prefetch(project=project, annotator=annotator, now=now) is not None:
                with ledger.lock:
                    ledger.prefetched += 1
        roll = rng.random()
        if roll < abandon_rate:
            with ledger.lock:
                ledger.abandoned.append(lease)
            return  # this annotator walks away; the lease must expire and return to the queue
        try:
            if roll < abandon_rate + skip_rate:
                judgements.assignment_skip(assignment=lease, reason="outside my expertise", now=now)
                with ledger.lock:
                    ledger.skips += 1
                continue
            for _ in range(2 if rng.random() < 0.3 else 1):  # a double click or a retry
                judgement, _ = judgements.judgement_submit(assignment=lease, now=now, **answer(lease))
                ledger.accept(lease, judgement)
        except judgements.AssignmentConflict:
            pass  # the twin tab skipped or judged this lease first; nothing was accepted here


@in_thread
def late_submitter(lease, now, ledger):
    try:
        judgement, _ = judgements.judgement_submit(assignment=lease, now=now, **answer(lease))
    except judgements.AssignmentConflict:
        # Legitimate only when the same annotator's twin tab skipped this very lease before it was
        # abandoned here (both tabs are served the annotator's one active lease).
        lease.refresh_from_db()
        if lease.status != Assignment.Status.SKIPPED:
            raise
        with ledger.lock:
            ledger.superseded.add(lease.pk)
        return
    ledger.accept(lease, judgement)


def run_all(jobs):
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        for future in [pool.submit(*job) for job in jobs]:
            future.result()


def assert_invariants(project, ledger, now):
    assert not ledger.errors, "\n\n".join(map(str, ledger.errors))
    tasks = Task.objects.filter(project=project).annotate(
        counted=Count("judgements", filter=Q(judgements__is_surplus=False), distinct=True),
        leases=Count("assignments", filter=Q(assignments__status__in=Assignment.HELD,
                                             assignments__expires_at__gt=now), distinct=True))
    for task in tasks:
        assert task.counted == task.completed_judgements <= task.target_judgements, f"task {task.pk} over target"
        assert task.completed_judgements + task.leases <= task.target_judgements, f"task {task.pk} over-leased"
        assert (task.status == Task.Status.COMPLETE) == (task.completed_judgements == task.target_judgements)
    per_annotator_task = Counter(Judgement.objects.filter(task__project=project).values_list("task", "annotator"))
    assert max(per_annotator_task.values(), default=1) == 1, "someone judged a task twice"
    stored = set(Judgement.objects.filter(task__project=project).values_list("id", flat=True))
    assert set(ledger.accepted.values()) <= stored, "an accepted submission is missing"
    assert len(stored) == len(set(ledger.accepted.values())), "a judgement nobody was told about"
    assert PreferencePair.objects.filter(project=project).count() == len(stored)
    for status in Assignment.HELD:
        held = Counter(Assignment.objects.filter(project=project, status=status).values_list("annotator", flat=True))
        assert max(held.values(), default=1) == 1, f"an annotator holds two {status} leases"


def test_concurrent_claims_and_submissions_keep_every_invariant():
    project = factories.ProjectFactory(overlap=OVERLAP, lease_seconds=LEASE)
    for i in range(N_TASKS):
        factories.task(project, priority=i % 7)
    annotators = [factories.member(project, "annotator") for _ in range(N_ANNOTATORS)]
    ledger = Ledger()
    t0 = timezone.now()

    # Phase 1: everyone at once; two annotators work in two tabs each; some walk away mid-task.
    twins = annotators[:2]
    run_all([(worker, project, a, t0, i, 0.15, 0.1, ledger) for i, a in enumerate(annotators + twins)])
    assert_invariants(project, ledger, t0)
    assert ledger.abandoned, "the scenario should abandon some leases"
    assert ledger.prefetched > 10, "the scenario should reserve next tasks"

    # Phase 2: the abandoned leases have expired; their owners submit late while others claim.
    t1 = t0 + timedelta(seconds=LEASE + 1)
    late = [(late_submitter, lease, t1, ledger) for lease in ledger.abandoned]
    fresh = [(worker, project, a, t1, 100 + i, 0.0, 0.05, ledger) for i, a in enumerate(annotators)]
    run_all(late + fresh)
    assert_invariants(project, ledger, t1)
    assert all(a.pk in ledger.accepted or a.pk in ledger.superseded for a in ledger.abandoned), \
        "a late submission was dropped"

    # Phase 3: drain. Expired leases came back, so every task reaches its target.
    t2 = t1 + timedelta(seconds=LEASE + 1)
    run_all([(worker, project, a, t2, 200 + i, 0.0, 0.0, ledger) for i, a in enumerate(annotators)])
    assert_invariants(project, ledger, t2)
    assert set(Task.objects.filter(project=project).values_list("status", flat=True)) == {Task.Status.COMPLETE}
    assert Judgement.objects.filter(task__project=project, is_surplus=False).count() == N_TASKS * OVERLAP
    assert len(ledger.accepted) > N_TASKS * OVERLAP - 1


def test_adaptive_overlap_under_concurrency_never_passes_the_maximum():
    """The same storm on a project with adaptive overlap. Annotators pick the response shown first, so
    about half the tasks are disputed at every step (threshold 0: any disagreement): targets go up
    while others claim and submit, and none may pass max_overlap or leave a task over-leased."""
    project = factories.ProjectFactory(overlap=2, lease_seconds=LEASE, adaptive_overlap=True, max_overlap=4,
                                       dispute_threshold=0.0)
    for i in range(24):
        factories.task(project, priority=i % 5)
    annotators = [factories.member(project, "annotator") for _ in range(N_ANNOTATORS)]
    ledger = Ledger()
    t0 = timezone.now()
    run_all([(worker, project, a, t0, 300 + i, 0.1, 0.05, ledger) for i, a in enumerate(annotators + annotators[:2])])
    assert_invariants(project, ledger, t0)
    t1 = t0 + timedelta(seconds=LEASE + 1)
    run_all([(late_submitter, lease, t1, ledger) for lease in ledger.abandoned]
            + [(worker, project, a, t1, 400 + i, 0.0, 0.0, ledger) for i, a in enumerate(annotators)])
    assert_invariants(project, ledger, t1)

    targets = Counter(Task.objects.filter(project=project).values_list("target_judgements", flat=True))
    assert max(targets) <= 4, targets
    assert set(targets) - {2}, "some disputed task should have asked for more judgements"
    for task in Task.objects.filter(project=project, status=Task.Status.COMPLETE, target_judgements__lt=4):
        answers = [tuple(map(tuple, r)) for r in task.judgements.filter(is_surplus=False).values_list("ranking", flat=True)]
        assert len(set(answers)) == 1, f"task {task.pk} completed below the maximum while disputed"
