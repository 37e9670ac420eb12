import json
from datetime import timedelta

import pyarrow.parquet as pq
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from annotation.models import Batch, PreferencePair
from rewardtrain.models import DatasetSnapshot, SnapshotImmutable
from rewardtrain.snapshots.aggregation import annotator_pseudonym
from rewardtrain.snapshots.filters import SnapshotError, filters_build
from rewardtrain.snapshots.services import snapshot_create, snapshot_verify
from tests import factories


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def rows_of(snapshot):
    with default_storage.open(snapshot.artifact.name, "rb") as handle:
        return [json.loads(line) for line in handle]


def cut(project, aggregation="every", seed=0, val_fraction=0.1, **filters):
    return snapshot_create(project=project, filters=filters_build(project=project, **filters),
                           aggregation=aggregation, seed=seed, val_fraction=val_fraction)


def test_snapshot_freezes_pairs_with_hash_counts_and_stored_artifacts(project):
    factories.judged_pair(project, strength=2)
    factories.judged_pair(project, prefer=1)
    factories.imported_pair(project)

    snap = cut(project, val_fraction=0)

    assert (snap.version, snap.train_rows, snap.val_rows) == (1, 3, 0)
    assert len(snap.sha256) == 64
    assert snapshot_verify(snapshot=snap).ok
    rows = rows_of(snap)
    assert {r["source"] for r in rows} == {"human", "imported"}
    assert snap.stats["by_source"] == {"human": 2, "imported": 1}
    table = pq.read_table(default_storage.path(snap.artifact_parquet.name))
    assert table.num_rows == 3
    assert table.column("chosen").to_pylist() == [r["chosen"] for r in rows]


def test_versions_count_per_project(project):
    other = factories.ProjectFactory()
    factories.judged_pair(project)
    factories.judged_pair(other)
    assert [cut(project).version, cut(project).version, cut(other).version] == [1, 2, 1]


def test_same_filters_over_same_data_give_the_same_hash_and_new_data_changes_it(project):
    for _ in range(3):
        factories.judged_pair(project)
    first, second = cut(project), cut(project)
    assert first.sha256 == second.sha256
    assert first.parquet_sha256 == second.parquet_sha256
    factories.judged_pair(project)
    assert cut(project).sha256 != first.sha256


def test_split_is_by_prompt_so_no_prompt_is_on_both_sides(project):
    annotators = [factories.member(project, "annotator") for _ in range(3)]
    for _ in range(40):
        t = factories.task(project, n_responses=3)
        for a in annotators:
            factories.judgement(t, a)
    snap = cut(project, val_fraction=0.3, seed=1)
    rows = rows_of(snap)
    sides = {}
    for r in rows:
        sides.setdefault(r["prompt_id"], set()).add(r["split"])
    assert all(len(s) == 1 for s in sides.values())
    val_prompts = {p for p, s in sides.items() if s == {"val"}}
    assert 0 < len(val_prompts) < 40
    assert snap.val_rows == sum(r["split"] == "val" for r in rows)
    other_seed = {r["prompt_id"] for r in rows_of(cut(project, val_fraction=0.3, seed=2)) if r["split"] == "val"}
    assert other_seed != val_prompts


def test_filters_by_criterion_source_batch_dates_gold_and_annotator(project):
    factories.rubric(project, keys=("helpfulness",))
    batch = Batch.objects.create(project=project, name="b1")
    alice = factories.member(project, "annotator")
    bob = factories.member(project, "annotator")
    t1 = factories.task(project, batch=batch)
    r1 = list(t1.slots.values_list("response_id", flat=True))
    factories.judgement(t1, alice, criteria={"helpfulness": [[r1[1]], [r1[0]]]})
    factories.judged_pair(project, bob)
    gold = factories.task(project, is_gold=True, gold_ranking=[[1], [2]])
    factories.judged_pair(project, alice, task=gold)
    old = factories.imported_pair(project)
    PreferencePair.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=30))

    def pair_ids(**filters):
        return sorted(r["pair_id"] for r in rows_of(cut(project, **filters)))

    everything = pair_ids(criteria=["*"])
    assert len(everything) == 5
    assert len(pair_ids()) == 4  # overall only, by default
    assert len(pair_ids(criteria=[])) == 4
    assert [r["criterion"] for r in rows_of(cut(project, criteria=["helpfulness"]))] == ["helpfulness"]
    assert len(pair_ids(sources=["imported"])) == 1
    assert pair_ids(sources=["imported"]) == [old.pk]
    assert len(pair_ids(batch_ids=[batch.pk])) == 1
    assert len(pair_ids(since=timezone.localdate() - timedelta(days=1))) == 3
    assert pair_ids(until=timezone.localdate() - timedelta(days=1)) == [old.pk]
    assert len(pair_ids(exclude_gold=True)) == 3
    assert len(pair_ids(exclude_annotators=[alice.username])) == 2
    assert len(pair_ids(exclude_annotators=[str(bob.pk)])) == 3


