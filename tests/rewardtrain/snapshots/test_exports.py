import io
import json

import pytest

from rewardtrain.snapshots.exports import ExportError, export_lines, export_to_file, ranking_from_pairs
from rewardtrain.snapshots.aggregation import annotator_pseudonym
from rewardtrain.snapshots.filters import filters_build
from rewardtrain.snapshots.services import snapshot_create
from tests import factories


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def cut(project, **kwargs):
    return snapshot_create(project=project, filters=filters_build(project=project, criteria=["*"]), **kwargs)


def exported(snapshot, fmt, split="all"):
    return [json.loads(line) for line in export_lines(snapshot=snapshot, fmt=fmt, split=split)]


@pytest.fixture
def snapshot(project):
    """One chat prompt judged 3-way with a tie, one text prompt judged pairwise, one imported pair."""
    project.mode = "ranking"
    project.save()
    chat = [{"role": "user", "content": "Hi there"}, {"role": "assistant", "content": "Hello!"},
            {"role": "user", "content": "Write a haiku."}]
    kway = factories.task(project, n_responses=3, prompt=chat)
    a, b, c = kway.slots.order_by("position").values_list("response_id", flat=True)
    factories.judgement(kway, factories.member(project, "annotator"), [[b], [a, c]], strength=2)
    factories.judged_pair(project, strength=1)
    factories.imported_pair(project, prompt="\n\nHuman: Capital of France?\n\nAssistant:", chosen="Paris.",
                            rejected="Lyon.", margin=0.5)
    return cut(project, val_fraction=0)


def test_trl_explicit_rows_leave_out_ties_and_carry_margin(snapshot):
    rows = exported(snapshot, "trl")
    assert all(set(r) == {"prompt", "chosen", "rejected", "margin"} for r in rows)
    assert len(rows) == 4  # 3-way: b>a, b>c (a=c tie left out); pairwise 1; imported 1
    assert {"prompt": "\n\nHuman: Capital of France?\n\nAssistant:", "chosen": "Paris.", "rejected": "Lyon.",
            "margin": 0.5} in rows
    assert all(r["chosen"] != r["rejected"] for r in rows)


def test_trl_conversational_rows_are_message_lists(snapshot):
    rows = exported(snapshot, "trl-chat")
    chat_rows = [r for r in rows if len(r["prompt"]) == 3]
    assert len(chat_rows) == 2
    assert chat_rows[0]["prompt"][-1] == {"role": "user", "content": "Write a haiku."}
    assert chat_rows[0]["chosen"][0]["role"] == "assistant"
    text_rows = [r for r in rows if len(r["prompt"]) == 1]
    assert text_rows[0]["prompt"][0]["role"] == "user"


def test_hh_rows_are_full_dialogues(snapshot):
    rows = exported(snapshot, "hh")
    assert all(set(r) == {"chosen", "rejected"} for r in rows)
    chat = [r for r in rows if "haiku" in r["chosen"]][0]
    assert chat["chosen"].startswith("\n\nHuman: Hi there\n\nAssistant: Hello!\n\nHuman: Write a haiku.\n\nAssistant: ")
    imported = [r for r in rows if r["chosen"].endswith("Paris.")][0]
    assert imported == {"chosen": "\n\nHuman: Capital of France?\n\nAssistant: Paris.",
                        "rejected": "\n\nHuman: Capital of France?\n\nAssistant: Lyon."}


def test_kway_groups_give_back_the_ranking_with_ties(snapshot, project):
    task = project.tasks.get(prompt__messages__isnull=False)
    a, b, c = task.slots.order_by("position").values_list("response_id", flat=True)
    rows = exported(snapshot, "kway")
    [group] = [r for r in rows if r["prompt_messages"]]
    assert group["ranking_ids"] == [[b], sorted([a, c])]
    texts = {r["id"]: r["text"] for r in group["responses"]}
    assert group["ranking"] == [[texts[b]], [texts[i] for i in sorted([a, c])]]
    assert [resp["id"] for resp in group["responses"]] == sorted([a, b, c])
    assert len(rows) == 3


def test_ranking_from_pairs_orders_by_wins():
    pairs = [{"chosen_id": 1, "rejected_id": 2, "tie": False}, {"chosen_id": 1, "rejected_id": 3, "tie": False},
             {"chosen_id": 3, "rejected_id": 2, "tie": False}]
    assert ranking_from_pairs(pairs) == [[1], [3], [2]]


def test_full_format_carries_pseudonymous_provenance(snapshot, project):
    rows = exported(snapshot, "full")
    judged = [r for r in rows if r["judgement_id"]]
    annotators = set(project.memberships.filter(role="annotator").values_list("user_id", flat=True))
    assert {r["annotator"] for r in judged} == {annotator_pseudonym(u) for u in annotators}
    assert all(r["duration_ms"] == 1500 and r["display_order"] for r in judged)
    assert any(r["tie"] for r in judged)
    assert json.loads([r for r in rows if r["source"] == "imported"][0]["provenance"]) == {}


