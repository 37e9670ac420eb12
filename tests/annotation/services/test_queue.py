"""The queue engine: priority, overlap counting leases, lease expiry and reuse, skips, gold."""
from datetime import timedelta

import pytest
from django.db import IntegrityError
from django.utils import timezone

from annotation.services import judgements, queue
from annotation.services.gold import task_mark_gold
from annotation.models import Assignment, Task
from tests import factories

pytestmark = pytest.mark.django_db


def pairwise_answer(assignment):
    return {"ranking": [[assignment.display_order[0]], [assignment.display_order[1]]], "strength": 1}


def test_serves_highest_priority_open_task(project, annotator):
    factories.task(project, priority=1.0)
    best = factories.task(project, priority=5.0)
    factories.task(project, priority=3.0, metadata={})
    Task.objects.filter(pk=factories.task(project, priority=9.0).pk).update(status=Task.Status.POOL)

    assignment = queue.task_next(project=project, annotator=annotator)

    assert assignment.task_id == best.pk
    assert assignment.status == Assignment.Status.ACTIVE
    assert assignment.expires_at > timezone.now() + timedelta(seconds=project.lease_seconds - 5)


def test_display_order_is_a_stored_permutation_of_the_responses(project, annotator):
    task = factories.task(project, n_responses=5)
    assignment = queue.task_next(project=project, annotator=annotator)
    assignment.refresh_from_db()
    assert sorted(assignment.display_order) == sorted(task.responses.values_list("id", flat=True))


def test_display_order_is_shuffled_across_assignments(project):
    factories.task(project, n_responses=4)
    project.overlap = 30
    project.save()
    Task.objects.update(target_judgements=30)
    orders = {tuple(queue.task_next(project=project, annotator=factories.member(project, "annotator")).display_order)
              for _ in range(30)}
    assert len(orders) > 1


def test_reload_returns_the_same_unexpired_lease(project, annotator):
    factories.task(project)
    factories.task(project)
    first = queue.task_next(project=project, annotator=annotator)
    again = queue.task_next(project=project, annotator=annotator)
    assert again.pk == first.pk
    assert again.display_order == first.display_order


def test_active_leases_count_towards_the_overlap_target(project):
    project.overlap = 2
    project.save()
    task = factories.task(project)
    first, second, third = (factories.member(project, "annotator") for _ in range(3))
    assert queue.task_next(project=project, annotator=first).task_id == task.pk
    assert queue.task_next(project=project, annotator=second).task_id == task.pk
    assert queue.task_next(project=project, annotator=third) is None


def test_expired_lease_returns_the_task_to_the_queue(project):
    task = factories.task(project)
    slow, fast = factories.member(project, "annotator"), factories.member(project, "annotator")
    lease = queue.task_next(project=project, annotator=slow)
    assert queue.task_next(project=project, annotator=fast) is None

    later = lease.expires_at + timedelta(seconds=1)
    reclaimed = queue.task_next(project=project, annotator=fast, now=later)
    assert reclaimed.task_id == task.pk
    assert queue.leases_expire(now=later) == 1
    lease.refresh_from_db()
    assert lease.status == Assignment.Status.EXPIRED


def test_own_expired_lease_is_replaced_by_a_fresh_one(project, annotator):
    factories.task(project)
    lease = queue.task_next(project=project, annotator=annotator)
    later = lease.expires_at + timedelta(seconds=1)
    fresh = queue.task_next(project=project, annotator=annotator, now=later)
    assert fresh.pk != lease.pk
    assert fresh.expires_at > later
    lease.refresh_from_db()
    assert lease.status == Assignment.Status.EXPIRED


def test_database_allows_one_active_lease_per_annotator_and_project(project, annotator):
    factories.task(project)
    other = factories.task(project)
    lease = queue.task_next(project=project, annotator=annotator)
    with pytest.raises(IntegrityError):
        Assignment.objects.create(project=project, task=other, annotator=annotator, display_order=[],
                                  expires_at=lease.expires_at)


def test_judged_and_skipped_tasks_are_not_served_again(project, annotator):
    project.overlap = 3
    project.save()
    judged, skipped, fresh = (factories.task(project, priority=p) for p in (3, 2, 1))
    lease = queue.task_next(project=project, annotator=annotator)
    assert lease.task_id == judged.pk
    judgements.judgement_submit(assignment=lease, **pairwise_answer(lease))
    lease = queue.task_next(project=project, annotator=annotator)
    assert lease.task_id == skipped.pk
    judgements.assignment_skip(assignment=lease, reason="outside my expertise")
    assert queue.task_next(project=project, annotator=annotator).task_id == fresh.pk


