"""The active-learning pages: rounds with charts and the start button, a round with its picks."""
import pytest
from django.urls import reverse

from rewardtrain.models import AcquisitionRound
from tests import factories

pytestmark = pytest.mark.django_db


def test_start_a_round_from_the_page_and_read_its_picks(client, project, project_admin, active_model, pool,
                                                        django_capture_on_commit_callbacks):
    # Model output is untrusted: a pool prompt with markup must come out escaped.
    factories.task(project)
    from annotation.models import Task
    from annotation.services.tasks import task_create

    evil = task_create(project=project, prompt="<script>alert(1)</script> the cat", responses=["a dog", "a cat"])
    Task.objects.filter(pk=evil.pk).update(status=Task.Status.POOL)
    client.force_login(project_admin)
    listing = client.get(reverse("acquisition-list", args=[project.pk]))
    page = listing.content.decode()
    assert listing.status_code == 200
    assert '<strong id="pool-size">9</strong>' in page and "No acquisition rounds yet." in page
    assert "Labels per round" in page and "<svg" in page

    refused = client.post(reverse("acquisition-new", args=[project.pk]), {"strategy": "dopt", "size": 0,
                                                                         "epsilon": 0.1, "diversity": 0.3})
    assert refused.status_code == 400 and not AcquisitionRound.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("acquisition-new", args=[project.pk]),
                               {"strategy": "uncertainty", "size": 9, "epsilon": 0, "diversity": 0.3})
    round_ = AcquisitionRound.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("acquisition-detail", args=[project.pk, round_.pk])
    detail = client.get(response["Location"]).content.decode()
    assert "Succeeded" in detail and "Opened 9 tasks" in detail
    assert "how unsure the model is, pool vs picks" in detail
    assert detail.count("<tr>") == 10  # a header and the nine picks
    assert "<td>1</td>" in detail and "<td>9</td>" in detail and "<td>0</td>" not in detail  # ranks read 1..9
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in detail and "<script>alert" not in detail
    assert "Picks 1–9 of 9" in detail and "page 1 of" not in detail  # one page: no pager

    listing = client.get(reverse("acquisition-list", args=[project.pk])).content.decode()
    assert f"Round {round_.pk}</a>" in listing and "how unsure the model is" in listing
    assert 'hx-trigger="every 3s"' not in listing  # nothing in flight: no polling


def test_in_flight_round_polls_and_annotators_are_kept_out(client, project, annotator, ml_engineer, active_model,
                                                           pool, django_capture_on_commit_callbacks):
    from rewardtrain.active.services import acquisition_round_create

    with django_capture_on_commit_callbacks(execute=False):
        round_ = acquisition_round_create(project=project, strategy="uncertainty", size=2)
    client.force_login(ml_engineer)
    assert 'hx-trigger="every 3s"' in client.get(reverse("acquisition-list", args=[project.pk])).content.decode()
    fragment = client.get(reverse("acquisition-detail", args=[project.pk, round_.pk]), HTTP_HX_REQUEST="true")
    assert fragment.content.decode().startswith('<section id="round-live"') and "Queued" in fragment.content.decode()
    other = factories.ProjectFactory()
    factories.member(other, "ml", user=ml_engineer)
    assert client.get(reverse("acquisition-detail", args=[other.pk, round_.pk])).status_code == 404
    client.force_login(annotator)
    assert client.get(reverse("acquisition-list", args=[project.pk])).status_code == 403
    assert client.post(reverse("acquisition-new", args=[project.pk]), {"strategy": "random", "size": 1}).status_code == 403


def test_empty_pool_links_to_the_import_page_only_for_those_who_may_import(client, project, project_admin,
                                                                              ml_engineer):
    """An ML engineer may not import, so the empty-pool hint must not send them to a 403."""
    import_url = reverse("project-import", args=[project.pk])
    client.force_login(ml_engineer)
    page = client.get(reverse("acquisition-list", args=[project.pk])).content.decode()
    assert "The pool is empty" in page and f'href="{import_url}"' not in page
    assert client.get(import_url).status_code == 403
    client.force_login(project_admin)
    page = client.get(reverse("acquisition-list", args=[project.pk])).content.decode()
    assert f'href="{import_url}"' in page


def test_picks_are_paginated_and_the_form_caps_the_candidates(client, project, project_admin, active_model, pool,
                                                               monkeypatch, django_capture_on_commit_callbacks):
    from rewardtrain.web import acquisitions

    monkeypatch.setattr(acquisitions, "PICKS_PER_PAGE", 3)
    client.force_login(project_admin)
    form = client.get(reverse("acquisition-list", args=[project.pk])).content.decode()
    assert 'name="max_candidates"' in form and 'value="20000"' in form  # the server's default, shown
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("acquisition-new", args=[project.pk]),
                    {"strategy": "uncertainty", "size": 7, "epsilon": 0, "diversity": 0.3, "max_candidates": 7})
    round_ = AcquisitionRound.objects.get()
    assert (round_.status, round_.params["candidates"], round_.picked) == ("succeeded", 7, 7)
    url = reverse("acquisition-detail", args=[project.pk, round_.pk])
    first = client.get(url).content.decode()
    assert "of which a uniform random sample of <span id=\"candidates\">7</span> scored" in first
    assert first.count("<tr>") == 4 and "Picks 1–3 of 7" in first and "page 1 of 3" in first
    assert '<a class="button" href="?page=2">Next →</a>' in first and "← Previous" not in first
    ranks = [p.rank for p in round_.picks.order_by("rank")]
    last = client.get(url + "?page=3").content.decode()
    assert last.count("<tr>") == 2 and "Picks 7–7 of 7" in last and f"<td>{ranks[-1] + 1}</td>" in last
    assert "← Previous" in last and "Next →" not in last
    assert "Picks 7–7 of 7" in client.get(url + "?page=99").content.decode()  # out of range: the last page
    listing = client.get(reverse("acquisition-list", args=[project.pk])).content.decode()
    assert "(scored a sample of 7)" in listing
