"""`manage.py acquire`: a round from the command line, with progress and the top picks."""
import pytest
from django.core.management import CommandError, call_command

from annotation.models import Task
from rewardtrain.models import AcquisitionRound

pytestmark = pytest.mark.django_db


def test_acquire_in_process_opens_the_picks_and_prints_them(project, active_model, pool, capsys):
    call_command("acquire", str(project.pk), "--strategy", "uncertainty", "--size", "3", "--in-process")
    out = capsys.readouterr()
    round_ = AcquisitionRound.objects.get()
    assert round_.status == "succeeded"
    assert f"Acquisition round {round_.pk} queued: uncertainty, size 3, model v1." in out.out
    assert "Opened 3 of 8 pool task(s)." in out.out
    assert out.out.count("  #") == 3
    assert "100%" in out.err  # the progress bar
    assert Task.objects.filter(status=Task.Status.OPEN).count() == 3


def test_acquire_eager_worker_path_and_clear_errors(project, active_model, pool, capsys,
                                                    django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):  # the command's transaction commits here
        call_command("acquire", project.name, "--strategy", "random", "--size", "2", "--no-wait")
    assert AcquisitionRound.objects.get().picked == 2
    with pytest.raises(CommandError, match="size: must be a whole number from 1 to 1,000,000"):
        call_command("acquire", project.name, "--strategy", "dopt", "--size", "0")
    with pytest.raises(CommandError):
        call_command("acquire", project.name, "--strategy", "best", "--size", "2")
    with pytest.raises(CommandError, match="No project"):
        call_command("acquire", "nope", "--strategy", "random", "--size", "2")


def test_acquire_max_candidates_scores_a_sample(project, active_model, pool, capsys):
    call_command("acquire", str(project.pk), "--strategy", "uncertainty", "--size", "2", "--max-candidates", "4",
                 "--in-process")
    round_ = AcquisitionRound.objects.get()
    assert (round_.status, round_.params["candidates"]) == ("succeeded", 4)
    assert "Opened 2 of 8 pool task(s) (scored a random sample of 4)." in capsys.readouterr().out
    with pytest.raises(CommandError, match="max_candidates: must be a whole number from 0"):
        call_command("acquire", str(project.pk), "--strategy", "uncertainty", "--size", "2", "--max-candidates", "-5")