def test_task_completes_at_its_target_and_leaves_the_queue(project):
    project.overlap = 2
    project.save()
    task = factories.task(project)
    for _ in range(2):
        lease = queue.task_next(project=project, annotator=factories.member(project, "annotator"))
        judgements.judgement_submit(assignment=lease, **pairwise_answer(lease))
    task.refresh_from_db()
    assert (task.status, task.completed_judgements) == (Task.Status.COMPLETE, 2)
    assert queue.task_next(project=project, annotator=factories.member(project, "annotator")) is None


def test_gold_rate_one_serves_gold_first_and_falls_back_to_regular(project, annotator):
    regular = factories.task(project, priority=10)
    gold = factories.task(project, priority=0)
    task_mark_gold(task=gold, gold_ranking=[[r] for r in gold.responses.values_list("id", flat=True)])
    project.gold_rate = 1.0
    project.save()
    lease = queue.task_next(project=project, annotator=annotator)
    assert lease.task_id == gold.pk
    judgements.judgement_submit(assignment=lease, **pairwise_answer(lease))
    assert queue.task_next(project=project, annotator=annotator).task_id == regular.pk


def test_gold_rate_zero_still_serves_gold_when_nothing_else_is_left(project, annotator):
    gold = factories.task(project)
    task_mark_gold(task=gold, gold_ranking=[list(gold.responses.values_list("id", flat=True))])
    assert queue.task_next(project=project, annotator=annotator).task_id == gold.pk


def test_leases_are_per_project(annotator, project):
    other_project = factories.ProjectFactory()
    factories.member(other_project, "annotator", user=annotator)
    factories.task(project)
    factories.task(other_project)
    assert queue.task_next(project=project, annotator=annotator).project_id == project.pk
    assert queue.task_next(project=other_project, annotator=annotator).project_id == other_project.pk


# --- prefetch: the next task reserved while the annotator works on the current one ---

def test_prefetch_reserves_a_second_task_that_holds_a_slot(project, annotator):
    project.overlap = 1
    project.save()
    first = factories.task(project, priority=3)
    second = factories.task(project, priority=2)
    lease = queue.task_next(project=project, annotator=annotator)
    nxt = queue.task_prefetch(project=project, annotator=annotator)
    assert (lease.task_id, nxt.task_id) == (first.pk, second.pk)
    assert nxt.status == Assignment.Status.PREFETCHED
    assert queue.task_prefetch(project=project, annotator=annotator).pk == nxt.pk  # asking again: the same one
    # Both tasks are full for everyone else: a started lease is never taken, a reservation can be.
    other = queue.task_next(project=project, annotator=factories.member(project, "annotator"))
    assert other.task_id == second.pk
    assert queue.task_next(project=project, annotator=factories.member(project, "annotator")) is None


def test_next_task_promotes_the_prefetched_lease_with_a_fresh_lease_time(project, annotator):
    factories.task(project, priority=2)
    factories.task(project, priority=1)
    start = timezone.now()
    lease = queue.task_next(project=project, annotator=annotator, now=start)
    nxt = queue.task_prefetch(project=project, annotator=annotator, now=start)
    judgements.judgement_submit(assignment=lease, **pairwise_answer(lease), now=start + timedelta(seconds=400))
    later = start + timedelta(seconds=500)
    promoted = queue.task_next(project=project, annotator=annotator, now=later)
    assert promoted.pk == nxt.pk
    promoted.refresh_from_db()
    assert promoted.status == Assignment.Status.ACTIVE
    assert promoted.expires_at == later + timedelta(seconds=project.lease_seconds)
    assert promoted.display_order == nxt.display_order  # what the page already shows


