"""Agreement of annotators with the active reward model: a real tiny model (trained to prefer "thanks"
over "idiot"), promoted through the API; eager Celery runs the worker job on commit. The numbers are
checked against the model's own rewards, computed here independently of the worker job."""
import random

import pytest
from django.urls import reverse

from annotation.models import Judgement, ModelAgreementState, TaskModelPreference
from annotation.services.tasks import task_create
from rewardtrain.models import ModelVersion
from rewardtrain.registry.services import model_version_archive
from rewardtrain.scoring.model_agreement import model_agreements_refresh_due
from tests import factories
from tests.factories import api_for
from tests.rewardtrain.ml.conftest import WORDS

from .conftest import register

pytestmark = pytest.mark.django_db
N_TASKS = 10


def choose(kind, shown, good):
    bad = [r for r in shown if r != good][0]
    return {"careful": [[good], [bad]], "contrarian": [[bad], [good]], "left": [[shown[0]], [shown[1]]],
            "tie": [shown]}[kind]


@pytest.fixture
def crowd(project, settings):
    """Careful, contrarian, always-left and always-tie annotators judge every task through the API."""
    settings.VERDICT_QUALITY_STALE_SECONDS = 0  # changed numbers are recomputed in the request (a small project)
    project.overlap = 4
    project.save()
    rng = random.Random(5)
    tasks = [task_create(project=project, prompt=" ".join(rng.choices(WORDS, k=6)), responses=[
        " ".join(rng.choices(WORDS, k=3) + ["thanks"]), " ".join(rng.choices(WORDS, k=3) + ["idiot"])])
        for _ in range(N_TASKS)]
    good = {t.pk: t.slots.get(position=0).response_id for t in tasks}
    for kind in ("careful", "contrarian", "left", "tie"):
        api = api_for(factories.member(project, "annotator", factories.UserFactory(username=kind)))
        while (lease := api.post(f"/api/v1/projects/{project.pk}/next-task/")).status_code == 200:
            body = lease.json()
            shown = [r["id"] for r in body["task"]["responses"]]
            assert api.post(f"/api/v1/assignments/{body['assignment_id']}/judgement/",
                            {"ranking": choose(kind, shown, good[body["task"]["id"]]), "duration_ms": 8000},
                            format="json").status_code == 201
    return {"tasks": tasks, "good": good}


def model_choice(folder, tasks) -> dict[int, int]:
    """Task -> the response the model rewards higher, scored here with rewardtrain.ml directly."""
    from rewardtrain.ml import RewardModel

    model = RewardModel(folder)
    out = {}
    for t in tasks:
        slots = list(t.slots.order_by("position").select_related("response"))
        rewards = model.score([t.prompt.text] * len(slots), [s.response.text for s in slots])[:, 0]
        out[t.pk] = slots[int(rewards.argmax())].response_id
    return out


def expected_agreement(project, username, choice) -> tuple[float, int]:
    judgements = Judgement.objects.filter(task__project=project, annotator__username=username, task_id__in=choice)
    agreed = sum(len(j.ranking) == 2 and j.ranking[0] == [choice[j.task_id]] for j in judgements)
    return agreed / len(judgements), len(judgements)


def rows(api, project):
    response = api.get(f"/api/v1/projects/{project.pk}/quality/annotators/")
    assert response.status_code == 200
    return {r["username"]: r for r in response.json()}