def test_split_selects_rows_and_export_writes_files(project):
    for _ in range(30):
        factories.judged_pair(project)
    snap = cut(project, val_fraction=0.4, seed=3)
    train, val = exported(snap, "trl", "train"), exported(snap, "trl", "val")
    assert (len(train), len(val)) == (snap.train_rows, snap.val_rows)
    assert not {r["prompt"] for r in train} & {r["prompt"] for r in val}
    out = io.BytesIO()
    assert export_to_file(snapshot=snap, fmt="full", split="all", out=out) == 30
    assert len(out.getvalue().splitlines()) == 30


def test_unknown_format_or_split_is_an_error(snapshot):
    with pytest.raises(ExportError, match="Unknown format"):
        export_lines(snapshot=snapshot, fmt="csv")
    with pytest.raises(ExportError, match="Unknown split"):
        export_lines(snapshot=snapshot, fmt="trl", split="test")


@pytest.mark.parametrize("fmt, original", [
    ("hh", {"chosen": "\n\nHuman: Hi\n\nAssistant: Hello\n\nHuman: 2+2?\n\nAssistant: 4",
            "rejected": "\n\nHuman: Hi\n\nAssistant: Hello\n\nHuman: 2+2?\n\nAssistant: 5"}),
    ("trl", {"prompt": "Name a colour.", "chosen": "Blue.", "rejected": "Seven.", "margin": 1.5}),
])
def test_imported_pairs_round_trip_through_a_snapshot(project, fmt, original):
    from annotation.services.imports.pairs import pairs_import

    pairs_import(project=project, fileobj=io.BytesIO(json.dumps(original).encode()), filename="in.jsonl", fmt=fmt)
    assert exported(cut(project, val_fraction=0), fmt) == [original]


@pytest.mark.parametrize("fmt", ["full", "kway", "trl"])
def test_exports_are_read_by_the_reward_trainer_as_they_are(snapshot, tmp_path, fmt):
    from rewardtrain.ml.data import load_groups

    path = tmp_path / f"{fmt}.jsonl"
    with open(path, "wb") as out:
        lines = export_to_file(snapshot=snapshot, fmt=fmt, split="all", out=out)
    groups = load_groups(str(path))
    assert len(groups) == lines
    has_ties = any(any(g.ties) for g in groups)
    assert has_ties == (fmt != "trl")  # the 3-way judgement's tie survives in full and kway


@pytest.fixture
def rubric_snapshot(project):
    """Two pairwise tasks judged overall and on helpfulness, the criterion answer opposite the overall one."""
    factories.rubric(project, keys=("helpfulness",))
    for _ in range(2):
        task = factories.task(project)
        a, b = task.slots.order_by("position").values_list("response_id", flat=True)
        factories.judgement(task, factories.member(project, "annotator"), [[a], [b]],
                            criteria={"helpfulness": [[b], [a]]})
    return cut(project, val_fraction=0)


@pytest.mark.parametrize("fmt", ["trl", "trl-chat", "hh"])
def test_pair_formats_refuse_to_mix_criteria_and_export_one_when_asked(rubric_snapshot, fmt):
    with pytest.raises(ExportError, match=r"holds 2 criteria \(overall, helpfulness\).*--criterion KEY"):
        export_lines(snapshot=rubric_snapshot, fmt=fmt)
    overall = [json.loads(line) for line in export_lines(snapshot=rubric_snapshot, fmt=fmt, criterion="overall")]
    helpful = [json.loads(line) for line in export_lines(snapshot=rubric_snapshot, fmt=fmt, criterion="helpfulness")]
    assert len(overall) == len(helpful) == 2
    # the same comparisons, opposite preferences: mixed together they would cancel out
    assert {(r["chosen"], r["rejected"]) == (h["rejected"], h["chosen"]) for r, h in zip(overall, helpful)} == {True}
    with pytest.raises(ExportError, match="has no criterion 'honesty'; it holds: overall, helpfulness"):
        export_lines(snapshot=rubric_snapshot, fmt=fmt, criterion="honesty")


def test_kway_and_full_keep_every_criterion_with_its_name(rubric_snapshot):
    assert {r["criterion"] for r in exported(rubric_snapshot, "kway")} == {"", "helpfulness"}
    assert {r["criterion"] for r in exported(rubric_snapshot, "full")} == {"", "helpfulness"}
    only = [json.loads(line) for line in export_lines(snapshot=rubric_snapshot, fmt="full", criterion="helpfulness")]
    assert {r["criterion"] for r in only} == {"helpfulness"}


def test_a_changed_artifact_is_refused_before_or_while_streaming(snapshot):
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from rewardtrain.snapshots.exports import ArtifactChanged

    name = snapshot.artifact.name
    original = default_storage.open(name, "rb").read()
    swapped = original.replace(b"Paris.", b"Rome..")  # same size, different content
    assert len(swapped) == len(original) and swapped != original
    default_storage.delete(name)
    default_storage.save(name, ContentFile(swapped))
    with pytest.raises(ArtifactChanged, match="does not match its recorded sha256"):
        list(export_lines(snapshot=snapshot, fmt="full"))
    default_storage.delete(name)
    default_storage.save(name, ContentFile(original + b"{}\n"))
    with pytest.raises(ArtifactChanged, match=r"does not match its recorded size"):
        export_lines(snapshot=snapshot, fmt="trl")  # refused before the first byte
