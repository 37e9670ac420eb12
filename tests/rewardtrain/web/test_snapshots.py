import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse

from rewardtrain.models import DatasetSnapshot
from rewardtrain.snapshots.filters import filters_build
from rewardtrain.snapshots.services import snapshot_create
from tests import factories


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def snapshot(project):
    for i in range(6):  # fixed prompts, so the seeded split is fixed too
        factories.judged_pair(project, task=factories.task(project, prompt=f"Page prompt {i}?"), prefer=i % 2)
    return snapshot_create(project=project, filters=filters_build(project=project), val_fraction=0.5)


def logged_in(client, user):
    client.force_login(user)
    return client


def test_ml_engineer_sees_snapshots_with_counts_hash_and_downloads(client, project, ml_engineer, snapshot):
    page = logged_in(client, ml_engineer).get(reverse("snapshots", kwargs={"project_id": project.pk}))
    assert page.status_code == 200
    html = page.content.decode()
    assert f"v{snapshot.version}" in html and snapshot.sha256[:12] in html
    assert f"{snapshot.train_rows} train" in html
    assert f'action="{reverse("snapshot-download-form", args=[project.pk, snapshot.pk])}"' in html
    for fmt in ("trl", "trl-chat", "hh", "kway", "full", "jsonl", "parquet"):
        assert f'<option value="{fmt}">' in html
    assert "Verify integrity" in html


def test_who_may_open_the_page(client, project, annotator):
    url = reverse("snapshots", kwargs={"project_id": project.pk})
    assert client.get(url).status_code == 302  # to the login page
    assert logged_in(client, annotator).get(url).status_code == 403
    stranger = factories.member(factories.ProjectFactory(), "admin")
    assert logged_in(client, stranger).get(url).status_code == 404


def test_cutting_a_snapshot_from_the_form(client, project, project_admin, django_capture_on_commit_callbacks):
    factories.rubric(project, keys=("helpfulness",))
    factories.judged_pair(project)
    url = reverse("snapshot-new", kwargs={"project_id": project.pk})
    with django_capture_on_commit_callbacks(execute=True):  # the job runs (eager Celery) once the POST commits
        response = logged_in(client, project_admin).post(url, {
            "criteria": ["overall", "helpfulness"], "sources": ["human"], "aggregation": "majority", "seed": 4,
            "val_fraction": 0.2, "exclude_gold": "on", "min_agreement": "0.5"}, follow=True)
    response = client.get(reverse("snapshots", kwargs={"project_id": project.pk}))  # after the job ran
    assert response.status_code == 200
    snap = DatasetSnapshot.objects.get(project=project)
    assert (snap.aggregation, snap.split_seed, snap.val_fraction) == ("majority", 4, 0.2)
    assert snap.filters["criteria"] == ["", "helpfulness"] and snap.filters["exclude_gold"]
    assert f"Snapshot v{snap.version}" in response.content.decode()


def test_a_bad_form_shows_the_problem_and_cuts_nothing(client, project, ml_engineer):
    url = reverse("snapshot-new", kwargs={"project_id": project.pk})
    response = logged_in(client, ml_engineer).post(url, {"aggregation": "every", "seed": 0, "val_fraction": 3})
    assert response.status_code == 400
    assert "less than or equal to 0.99" in response.content.decode()
    assert not DatasetSnapshot.objects.exists()


def test_verify_button_reports_intact_and_tampered_artifacts(client, project, ml_engineer, snapshot):
    url = reverse("snapshot-verify", args=[project.pk, snapshot.pk])
    client = logged_in(client, ml_engineer)
    assert "intact" in client.post(url, HTTP_HX_REQUEST="true").content.decode()
    default_storage.delete(snapshot.artifact.name)
    default_storage.save(snapshot.artifact.name, ContentFile(b"{}\n"))
    fragment = client.post(url, HTTP_HX_REQUEST="true").content.decode()
    assert "does not match its recorded sha256" in fragment
    plain = client.post(url, follow=True)
    assert "does not match" in plain.content.decode()


def test_download_link_streams_the_export(client, project, ml_engineer, snapshot):
    url = reverse("snapshot-download", args=[project.pk, snapshot.pk, "hh"])
    response = logged_in(client, ml_engineer).get(url, {"split": "val"})
    lines = b"".join(response.streaming_content).splitlines()
    assert len(lines) == snapshot.val_rows > 0
    assert lines[0].startswith(b'{"chosen": "\\n\\nHuman: ')
    assert logged_in(client, ml_engineer).get(url, {"split": "nope"}).status_code == 404


