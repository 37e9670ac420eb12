import json

import pytest
from django.core.management import CommandError, call_command
from django_celery_beat.models import PeriodicTask

from annotation.models import Membership, PreferencePair, Project, Task


def test_create_project_and_add_member_with_generated_password(db, capsys):
    call_command("create_project", "Helpfulness", "--mode", "ranking", "--overlap", "3", "--lease-seconds", "300",
                 "--gold-rate", "5")
    project = Project.objects.get(name="Helpfulness")
    assert (project.mode, project.overlap, project.lease_seconds, project.gold_rate) == ("ranking", 3, 300, 0.05)
    call_command("add_member", "Helpfulness", "ann1", "--role", "annotator", "--create-user")
    out = capsys.readouterr().out
    password = out.split("with password: ")[1].strip()
    from django.contrib.auth import authenticate
    assert authenticate(username="ann1", password=password) is not None
    assert Membership.objects.filter(project=project, user__username="ann1", role="annotator").exists()


def test_add_member_without_user_explains_create_user(db):
    call_command("create_project", "P")
    with pytest.raises(CommandError, match="No user named 'ghost'; pass --create-user"):
        call_command("add_member", "P", "ghost", "--role", "ml")


def test_duplicate_project_name_is_a_clear_error(db):
    call_command("create_project", "P")
    with pytest.raises(CommandError, match="name: a project named “P” already exists."):
        call_command("create_project", "P")


def test_import_commands(db, tmp_path, capsys):
    call_command("create_project", "P")
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text(json.dumps({"prompt": "q", "responses": ["a", "b"]}) + "\n")
    call_command("import_tasks", "P", str(tasks))
    assert "Imported 1 new, skipped 0 duplicate(s)" in capsys.readouterr().out
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(json.dumps({"prompt": "q", "chosen": "a", "rejected": "b", "margin": 1.5}) + "\n")
    call_command("import_pairs", "P", str(pairs), "--format", "trl")
    assert PreferencePair.objects.get().margin == 1.5
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "q"}\n')
    with pytest.raises(CommandError, match="import failed with 1 problem"):
        call_command("import_tasks", "P", str(bad))
    assert f"{bad}:1: responses: is required" in capsys.readouterr().err
    with pytest.raises(CommandError, match="no such file"):
        call_command("import_tasks", "P", str(tmp_path / "missing.jsonl"))
    with pytest.raises(CommandError, match="No project named or numbered 'Nope'"):
        call_command("import_tasks", "Nope", str(tasks))
    assert Task.objects.count() == 1


def test_seed_demo_is_repeatable(db, capsys):
    call_command("seed_demo")
    call_command("seed_demo")
    assert "demo-annotator" in capsys.readouterr().out
    assert Task.objects.count() == 30
    assert set(Project.objects.values_list("mode", flat=True)) == {"pairwise", "ranking"}
    assert Project.objects.get(mode="pairwise").rubric.criteria.count() == 3


def test_beat_schedule_is_stored_by_django_celery_beat(transactional_db):
    from django_celery_beat.schedulers import DatabaseScheduler

    from config.celery_app import app

    DatabaseScheduler(app=app)
    assert set(PeriodicTask.objects.values_list("task", flat=True)) >= {
        "annotation.tasks.expire_leases", "annotation.tasks.health_check"}
