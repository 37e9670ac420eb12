import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from annotation.models import Batch
from rewardtrain.models import DatasetSnapshot
from tests import factories


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_create_snapshot_prints_version_counts_and_hash(project):
    for i in range(10):
        factories.judged_pair(project, prefer=i % 2)
    output = run("create_snapshot", project.name, "--val-fraction", "0.3", "--seed", "5",
                 "--aggregation", "majority", "--exclude-gold", "--since", "2020-01-01")
    snap = DatasetSnapshot.objects.get()
    assert f"v{snap.version} (id {snap.pk})" in output
    assert f"{snap.train_rows} train, {snap.val_rows} val" in output
    assert f"sha256: {snap.sha256}" in output
    assert snap.filters["exclude_gold"] and snap.aggregation == "majority" and snap.split_seed == 5
    run("create_snapshot", str(project.pk), "--criterion", "*", "--source", "human")
    assert DatasetSnapshot.objects.filter(project=project).count() == 2


@pytest.mark.parametrize("args, message", [
    (["No such project"], "No project named or numbered"),
    (["{p}", "--since", "yesterday"], "is not a date"),
    (["{p}", "--batch", "{b}"], "No batch"),
    (["{p}", "--exclude-annotator", "ghost"], "No annotator 'ghost'"),
    (["{p}", "--val-fraction", "1.5"], "validation fraction"),
    (["{p}", "--min-agreement", "2"], "between 0 and 1"),
])
def test_create_snapshot_rejects_bad_input_clearly(project, args, message):
    foreign = Batch.objects.create(project=factories.ProjectFactory(), name="x")
    args = [a.format(p=project.name, b=foreign.pk) for a in args]
    with pytest.raises(CommandError, match=message):
        run("create_snapshot", *args)
    assert not DatasetSnapshot.objects.exists()


def test_export_snapshot_writes_the_chosen_format_and_split(project, tmp_path):
    for _ in range(12):
        factories.judged_pair(project)
    run("create_snapshot", project.name, "--val-fraction", "0.5")
    snap = DatasetSnapshot.objects.get()
    target = tmp_path / "train.jsonl"
    output = run("export_snapshot", str(snap.pk), "--format", "trl", "--out", str(target), "--split", "train")
    rows = [json.loads(line) for line in target.read_text().splitlines()]
    assert len(rows) == snap.train_rows and f"Wrote {snap.train_rows} trl line(s)" in output
    assert set(rows[0]) == {"prompt", "chosen", "rejected", "margin"}


def test_export_snapshot_rejects_bad_input(project, tmp_path):
    factories.judged_pair(project)
    run("create_snapshot", project.name)
    snap = DatasetSnapshot.objects.get()
    with pytest.raises(CommandError, match="No snapshot with id 999999"):
        run("export_snapshot", "999999", "--format", "trl", "--out", str(tmp_path / "x.jsonl"))
    with pytest.raises(CommandError, match="invalid choice"):
        run("export_snapshot", str(snap.pk), "--format", "csv", "--out", str(tmp_path / "x.jsonl"))
    with pytest.raises(CommandError, match="cannot write"):
        run("export_snapshot", str(snap.pk), "--format", "hh", "--out", str(tmp_path / "missing-dir" / "x.jsonl"))


def test_export_snapshot_exports_one_criterion_of_a_rubric_snapshot(project, tmp_path):
    factories.rubric(project, keys=("helpfulness",))
    task = factories.task(project)
    a, b = task.slots.order_by("position").values_list("response_id", flat=True)
    factories.judgement(task, factories.member(project, "annotator"), [[a], [b]], criteria={"helpfulness": [[b], [a]]})
    run("create_snapshot", project.name, "--criterion", "*")
    snap = DatasetSnapshot.objects.get()
    target = tmp_path / "trl.jsonl"
    with pytest.raises(CommandError, match=r"holds 2 criteria \(overall, helpfulness\)"):
        run("export_snapshot", str(snap.pk), "--format", "trl", "--out", str(target))
    assert not target.exists()
    output = run("export_snapshot", str(snap.pk), "--format", "trl", "--criterion", "helpfulness", "--out", str(target))
    assert "Wrote 1 trl line(s) (all, helpfulness)" in output
    assert json.loads(target.read_text())["chosen"].startswith("Response 1")


