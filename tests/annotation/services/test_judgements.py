"""Judgement submission: validation, idempotency, late and surplus answers, pairs, skips, gold."""
from datetime import timedelta

import pytest

from annotation.services import judgements, queue
from annotation.services.gold import task_mark_gold, task_unmark_gold
from annotation.models import Assignment, Judgement, PreferencePair, Task
from tests import factories

pytestmark = pytest.mark.django_db


def lease_for(project, annotator=None, **task_kwargs):
    factories.task(project, **task_kwargs)
    return queue.task_next(project=project, annotator=annotator or factories.member(project, "annotator"))


def overall_pairs(judgement):
    return {(p.chosen_id, p.rejected_id, p.margin, p.is_tie)
            for p in PreferencePair.objects.filter(judgement=judgement, criterion="")}


def test_pairwise_preference_writes_one_pair_with_margin_from_strength(project):
    lease = lease_for(project)
    a, b = lease.display_order
    judgement, created = judgements.judgement_submit(assignment=lease, ranking=[[b], [a]], strength=2,
                                                  duration_ms=4200)
    assert created
    assert overall_pairs(judgement) == {(b, a, 3.0, False)}
    pair = PreferencePair.objects.get(judgement=judgement)
    assert (pair.source, pair.annotator_id, pair.strength, pair.prompt_id) == (
        "human", lease.annotator_id, 2, lease.task.prompt_id)
    assert judgement.display_order == lease.display_order
    assert judgement.duration_ms == 4200
    lease.refresh_from_db()
    assert lease.status == Assignment.Status.SUBMITTED


def test_kway_ranking_writes_every_pair_with_group_distance_margins(project):
    project.mode = "ranking"
    project.save()
    lease = lease_for(project, n_responses=4)
    r1, r2, r3, r4 = lease.display_order
    judgement, _ = judgements.judgement_submit(assignment=lease, ranking=[[r3], [r1, r4], [r2]])
    assert overall_pairs(judgement) == {
        (r3, r1, 1.0, False), (r3, r4, 1.0, False), (r3, r2, 2.0, False),
        (r1, r4, 0.0, True), (r1, r2, 1.0, False), (r4, r2, 1.0, False),
    }


@pytest.mark.parametrize("k", [3, 5, 9])
def test_kway_ranking_yields_k_choose_2_pairs(project, k):
    lease = lease_for(project, n_responses=k)
    judgement, _ = judgements.judgement_submit(assignment=lease, ranking=[[r] for r in lease.display_order])
    assert PreferencePair.objects.filter(judgement=judgement).count() == k * (k - 1) // 2


def test_tie_writes_a_tie_row_without_strength(project):
    lease = lease_for(project)
    judgement, _ = judgements.judgement_submit(assignment=lease, ranking=[lease.display_order], strength=3)
    assert judgement.strength is None
    assert overall_pairs(judgement) == {(*lease.display_order, 0.0, True)}


def test_criteria_write_their_own_pairs(project):
    factories.rubric(project, keys=("helpful", "safe"))
    project.refresh_from_db()
    lease = lease_for(project)
    a, b = lease.display_order
    judgement, _ = judgements.judgement_submit(assignment=lease, ranking=[[a], [b]], strength=0,
                                            criteria={"helpful": [[b], [a]], "safe": [[a, b]]})
    rows = {(p.criterion, p.chosen_id, p.rejected_id, p.is_tie) for p in PreferencePair.objects.filter(judgement=judgement)}
    assert rows == {("", a, b, False), ("helpful", b, a, False), ("safe", a, b, True)}
    assert judgement.rubric_id == project.rubric_id


def test_both_bad_stores_the_flag_and_writes_no_overall_pairs(project):
    factories.rubric(project, keys=("safe",))
    project.refresh_from_db()
    lease = lease_for(project)
    a, b = lease.display_order
    judgement, _ = judgements.judgement_submit(assignment=lease, both_bad=True, criteria={"safe": [[a], [b]]})
    assert judgement.both_bad and judgement.ranking == [[a, b]]
    assert list(PreferencePair.objects.filter(judgement=judgement).values_list("criterion", flat=True)) == ["safe"]


def test_submitting_twice_stores_one_judgement(project):
    lease = lease_for(project)
    a, b = lease.display_order
    first, created = judgements.judgement_submit(assignment=lease, ranking=[[a], [b]], strength=1)
    again, created_again = judgements.judgement_submit(assignment=lease, ranking=[[b], [a]], strength=3)
    assert created and not created_again
    assert again.pk == first.pk and again.ranking == [[a], [b]]
    assert Judgement.objects.count() == 1 and PreferencePair.objects.count() == 1
    task = Task.objects.get(pk=lease.task_id)
    assert task.completed_judgements == 1


