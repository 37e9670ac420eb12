"""The quality pages as a project admin uses them: agreement, the sortable annotator table and its CSV,
the leaderboard and the dashboard; annotators are refused; untrusted names stay text."""
import csv
import io

import pytest
from django.urls import reverse

from annotation.services.tasks import task_create
from tests import factories

pytestmark = pytest.mark.django_db
PAGES = ["quality-dashboard", "quality-agreement", "quality-annotators", "leaderboard"]


@pytest.fixture
def judged(project):
    """Ten two-model tasks: "ann" always prefers the big model, "=<b>evil</b>" (fast) always the small one;
    both say the big one is more helpful."""
    factories.rubric(project, keys=("helpfulness",))
    good = factories.member(project, "annotator", factories.UserFactory(username="ann"))
    bad = factories.member(project, "annotator", factories.UserFactory(username="=<b>evil</b>"))
    for i in range(10):
        t = task_create(project=project, prompt=f"Q{i}?", responses=[{"text": f"good {i}", "model": "big"},
                                                                     {"text": f"bad {i}", "model": "<i>small</i>"}])
        s, w = t.slots.order_by("position").values_list("response_id", flat=True)
        factories.judgement(t, good, [[s], [w]], criteria={"helpfulness": [[s], [w]]}, display_order=[s, w])
        factories.judgement(t, bad, [[w], [s]], criteria={"helpfulness": [[s], [w]]}, display_order=[s, w],
                            duration_ms=500)
    return project


@pytest.mark.parametrize("name", PAGES)
def test_admins_and_ml_engineers_see_the_pages_annotators_do_not(client, judged, name):
    url = reverse(name, args=[judged.pk])
    for role, status in (("admin", 200), ("ml", 200), ("annotator", 403)):
        client.force_login(factories.member(judged, role))
        assert client.get(url).status_code == status, (role, name)
    client.force_login(factories.member(factories.ProjectFactory(), "admin"))
    assert client.get(url).status_code == 404


def test_agreement_page_shows_numbers_and_per_criterion(client, judged, project_admin):
    client.force_login(project_admin)
    page = client.get(reverse("quality-agreement", args=[judged.pk])).content.decode()
    # the two annotators always disagree on the overall choice: raw agreement 0 %
    assert "Raw agreement" in page and "0.0 %" in page
    assert "Only annotators' own judgements count here: a project admin's" in page  # verdicts are not answers
    page = client.get(reverse("quality-agreement", args=[judged.pk]) + "?criterion=helpfulness").content.decode()
    assert "100.0 %" in page  # they agree on helpfulness every time
    page = client.get(reverse("quality-agreement", args=[judged.pk]) + "?criterion=nope").content.decode()
    assert "not a criterion of this project" in page


def test_annotator_table_sorts_flags_and_escapes(client, judged, project_admin):
    client.force_login(project_admin)
    url = reverse("quality-annotators", args=[judged.pk])
    page = client.get(url + "?sort=-judgements").content.decode()
    assert "&lt;b&gt;evil&lt;/b&gt;" in page and "<b>evil</b>" not in page
    assert "too_fast" in page
    by_time = client.get(url + "?sort=median_seconds").content.decode()
    assert by_time.index("evil") < by_time.index(">ann<")
    by_time = client.get(url + "?sort=-median_seconds").content.decode()
    assert by_time.index(">ann<") < by_time.index("evil")


def test_annotator_csv_export(client, judged, project_admin):
    client.force_login(project_admin)
    response = client.get(reverse("quality-annotators", args=[judged.pk]) + "?format=csv")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    by_name = {r["username"]: r for r in rows}
    assert by_name["ann"]["judgements"] == "10" and by_name["ann"]["median_seconds"] == "1.5"
    assert "'=<b>evil</b>" in by_name  # a cell starting with "=" cannot run as a spreadsheet formula
    assert "too_fast" in by_name["'=<b>evil</b>"]["flags"]


def test_leaderboard_page(client, judged, project_admin):
    client.force_login(project_admin)
    page = client.get(reverse("leaderboard", args=[judged.pk])).content.decode()
    assert "&lt;i&gt;small&lt;/i&gt;" in page and "<i>small</i>" not in page
    assert "50 %" in page  # 10 wins each: even
    page = client.get(reverse("leaderboard", args=[judged.pk]) + "?criterion=helpfulness").content.decode()
    assert page.index(">big<") < page.index("small")  # big wins every helpfulness battle
    assert "100 %" in page