def test_export_snapshot_refuses_a_changed_artifact_and_leaves_no_file(project, tmp_path):
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    factories.judged_pair(project)
    run("create_snapshot", project.name)
    snap = DatasetSnapshot.objects.get()
    original = default_storage.open(snap.artifact.name, "rb").read()
    default_storage.delete(snap.artifact.name)
    default_storage.save(snap.artifact.name, ContentFile(original.replace(b"Response 0", b"Response 9")))
    target = tmp_path / "trl.jsonl"
    with pytest.raises(CommandError, match="does not match its recorded sha256"):
        run("export_snapshot", str(snap.pk), "--format", "trl", "--out", str(target))
    assert not target.exists()


def test_create_snapshot_exits_2_on_an_unknown_criterion_and_refuses_an_empty_cut(project):
    factories.rubric(project, keys=("helpfulness",))
    # A fixed prompt: the split is by a hash of the prompt, and this one lands in the training split
    # (the factory's numbered prompts depend on how many tasks earlier tests created).
    factories.judged_pair(project, task=factories.task(project, prompt="Which of these answers is more helpful?"))
    with pytest.raises(CommandError, match="Unknown criterion 'helpful'.*known: overall, helpfulness") as exc:
        run("create_snapshot", project.name, "--criterion", "helpful")
    assert exc.value.returncode == 2
    with pytest.raises(CommandError, match="select no pairs"):
        run("create_snapshot", project.name, "--since", "2001-01-01", "--until", "2001-01-02")
    assert not DatasetSnapshot.objects.exists()
    err = StringIO()
    call_command("create_snapshot", project.name, stdout=StringIO(), stderr=err)
    assert "Warning: No validation rows" in err.getvalue()


def test_export_snapshot_takes_the_version_shown_on_the_page(project, tmp_path):
    other = factories.ProjectFactory(name="Other project")
    for p in (other, other, project):  # ids and versions disagree: the project's v1 is snapshot id 3
        factories.judged_pair(p)
        run("create_snapshot", str(p.pk))
    mine = DatasetSnapshot.objects.get(project=project)
    assert (mine.version, DatasetSnapshot.objects.get(project=other, version=2).version) == (1, 2)
    target = str(tmp_path / "out.jsonl")
    for args in ([project.name, "v1"], ["--project", project.name, "--version", "1"], [str(mine.pk)],
                 ["--project", str(project.pk), "v1"]):
        output = run("export_snapshot", *args, "--format", "full", "--out", target)
        assert f"of “{project.name}” snapshot v1 (id {mine.pk})" in output
        assert json.loads(open(target).readline())["prompt"] == mine.project.prompts.get().text
    with pytest.raises(CommandError, match=f"“{project.name}” has no snapshot v2 \\(it has: v1\\)"):
        run("export_snapshot", project.name, "v2", "--format", "trl", "--out", target)
    with pytest.raises(CommandError, match="numbered within a project"):
        run("export_snapshot", "--version", "1", "--format", "trl", "--out", target)



def test_export_snapshot_to_a_pipe_closed_early_stops_quietly(project, monkeypatch):
    """`export_snapshot … --out - | head`: head exits, the next write raises BrokenPipeError."""
    import io
    import sys

    class ClosedPipe(io.RawIOBase):
        def writable(self):
            return True

        def write(self, data):
            raise BrokenPipeError(32, "Broken pipe")

    factories.judged_pair(project)
    run("create_snapshot", project.name)
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(io.BufferedWriter(ClosedPipe(), buffer_size=8)))
    err = StringIO()
    call_command("export_snapshot", project.name, "v1", "--format", "full", "--out", "-", stderr=err)
    assert err.getvalue() == ""  # no traceback, no "Wrote …" claim