def test_late_submission_with_room_left_counts(project):
    lease = lease_for(project)
    late = lease.expires_at + timedelta(minutes=5)
    queue.leases_expire(now=late)
    judgement, created = judgements.judgement_submit(assignment=lease, ranking=[lease.display_order], now=late)
    assert created and not judgement.is_surplus
    assert Task.objects.get(pk=lease.task_id).status == Task.Status.COMPLETE


def test_late_submission_never_takes_a_valid_leaseholders_slot(project):
    slow_lease = lease_for(project)
    late = slow_lease.expires_at + timedelta(seconds=1)
    fast_lease = queue.task_next(project=project, annotator=factories.member(project, "annotator"), now=late)
    assert fast_lease.task_id == slow_lease.task_id

    slow, _ = judgements.judgement_submit(assignment=slow_lease, ranking=[slow_lease.display_order], now=late)
    fast, _ = judgements.judgement_submit(assignment=fast_lease, ranking=[fast_lease.display_order], now=late)

    assert slow.is_surplus and not fast.is_surplus
    task = Task.objects.get(pk=slow_lease.task_id)
    assert (task.completed_judgements, task.status) == (1, Task.Status.COMPLETE)
    assert PreferencePair.objects.get(judgement=slow).provenance["surplus"] is True


def test_late_submission_after_the_task_completed_is_kept_as_surplus(project):
    slow_lease = lease_for(project)
    late = slow_lease.expires_at + timedelta(seconds=1)
    fast_lease = queue.task_next(project=project, annotator=factories.member(project, "annotator"), now=late)
    judgements.judgement_submit(assignment=fast_lease, ranking=[fast_lease.display_order], now=late)
    slow, created = judgements.judgement_submit(assignment=slow_lease, ranking=[slow_lease.display_order], now=late)
    assert created and slow.is_surplus
    assert Task.objects.get(pk=slow_lease.task_id).completed_judgements == 1


@pytest.mark.parametrize("payload, message", [
    ({"ranking": None}, "ranking: must be a non-empty list"),
    ({"ranking": [[999999999]]}, "response 999999999 is not part of this task"),
    ({"ranking": "first"}, "ranking: must be a non-empty list"),
    ({"strength": 4}, "strength: must be an index into the strength scale: 0..3"),
    ({"strength": -1}, "strength: must be an index"),
    ({"duration_ms": -5}, "duration_ms"),
])
def test_invalid_answers_are_rejected_with_a_specific_message(project, payload, message):
    lease = lease_for(project)
    a, b = lease.display_order
    answer = {"ranking": [[a], [b]], "strength": 1, **payload}
    with pytest.raises(judgements.JudgementInvalid, match=message):
        judgements.judgement_submit(assignment=lease, **answer)
    assert not Judgement.objects.exists()


def test_ranking_must_cover_each_response_exactly_once(project):
    lease = lease_for(project, n_responses=3)
    a, b, c = lease.display_order
    with pytest.raises(judgements.JudgementInvalid, match=r"missing \["):
        judgements.judgement_submit(assignment=lease, ranking=[[a], [b]])
    with pytest.raises(judgements.JudgementInvalid, match="more than once"):
        judgements.judgement_submit(assignment=lease, ranking=[[a], [b], [c], [a]])


def test_ties_and_both_bad_obey_the_project(project):
    project.allow_ties = False
    project.allow_both_bad = False
    project.save()
    lease = lease_for(project)
    with pytest.raises(judgements.JudgementInvalid, match="ties are not allowed"):
        judgements.judgement_submit(assignment=lease, ranking=[lease.display_order])
    with pytest.raises(judgements.JudgementInvalid, match="both bad"):
        judgements.judgement_submit(assignment=lease, both_bad=True)


def test_required_rationale_and_criteria(project):
    factories.rubric(project, keys=("helpful",))
    project.rationale_required = True
    project.save()
    project.refresh_from_db()
    lease = lease_for(project)
    a, b = lease.display_order
    with pytest.raises(judgements.JudgementInvalid, match="missing helpful"):
        judgements.judgement_submit(assignment=lease, ranking=[[a], [b]], rationale="because")
    with pytest.raises(judgements.JudgementInvalid, match="rationale: this project requires"):
        judgements.judgement_submit(assignment=lease, ranking=[[a], [b]], criteria={"helpful": [[a], [b]]},
                                 rationale="   ")
    with pytest.raises(judgements.JudgementInvalid, match="unknown criterion bogus"):
        judgements.judgement_submit(assignment=lease, ranking=[[a], [b]], rationale="x",
                                 criteria={"helpful": [[a], [b]], "bogus": [[a], [b]]})