def test_the_page_shows_an_empty_validation_split_and_refuses_an_empty_cut(client, project, ml_engineer,
                                                                          django_capture_on_commit_callbacks):
    factories.judged_pair(project, task=factories.task(project, prompt="A prompt that lands in train."))  # seed 0
    url = reverse("snapshot-new", kwargs={"project_id": project.pk})
    client = logged_in(client, ml_engineer)
    empty = client.post(url, {"since": "2001-01-01", "until": "2001-01-01", "aggregation": "every", "seed": 0,
                              "val_fraction": 0.1})
    assert empty.status_code == 400 and "select no pairs" in empty.content.decode()
    assert not DatasetSnapshot.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, {"aggregation": "every", "seed": 0, "val_fraction": 0.1})
    page = client.get(reverse("snapshots", kwargs={"project_id": project.pk})).content.decode()
    assert page.count("No validation rows: all 1 prompt(s) fell in train") == 2  # the job's result and the row


def test_the_page_shows_version_and_id(client, project, ml_engineer, snapshot):
    page = logged_in(client, ml_engineer).get(reverse("snapshots", kwargs={"project_id": project.pk})).content.decode()
    assert f"<strong>v{snapshot.version}</strong> <span class=\"muted\">(id {snapshot.pk})</span>" in page


def test_the_page_reads_like_a_page_not_a_dump(client, project, ml_engineer):
    factories.rubric(project, keys=("helpfulness",))
    project.rubric.criteria.update(label="Helpful to the user")
    task = factories.task(project)
    a, b = task.slots.order_by("position").values_list("response_id", flat=True)
    factories.judgement(task, factories.member(project, "annotator"), [[a], [b]], criteria={"helpfulness": [[b], [a]]})
    snap = snapshot_create(project=project, filters=filters_build(project=project, criteria=["*"]), val_fraction=0)
    client = logged_in(client, ml_engineer)
    html = client.get(reverse("snapshots", kwargs={"project_id": project.pk})).content.decode()
    assert "criteria=" not in html and "[&#x27;&#x27;]" not in html  # no raw filter dict
    assert "<li>criteria: all</li>" in html
    # criteria by their labels, in the form and in the download choice of a multi-criterion snapshot
    assert "Helpful to the user (helpfulness)" in html
    assert '<option value="helpfulness">Helpful to the user</option>' in html
    # a checkbox sits inside its label, before the text
    assert '<label for="id_criteria_0"><input type="checkbox" name="criteria" value="overall"' in html
    assert '<label class="check"><input type="checkbox" name="exclude_gold"' in html
    form = reverse("snapshot-download-form", args=[project.pk, snap.pk])
    one = client.get(form, {"format": "trl", "split": "all", "criterion": "helpfulness"})
    assert one.status_code == 200 and "-trl-helpfulness-all.jsonl" in one["Content-Disposition"]
    refused = client.get(form, {"format": "trl", "split": "all", "criterion": ""}, follow=True)
    assert "holds 2 criteria" in refused.content.decode()


def test_a_cut_runs_as_a_job_whose_progress_the_page_follows(client, project, ml_engineer):
    from rewardtrain.models import SnapshotJob
    from rewardtrain.snapshots.jobs import snapshot_job_execute

    factories.judged_pair(project)
    client = logged_in(client, ml_engineer)
    posted = client.post(reverse("snapshot-new", kwargs={"project_id": project.pk}),
                         {"aggregation": "every", "seed": 0, "val_fraction": 0.1}, follow=True)
    page = posted.content.decode()
    job = SnapshotJob.objects.get(project=project)  # no worker has run it yet: the page says so and polls
    assert not DatasetSnapshot.objects.exists()
    assert "waiting for a worker" in page and 'hx-trigger="every 1s"' in page and "<progress" in page
    snapshot_job_execute(job_id=job.pk)
    page = client.get(reverse("snapshots", kwargs={"project_id": project.pk})).content.decode()
    snap = DatasetSnapshot.objects.get(project=project)
    assert f"Snapshot v{snap.version}</a> (id {snap.pk})" in page
    assert 'hx-trigger="every 1s"' not in page  # finished: the page stops polling