def test_an_expired_prefetched_lease_frees_its_task_and_is_not_promoted(project, annotator):
    project.overlap = 1
    project.save()
    factories.task(project, priority=3)
    reserved = factories.task(project, priority=2)
    start = timezone.now()
    queue.task_next(project=project, annotator=annotator, now=start)
    assert queue.task_prefetch(project=project, annotator=annotator, now=start).task_id == reserved.pk
    after_expiry = start + timedelta(seconds=project.lease_seconds + 1)
    others = [queue.task_next(project=project, annotator=factories.member(project, "annotator"), now=after_expiry)
              for _ in range(2)]
    assert others[1].task_id == reserved.pk  # expired reservations stop counting at once
    assert queue.leases_expire(now=after_expiry) == 2  # the sweep closes the expired active and prefetched leases
    assert set(Assignment.objects.filter(annotator=annotator).values_list("status", flat=True)) == {"expired"}
    assert queue.task_next(project=project, annotator=annotator, now=after_expiry) is None


def test_no_prefetch_without_a_current_lease_or_when_nothing_else_is_left(project, annotator):
    factories.task(project)
    assert queue.task_prefetch(project=project, annotator=annotator) is None
    queue.task_next(project=project, annotator=annotator)
    assert queue.task_prefetch(project=project, annotator=annotator) is None  # the only task is the current one


def test_database_allows_one_prefetched_lease_per_annotator_and_project(project, annotator):
    a, b = factories.task(project), factories.task(project)
    Assignment.objects.create(project=project, task=a, annotator=annotator, display_order=[],
                              status=Assignment.Status.PREFETCHED, expires_at=timezone.now())
    with pytest.raises(IntegrityError):
        Assignment.objects.create(project=project, task=b, annotator=annotator, display_order=[],
                                  status=Assignment.Status.PREFETCHED, expires_at=timezone.now())


def test_someone_with_nothing_to_do_takes_over_a_reservation_instead_of_hearing_nothing_left(project, annotator):
    project.overlap = 1
    project.save()
    factories.task(project, priority=2)
    reserved = factories.task(project, priority=1)
    mine = queue.task_next(project=project, annotator=annotator)
    upcoming = queue.task_prefetch(project=project, annotator=annotator)
    assert upcoming.task_id == reserved.pk
    other = queue.task_next(project=project, annotator=factories.member(project, "annotator"))
    assert other is not None and other.task_id == reserved.pk and other.status == Assignment.Status.ACTIVE
    upcoming.refresh_from_db()
    assert upcoming.status == Assignment.Status.EXPIRED
    held = Assignment.objects.filter(task=reserved, status__in=Assignment.HELD).count()
    assert held == 1  # the slot changed hands; the task is still within its target
    judgements.judgement_submit(assignment=mine, **pairwise_answer(mine))
    assert queue.task_next(project=project, annotator=annotator) is None  # the first annotator moves on to nothing


def test_a_lapsed_reservation_on_screen_is_revived_with_its_display_order_when_its_task_has_room(project, annotator):
    factories.task(project, priority=2)
    factories.task(project, priority=1)
    start = timezone.now()
    first = queue.task_next(project=project, annotator=annotator, now=start)
    shown = queue.task_prefetch(project=project, annotator=annotator, now=start)
    late = start + timedelta(seconds=project.lease_seconds + 60)  # 11 minutes on the first task
    judgements.judgement_submit(assignment=first, **pairwise_answer(first), now=late)
    revived = queue.task_next(project=project, annotator=annotator, now=late, shown=shown.pk)
    assert revived.pk == shown.pk and revived.display_order == shown.display_order
    assert revived.status == Assignment.Status.ACTIVE
    assert revived.expires_at == late + timedelta(seconds=project.lease_seconds)


def test_a_lapsed_reservation_whose_slot_went_to_someone_else_is_not_revived(project, annotator):
    project.overlap = 1
    project.save()
    factories.task(project, priority=2)
    factories.task(project, priority=1)
    start = timezone.now()
    first = queue.task_next(project=project, annotator=annotator, now=start)
    shown = queue.task_prefetch(project=project, annotator=annotator, now=start)
    late = start + timedelta(seconds=project.lease_seconds + 60)
    judgements.judgement_submit(assignment=first, **pairwise_answer(first), now=late)  # late, still counted
    other = queue.task_next(project=project, annotator=factories.member(project, "annotator"), now=late)
    assert other.task_id == shown.task_id  # the reservation had lapsed, so its task was free
    assert queue.task_next(project=project, annotator=annotator, now=late, shown=shown.pk) is None
    assert Assignment.objects.filter(task_id=shown.task_id, status__in=Assignment.HELD).count() == 1