def test_bad_filters_are_reported_clearly(project):
    other_batch = Batch.objects.create(project=factories.ProjectFactory(), name="elsewhere")
    with pytest.raises(SnapshotError, match="No batch"):
        filters_build(project=project, batch_ids=[other_batch.pk])
    with pytest.raises(SnapshotError, match="Unknown source"):
        filters_build(project=project, sources=["robots"])
    with pytest.raises(SnapshotError, match="No annotator 'nobody'"):
        filters_build(project=project, exclude_annotators=["nobody"])
    with pytest.raises(SnapshotError, match="between 0 and 1"):
        filters_build(project=project, min_agreement=1.5)
    with pytest.raises(SnapshotError, match="aggregation"):
        snapshot_create(project=project, filters=filters_build(project=project), aggregation="vibes")


def _three_votes(project, preferences):
    t = factories.task(project)
    for prefer in preferences:
        factories.judged_pair(project, task=t, prefer=prefer)
    return list(t.slots.order_by("position").values_list("response_id", flat=True))


def test_majority_keeps_one_row_per_comparison_weighted_by_agreement(project):
    slots = _three_votes(project, [0, 0, 1])
    _three_votes(project, [0, 1])  # an even split has no majority

    snap = cut(project, aggregation="majority", val_fraction=0)

    [row] = rows_of(snap)
    assert (row["chosen_id"], row["rejected_id"]) == (slots[0], slots[1])
    assert row["weight"] == pytest.approx(2 / 3, abs=1e-6)
    assert row["agreement"] == pytest.approx(2 / 3, abs=1e-6)
    assert row["votes"] == 3
    assert snap.stats["dropped_no_majority"] == 2


def test_every_row_aggregation_with_minimum_agreement(project):
    _three_votes(project, [0, 0, 1])
    _three_votes(project, [0, 0, 0])
    assert cut(project).train_rows + cut(project).val_rows == 6
    strict = cut(project, min_agreement=0.9)
    assert strict.train_rows + strict.val_rows == 3
    assert strict.stats["dropped_below_agreement"] == 3


def test_annotator_weighted_aggregation_trusts_annotators_with_a_good_gold_record(project):
    expert, novice1, novice2 = (factories.member(project, "annotator") for _ in range(3))
    for annotator, correct in ((expert, True), (novice1, False), (novice2, False)):
        for _ in range(4):
            gold = factories.task(project, is_gold=True, gold_ranking=[[1], [2]])
            factories.judged_pair(project, annotator, task=gold, gold_correct=correct)
    t = factories.task(project)
    slots = list(t.slots.order_by("position").values_list("response_id", flat=True))
    factories.judged_pair(project, expert, task=t, prefer=1)
    factories.judged_pair(project, novice1, task=t, prefer=0)
    factories.judged_pair(project, novice2, task=t, prefer=0)

    def winner(aggregation):
        rows = [r for r in rows_of(cut(project, aggregation=aggregation, exclude_gold=True))]
        [row] = rows
        return row["chosen_id"]

    assert winner("majority") == slots[0]
    assert winner("weighted") == slots[1]


def test_dawid_skene_aggregation_trusts_annotators_who_agree_with_the_crowd_without_any_gold(project):
    """Three careful annotators and two contrarians (always the other response) judge 20 tasks: Dawid–Skene
    finds the contrarians unreliable. On one more task a careful annotator is outvoted 2 : 1 by them; the
    majority follows the contrarians, the Dawid–Skene weighted aggregation the careful one."""
    careful = [factories.member(project, "annotator") for _ in range(3)]
    contrarians = [factories.member(project, "annotator") for _ in range(2)]
    for _ in range(20):
        t = factories.task(project)
        good, bad = t.slots.order_by("position").values_list("response_id", flat=True)
        for annotator in careful:
            factories.judgement(t, annotator, [[good], [bad]])
        for annotator in contrarians:
            factories.judgement(t, annotator, [[bad], [good]])
    disputed = factories.task(project)
    good, bad = disputed.slots.order_by("position").values_list("response_id", flat=True)
    factories.judgement(disputed, careful[0], [[good], [bad]])
    for annotator in contrarians:
        factories.judgement(disputed, annotator, [[bad], [good]])

    def winner(aggregation):
        return next(r["chosen_id"] for r in rows_of(cut(project, aggregation=aggregation))
                    if r["prompt_id"] == disputed.prompt_id)

    assert winner("majority") == bad
    assert winner("dawid_skene") == good
    snapshot = DatasetSnapshot.objects.get(aggregation="dawid_skene")
    assert snapshot.get_aggregation_display() == "Dawid–Skene weighted"