def test_dashboard_draws_every_chart(client, judged, project_admin):
    client.force_login(project_admin)
    page = client.get(reverse("quality-dashboard", args=[judged.pk])).content.decode()
    assert page.count("<svg") == 5 and "<script" not in page.split("</head>")[1]
    for title in ("Judgements per day", "Agreement over time", "Answers given", "Position bias", "Throughput"):
        assert title in page
    assert "&lt;b&gt;evil&lt;/b&gt;" in page and "<b>evil</b>" not in page
    assert "too_fast" in page  # the flagged annotator is named


def test_pages_say_when_there_is_nothing_yet(client, project, project_admin):
    client.force_login(project_admin)
    for name in PAGES:
        assert client.get(reverse(name, args=[project.pk])).status_code == 200
    assert "No task has been answered by two annotators" in client.get(
        reverse("quality-agreement", args=[project.pk])).content.decode()


def test_project_page_links_to_quality(client, project, project_admin):
    client.force_login(project_admin)
    assert reverse("quality-dashboard", args=[project.pk]) in client.get(
        reverse("project-detail", args=[project.pk])).content.decode()


def test_pages_say_when_numbers_are_being_recomputed(client, judged, project_admin, settings):
    settings.VERDICT_QUALITY_STAMP_SECONDS = 0
    client.force_login(project_admin)
    url = reverse("quality-annotators", args=[judged.pk])
    assert "Computed " in (page := client.get(url).content.decode()) and "being recomputed" not in page
    factories.judged_pair(judged)  # a new judgement: the page shows the stored table and says so
    assert "being recomputed" in client.get(url).content.decode()


def test_a_large_projects_first_view_says_computing_and_polls_instead_of_computing_in_the_request(
        client, judged, project_admin, settings, django_capture_on_commit_callbacks):
    """Numbers nobody has computed yet, on a project over VERDICT_QUALITY_INLINE_JUDGEMENTS: every page and
    API answer comes back at once (computing…, polling / 202) with one refresh queued per number; when the
    worker is done, the same URLs show the numbers (and the polling element is gone)."""
    from django.core.cache import cache

    cache.clear()
    settings.VERDICT_QUALITY_INLINE_JUDGEMENTS = 10  # the fixture has 20 judgements: "large"
    client.force_login(project_admin)
    urls = [reverse(name, args=[judged.pk]) for name in PAGES]
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        for url in urls:
            response = client.get(url)
            page = response.content.decode()
            assert response.status_code == 200 and "Computing…" in page, url
            assert f'hx-get="{url}" hx-trigger="every 2s" hx-select="#quality-numbers"' in page
        api = client.get(f"/api/v1/projects/{judged.pk}/quality/agreement/")
        assert api.status_code == 202 and api.json()["status"] == "computing" and api["Retry-After"]
        assert client.get(urls[2] + "?format=csv").status_code == 503
    # dashboard (dashboard + annotators), agreement, annotators (already queued), leaderboard: one each
    assert len(callbacks) == 4
    for callback in callbacks:
        callback()  # the worker (eager Celery)
    for url in urls:
        page = client.get(url).content.decode()
        assert "Computing…" not in page and 'hx-trigger="every 2s"' not in page and 'id="quality-numbers"' in page
    assert "Raw agreement" in client.get(urls[1]).content.decode()
    assert client.get(f"/api/v1/projects/{judged.pk}/quality/agreement/").status_code == 200


def test_the_beat_refreshes_the_page_numbers_of_projects_with_new_judgements(judged, settings,
                                                                            django_capture_on_commit_callbacks):
    from django.core.cache import cache

    from annotation.quality.agreement import agreement_compute
    from annotation.quality.units import quality_refresh_due

    cache.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert sorted(quality_refresh_due()) == sorted(f"{judged.pk}:{n}" for n in
                                                       ("agreement", "annotators", "dashboard", "leaderboard"))
    assert quality_refresh_due() == []  # all current: nothing to do
    settings.VERDICT_QUALITY_INLINE_JUDGEMENTS = 0
    n_labels = agreement_compute(project=judged, wait=False)["n_labels"]  # served from the cache
    t = factories.task(judged)
    factories.judgement(t, factories.member(judged, "annotator"))
    factories.judgement(t, factories.member(judged, "annotator"))
    with django_capture_on_commit_callbacks(execute=True):
        assert len(quality_refresh_due()) == 4
    cache.delete(f"quality:v2:{judged.pk}:stamp")
    assert agreement_compute(project=judged, wait=False)["n_labels"] == n_labels + 2