def test_skip_is_recorded_and_blocks_a_later_judgement(project):
    lease = lease_for(project)
    judgements.assignment_skip(assignment=lease, reason="broken prompt")
    judgements.assignment_skip(assignment=lease, reason="broken prompt")  # a retry is harmless
    lease.refresh_from_db()
    assert (lease.status, lease.skip_reason) == (Assignment.Status.SKIPPED, "broken prompt")
    with pytest.raises(judgements.AssignmentConflict):
        judgements.judgement_submit(assignment=lease, ranking=[lease.display_order])


def test_skip_needs_a_reason_and_cannot_undo_a_judgement(project):
    lease = lease_for(project)
    with pytest.raises(judgements.JudgementInvalid, match="reason"):
        judgements.assignment_skip(assignment=lease, reason=" ")
    judgements.judgement_submit(assignment=lease, ranking=[lease.display_order])
    with pytest.raises(judgements.AssignmentConflict):
        judgements.assignment_skip(assignment=lease, reason="changed my mind")


def test_gold_answers_are_scored(project):
    task = factories.task(project)
    a, b = task.responses.order_by("slots__position").values_list("id", flat=True)
    task_mark_gold(task=task, gold_ranking=[[a], [b]], target_judgements=3)
    right = queue.task_next(project=project, annotator=factories.member(project, "annotator"))
    wrong = queue.task_next(project=project, annotator=factories.member(project, "annotator"))
    assert judgements.judgement_submit(assignment=right, ranking=[[a], [b]], strength=0)[0].gold_correct is True
    assert judgements.judgement_submit(assignment=wrong, ranking=[[b], [a]], strength=0)[0].gold_correct is False


def test_marking_gold_validates_the_answer_and_rescores_existing_judgements(project):
    lease = lease_for(project)
    a, b = lease.display_order
    judgement, _ = judgements.judgement_submit(assignment=lease, ranking=[[a], [b]], strength=0)
    with pytest.raises(judgements.JudgementInvalid, match="gold_ranking"):
        task_mark_gold(task=lease.task, gold_ranking=[[a]])
    task = task_mark_gold(task=lease.task, gold_ranking=[[b], [a]], target_judgements=2)
    assert task.is_gold and task.status == Task.Status.OPEN
    judgement.refresh_from_db()
    assert judgement.gold_correct is False
    task_unmark_gold(task=task)
    judgement.refresh_from_db()
    assert judgement.gold_correct is None


def test_revising_the_last_judgement_replaces_its_answer_and_pairs_never_adds_one(project):
    project.overlap = 2
    project.save()
    factories.rubric(project, keys=("helpful",))
    annotator = factories.member(project, "annotator")
    lease = lease_for(project, annotator)
    a, b = lease.display_order
    first, _ = judgements.judgement_submit(assignment=lease, ranking=[[a], [b]], strength=0,
                                           criteria={"helpful": [[a], [b]]})
    revised = judgements.judgement_revise(judgement=first, ranking=[[b], [a]], strength=3,
                                          criteria={"helpful": [[a, b]]}, rationale="B is right after all.")
    assert Judgement.objects.filter(annotator=annotator).count() == 1
    assert (revised.pk, revised.revision, revised.ranking, revised.strength) == (first.pk, 1, [[b], [a]], 3)
    assert revised.history[0]["ranking"] == [[a], [b]] and revised.history[0]["strength"] == 0
    assert overall_pairs(revised) == {(b, a, 4.0, False)}
    assert set(PreferencePair.objects.filter(judgement=revised, criterion="helpful")
               .values_list("is_tie", flat=True)) == {True}
    assert PreferencePair.objects.filter(judgement=revised).count() == 2
    task = Task.objects.get(pk=lease.task_id)
    assert task.completed_judgements == 1  # counted once, as before


def test_only_the_last_judgement_of_an_open_or_recent_task_can_be_revised(project):
    annotator = factories.member(project, "annotator")
    first_lease = lease_for(project, annotator)
    first, _ = judgements.judgement_submit(assignment=first_lease, ranking=[[r] for r in first_lease.display_order])
    second_lease = lease_for(project, annotator)
    second, _ = judgements.judgement_submit(assignment=second_lease, ranking=[[r] for r in second_lease.display_order])
    with pytest.raises(judgements.AssignmentConflict, match="Only your last judgement"):
        judgements.judgement_revise(judgement=first, ranking=[[r] for r in reversed(first_lease.display_order)])
    later = second.created_at + judgements.REVISION_WINDOW + timedelta(seconds=1)
    assert Task.objects.get(pk=second.task_id).status == Task.Status.COMPLETE  # overlap 1
    with pytest.raises(judgements.AssignmentConflict, match="can no longer be revised"):
        judgements.judgement_revise(judgement=second, ranking=[[r] for r in reversed(second_lease.display_order)],
                                    now=later)
    with pytest.raises(judgements.JudgementInvalid):
        judgements.judgement_revise(judgement=second, ranking=[[999]])
    second.refresh_from_db()
    assert second.revision == 0 and second.history == []