def test_promoting_a_model_fills_the_column_with_agreement_with_its_choices(
        project, crowd, trained_bert, django_capture_on_commit_callbacks, client):
    admin = factories.member(project, "admin")
    api = api_for(admin)
    before = rows(api, project)
    assert all(r["agreement_with_model"] is None and r["model_pairs"] == 0 for r in before.values())
    client.force_login(admin)
    assert "no active model" in client.get(reverse("quality-annotators", args=[project.pk])).content.decode()

    model = register(project, trained_bert["dir"], active=False)
    with django_capture_on_commit_callbacks(execute=True):
        assert api_for(factories.member(project, "ml")).post(f"/api/v1/models/{model.pk}/promote/").status_code == 200
    state = ModelAgreementState.objects.get(project=project)
    assert (state.status, state.model_version_id, state.tasks_scored) == ("ready", model.pk, N_TASKS)
    assert TaskModelPreference.objects.filter(model_version_id=model.pk).count() == N_TASKS

    choice = model_choice(trained_bert["dir"], crowd["tasks"])
    after = rows(api, project)
    for name in ("careful", "contrarian", "left", "tie"):
        share, n = expected_agreement(project, name, choice)
        assert after[name]["agreement_with_model"] == pytest.approx(share) and after[name]["model_pairs"] == n
    # The model learned "thanks" > "idiot": the careful annotator agrees with it, the contrarian does not.
    assert after["careful"]["agreement_with_model"] >= 0.8 and after["contrarian"]["agreement_with_model"] <= 0.2
    assert after["tie"]["agreement_with_model"] == 0.0  # a tie never agrees: the model chose
    page = client.get(reverse("quality-annotators", args=[project.pk])).content.decode()
    assert "with the active model, <strong>version 1</strong>, over the\n    10 most recently judged tasks" in page
    csv = client.get(reverse("quality-annotators", args=[project.pk]) + "?format=csv").content.decode()
    assert "agreement_with_model" in csv.splitlines()[0]


def test_the_cap_keeps_the_most_recently_judged_tasks_and_the_beat_catches_up(
        project, crowd, trained_bert, settings, django_capture_on_commit_callbacks):
    settings.VERDICT_MODEL_AGREEMENT_MAX_TASKS = 3
    api = api_for(factories.member(project, "admin"))
    with django_capture_on_commit_callbacks(execute=True):
        model = register(project, trained_bert["dir"])
    recent = list(Judgement.objects.filter(task__project=project).order_by("-id")
                  .values_list("task_id", flat=True).distinct()[:40])
    newest = list(dict.fromkeys(recent))[:3]
    assert set(TaskModelPreference.objects.values_list("task_id", flat=True)) == set(newest)
    assert rows(api, project)["careful"]["model_pairs"] == 3
    assert model_agreements_refresh_due() == []  # nothing judged since

    extra = task_create(project=project, prompt="the red sky", responses=["big tree thanks", "big tree idiot"])
    factories.judgement(extra, factories.member(project, "annotator"))
    assert model_agreements_refresh_due() == [project.pk]  # eager: scored at once
    assert TaskModelPreference.objects.filter(task=extra, model_version_id=model.pk).exists()
    assert ModelAgreementState.objects.get(project=project).status == "ready"


def test_archiving_the_active_model_says_so_and_empties_the_column(
        project, crowd, trained_bert, django_capture_on_commit_callbacks, client):
    admin = factories.member(project, "admin")
    with django_capture_on_commit_callbacks(execute=True):
        model = register(project, trained_bert["dir"])
    assert rows(api_for(admin), project)["careful"]["agreement_with_model"] is not None
    with django_capture_on_commit_callbacks(execute=True):
        model_version_archive(model_version=model)
    assert ModelVersion.objects.get(pk=model.pk).status == "archived"
    assert ModelAgreementState.objects.get(project=project).status == "no_model"
    assert not TaskModelPreference.objects.exists()
    assert rows(api_for(admin), project)["careful"]["agreement_with_model"] is None
    client.force_login(admin)
    assert "no active model" in client.get(reverse("quality-annotators", args=[project.pk])).content.decode()


def test_a_promotion_says_computing_until_the_worker_is_done(project, crowd, trained_bert, client,
                                                              django_capture_on_commit_callbacks):
    admin = factories.member(project, "admin")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        register(project, trained_bert["dir"])
    client.force_login(admin)
    page = client.get(reverse("quality-annotators", args=[project.pk])).content.decode()
    assert "<strong>computing</strong> with version 1" in page
    assert rows(api_for(admin), project)["careful"]["agreement_with_model"] is None
    for callback in callbacks:
        callback()
    assert rows(api_for(admin), project)["careful"]["agreement_with_model"] is not None