def test_snapshots_are_immutable(project):
    factories.judged_pair(project)
    snap = cut(project)
    snap.train_rows = 999
    with pytest.raises(SnapshotImmutable):
        snap.save()
    with pytest.raises(SnapshotImmutable):
        snap.delete()
    with pytest.raises(SnapshotImmutable):
        DatasetSnapshot.objects.filter(pk=snap.pk).update(train_rows=999)
    with pytest.raises(SnapshotImmutable):
        DatasetSnapshot.objects.filter(pk=snap.pk).delete()
    assert DatasetSnapshot.objects.get(pk=snap.pk).train_rows != 999


def test_integrity_check_detects_a_changed_artifact(project):
    factories.judged_pair(project)
    snap = cut(project)
    assert snapshot_verify(snapshot=snap).ok
    name = snap.artifact.name
    default_storage.delete(name)
    default_storage.save(name, ContentFile(b'{"tampered": true}\n'))
    report = snapshot_verify(snapshot=snap)
    assert not report.ok
    assert "does not match" in report.message
    default_storage.delete(name)
    assert "missing" in snapshot_verify(snapshot=snap).message


def test_artifact_carries_provenance_without_user_ids(project):
    annotator = factories.member(project, "annotator")
    factories.rubric(project)
    judgement = factories.judged_pair(project, annotator, duration_ms=4321, strength=1)
    [row] = rows_of(cut(project))
    assert row["annotator"] == annotator_pseudonym(annotator.pk) != str(annotator.pk)
    assert annotator.username not in json.dumps(row)
    assert (row["judgement_id"], row["duration_ms"], row["rubric_version"]) == (judgement.pk, 4321, 1)
    assert row["display_order"] == judgement.display_order
    assert row["margin"] == 2.0  # strength index 1 -> margin 2 (annotation.services.judgements)


def test_an_unknown_criterion_is_refused_naming_the_known_ones(project):
    from rewardtrain.snapshots.filters import UnknownCriterion

    factories.rubric(project, keys=("helpfulness", "honesty"))
    factories.judged_pair(project)
    with pytest.raises(UnknownCriterion, match=r"Unknown criterion 'helpfulnes' .*known: overall, helpfulness, honesty"):
        filters_build(project=project, criteria=["helpfulnes"])


def test_filters_that_select_nothing_cut_no_snapshot_and_use_up_no_version(project):
    from datetime import date

    from rewardtrain.snapshots.filters import SnapshotError

    factories.judged_pair(project)
    empty = filters_build(project=project, since=date(2001, 1, 1), until=date(2001, 1, 2))
    with pytest.raises(SnapshotError, match="select no pairs: no snapshot was cut and no version was used"):
        snapshot_create(project=project, filters=empty)
    assert not DatasetSnapshot.objects.exists()
    assert cut(project).version == 1


def test_a_split_that_leaves_no_validation_rows_says_so(project):
    factories.judged_pair(project, task=factories.task(project, prompt="A prompt that lands in train."))  # seed 0
    snap = cut(project, val_fraction=0.1, seed=0)
    assert (snap.train_rows, snap.val_rows) == (1, 0)
    assert snap.stats["warnings"] == ["No validation rows: all 1 prompt(s) fell in train (validation fraction 0.1). "
                                      "Cut again with more prompts, another seed or a larger validation fraction."]
    assert cut(project, val_fraction=0).stats["warnings"] == []  # asked for no validation: nothing to warn about


def test_adjudicated_aggregation_uses_the_verdict_else_the_majority(project):
    from annotation.services.adjudication import adjudication_record

    admin = factories.member(project, "admin")
    disputed = factories.task(project)
    lo, hi = disputed.slots.order_by("position").values_list("response_id", flat=True)
    for prefer in (0, 0, 1):  # the majority prefers `lo`...
        factories.judged_pair(project, task=disputed, prefer=prefer)
    adjudication_record(task=disputed, ranking=[[hi], [lo]], note="The minority is right.", user=admin)
    plain = factories.task(project)
    factories.judged_pair(project, task=plain, prefer=1)
    factories.judged_pair(project, task=plain, prefer=1)
    tied = factories.task(project)  # 1-1, no verdict: no majority, dropped as before
    factories.judged_pair(project, task=tied, prefer=0)
    factories.judged_pair(project, task=tied, prefer=1)

    majority = {r["prompt_id"]: r["chosen_id"] for r in rows_of(cut(project, "majority", val_fraction=0))}
    assert majority[disputed.prompt_id] == lo  # ... so the majority keeps its answer
    snap = cut(project, "adjudicated", val_fraction=0, min_agreement=0.9)
    rows = {r["prompt_id"]: r for r in rows_of(snap)}
    assert rows[disputed.prompt_id]["chosen_id"] == hi and rows[disputed.prompt_id]["rejected_id"] == lo
    assert rows[disputed.prompt_id]["votes"] == 3 and rows[disputed.prompt_id]["margin"] == 1.0
    assert rows[plain.prompt_id]["chosen_id"] == majority[plain.prompt_id]
    assert tied.prompt_id not in rows
    assert snap.aggregation == "adjudicated" and snap.stats["adjudicated"] == 1
