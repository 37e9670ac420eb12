"""The annotator workspace pages: permissions, rendering, htmx submit and skip, validation, gold page."""
from urllib.parse import unquote

import pytest
from django.urls import reverse

from annotation.services import queue
from annotation.models import Assignment, Judgement, Task
from tests import factories

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def client_as(client):
    def login(user):
        client.force_login(user)
        return client
    return login


def url(project):
    return reverse("annotate", kwargs={"project_id": project.pk})


def current_lease(user):
    return Assignment.objects.get(annotator=user, status=Assignment.Status.ACTIVE)


def test_page_shows_prompt_responses_keys_and_progress(client_as, project, annotator):
    project.instructions = "Prefer **correct** answers."
    project.save()
    factories.rubric(project, keys=("helpful",))
    factories.task(project, prompt="What is 2+2?")
    page = client_as(annotator).get(url(project))
    html = page.content.decode()
    assert page.status_code == 200
    assert "What is 2+2?" in html and "<strong>correct</strong>" in html
    assert 'data-pick="A"' in html and 'data-pick="B"' in html
    assert "negligibly better" in html and "Helpful" in html
    assert 'data-testid="remaining">1<' in html
    assert "css/workspace.css" in html and "js/workspace.js" in html


def test_chat_prompts_render_as_turns(client_as, project, annotator):
    factories.task(project, prompt=[{"role": "user", "content": "Hi there"}, {"role": "assistant", "content": "Hello!"},
                                    {"role": "user", "content": "Now a haiku"}])
    html = client_as(annotator).get(url(project)).content.decode()
    assert html.count('class="ws-turn ') == 3 and "ws-role-assistant" in html


def test_untrusted_text_is_escaped(client_as, project, annotator):
    project.instructions = "<script>window.__xss=1</script>"
    project.save()
    services_prompt = '<img src=x onerror="window.__xss=1">'
    factories.task(project, prompt=services_prompt)
    html = client_as(annotator).get(url(project)).content.decode()
    assert "<script>window.__xss" not in html and "<img src=x" not in html
    assert "&lt;img src=x onerror=" in html


def test_page_needs_the_annotator_or_admin_role(client_as, project):
    factories.task(project)
    assert client_as(factories.member(project, "ml")).get(url(project)).status_code == 403
    assert client_as(factories.UserFactory()).get(url(project)).status_code == 404
    assert client_as(factories.member(project, "admin")).get(url(project)).status_code == 200


def test_page_render_makes_a_bounded_number_of_queries(client_as, project, annotator, django_assert_max_num_queries):
    factories.rubric(project, keys=("a", "b", "c"))
    project.mode = "ranking"
    project.save()
    factories.task(project, n_responses=9)
    factories.task(project, n_responses=9)
    client = client_as(annotator)
    client.get(url(project))
    # A reload: the current lease, the prefetched next one (both already held) and their rendering.
    with django_assert_max_num_queries(17):
        html = client.get(url(project)).content.decode()
    assert html.count('<section id="task"') == 2 and '<template id="ws-next"' in html


def prefetched_lease(user):
    return Assignment.objects.get(annotator=user, status=Assignment.Status.PREFETCHED)


def test_the_page_holds_the_next_task_reserved_and_rendered(client_as, project, annotator):
    factories.task(project, prompt="Now: rivers", priority=2)
    factories.task(project, prompt="Next: mountains", priority=1)
    html = client_as(annotator).get(url(project)).content.decode()
    current, upcoming = current_lease(annotator), prefetched_lease(annotator)
    template = html[html.index('<template id="ws-next"'):]
    assert f'data-for="{current.pk}"' in template and f'data-assignment="{upcoming.pk}"' in template
    assert "Next: mountains" in template and "Next: mountains" not in html[:html.index('<template id="ws-next"')]


def test_submitting_while_the_page_shows_the_next_task_returns_only_the_task_after_it(client_as, project, annotator):
    for i in range(3):
        factories.task(project, prompt=f"Prompt {i}", priority=3 - i)
    client = client_as(annotator)
    client.get(url(project))
    first, upcoming = current_lease(annotator), prefetched_lease(annotator)
    response = client.post(reverse("annotate-submit", args=[project.pk, first.pk]),
                           {"overall": "tie", "shown": str(upcoming.pk)}, **HTMX)
    html = response.content.decode()
    assert response.status_code == 200 and Judgement.objects.get().assignment_id == first.pk
    assert current_lease(annotator).pk == upcoming.pk  # what the page shows is now the lease
    third = prefetched_lease(annotator)
    assert html.lstrip().startswith('<div id="ws-progress"') and 'data-testid="done-today">1<' in html
    assert f'<template id="ws-next" data-for="{upcoming.pk}">' in html and "Prompt 2" in html
    assert f'data-assignment="{third.pk}"' in html and "Prompt 1" not in html


def test_a_shown_task_whose_reservation_lapsed_is_revived_as_shown(client_as, project, annotator):
    factories.task(project, priority=2)
    factories.task(project, priority=1)
    client = client_as(annotator)
    client.get(url(project))
    first, upcoming = current_lease(annotator), prefetched_lease(annotator)
    Assignment.objects.filter(pk=upcoming.pk).update(status=Assignment.Status.EXPIRED)  # e.g. swept by beat
    response = client.post(reverse("annotate-submit", args=[project.pk, first.pk]),
                           {"overall": "tie", "shown": str(upcoming.pk)}, **HTMX)
    assert '<section id="task"' not in response.content.decode().split("<template")[0]  # nothing to swap
    assert current_lease(annotator).pk == upcoming.pk


def test_when_the_shown_task_went_elsewhere_the_whole_next_task_comes_back(client_as, project, annotator):
    factories.task(project, priority=3)
    factories.task(project, priority=2)
    factories.task(project, priority=1, prompt="The third one")
    client = client_as(annotator)
    client.get(url(project))
    first, upcoming = current_lease(annotator), prefetched_lease(annotator)
    Assignment.objects.filter(pk=upcoming.pk).update(status=Assignment.Status.EXPIRED)
    Task.objects.filter(pk=upcoming.task_id).update(status=Task.Status.COMPLETE)  # others finished it meanwhile
    response = client.post(reverse("annotate-submit", args=[project.pk, first.pk]),
                           {"overall": "tie", "shown": str(upcoming.pk)}, **HTMX)
    html = response.content.decode()
    assert '<section id="task"' in html and "The third one" in html.split("<template")[0]
    assert f'data-assignment="{current_lease(annotator).pk}"' in html


def test_the_workspace_is_never_served_from_the_browser_cache(client_as, project, annotator):
    factories.task(project)
    response = client_as(annotator).get(url(project))
    assert "no-store" in response["Cache-Control"] or "no-cache" in response["Cache-Control"]


def test_answering_a_task_already_answered_in_another_tab_says_the_first_answer_is_kept(client_as, project,
                                                                                          annotator):
    factories.task(project)
    client = client_as(annotator)
    client.get(url(project))
    lease = current_lease(annotator)
    submit = reverse("annotate-submit", args=[project.pk, lease.pk])
    assert "X-Verdict-Notice" not in client.post(submit, {"overall": "tie"}, **HTMX)
    again = client.post(submit, {"overall": "A", "strength": "3"}, **HTMX)  # the second tab
    assert "first answer is kept" in unquote(again["X-Verdict-Notice"])
    assert Judgement.objects.get().ranking == [lease.display_order]


def test_htmx_submit_stores_the_judgement_and_swaps_in_the_next_task(client_as, project, annotator):
    factories.task(project, priority=2)
    second = factories.task(project, priority=1)
    client = client_as(annotator)
    client.get(url(project))
    lease = current_lease(annotator)
    response = client.post(reverse("annotate-submit", args=[project.pk, lease.pk]),
                           {"overall": "B", "strength": "2", "rationale": "B is right", "duration_ms": "3100"}, **HTMX)
    assert response.status_code == 200
    judgement = Judgement.objects.get(annotator=annotator)
    assert judgement.ranking == [[lease.display_order[1]], [lease.display_order[0]]]
    assert (judgement.strength, judgement.rationale, judgement.duration_ms) == (2, "B is right", 3100)
    html = response.content.decode()
    assert html.count('id="task"') == 1 and 'hx-swap-oob="true"' in html
    assert f'data-assignment="{current_lease(annotator).pk}"' in html
    assert current_lease(annotator).task_id == second.pk
    assert 'data-testid="done-today">1<' in html


def test_double_submit_stores_one_judgement(client_as, project, annotator):
    factories.task(project)
    client = client_as(annotator)
    client.get(url(project))
    lease = current_lease(annotator)
    for _ in range(2):
        client.post(reverse("annotate-submit", args=[project.pk, lease.pk]), {"overall": "tie"}, **HTMX)
    assert Judgement.objects.filter(annotator=annotator).count() == 1


def test_validation_error_keeps_the_answer_and_says_what_is_missing(client_as, project, annotator):
    factories.task(project)
    client = client_as(annotator)
    client.get(url(project))
    lease = current_lease(annotator)
    response = client.post(reverse("annotate-submit", args=[project.pk, lease.pk]),
                           {"overall": "A", "rationale": "keep me"}, **HTMX)
    html = response.content.decode()
    assert response.status_code == 422
    assert "Still missing: how much better (keys 1–4)." in html
    assert 'value="A" checked' in html and "keep me" in html
    assert not Judgement.objects.exists()


def test_every_missing_answer_is_named_at_once(client_as, project, annotator):
    factories.rubric(project, keys=("helpful", "honest"))
    factories.task(project)
    client = client_as(annotator)
    client.get(url(project))
    lease = current_lease(annotator)
    response = client.post(reverse("annotate-submit", args=[project.pk, lease.pk]), {"c-honest": "A"}, **HTMX)
    assert response.status_code == 422
    assert ("Still missing: Overall (A, B, tie or both bad), how much better (keys 1–4), Helpful."
            in response.content.decode())


def open_ranking_task(client, project, annotator, n_responses):
    """A k-way project with one task, opened in the workspace: the annotator's lease."""
    project.mode = "ranking"
    project.save()
    factories.task(project, n_responses=n_responses)
    client.get(url(project))
    return current_lease(annotator)


def test_unicode_digits_and_huge_numbers_are_rejected_not_crashed_on(client_as, project, annotator):
    client = client_as(annotator)
    lease = open_ranking_task(client, project, annotator, 3)
    response = client.post(reverse("annotate-submit", args=[project.pk, lease.pk]),
                           {"rank-A": "¹", "rank-B": "2", "rank-C": "3", "duration_ms": "²"}, **HTMX)
    assert response.status_code == 422
    assert "Overall ranking (rank A)" in response.content.decode()
    assert client.get(f"/projects/{10**25}/annotate/").status_code == 404
    assert client.post(f"/api/v1/projects/{10**25}/next-task/").status_code == 404


def test_kway_ranking_from_rank_selects(client_as, project, annotator):
    client = client_as(annotator)
    lease = open_ranking_task(client, project, annotator, 4)
    a, b, c, d = lease.display_order
    client.post(reverse("annotate-submit", args=[project.pk, lease.pk]),
                {"rank-A": "2", "rank-B": "1", "rank-C": "3", "rank-D": "2"}, **HTMX)
    assert Judgement.objects.get().ranking == [[b], [a, d], [c]]


def test_plain_form_post_redirects_back_to_the_workspace(client_as, project, annotator):
    factories.task(project)
    client = client_as(annotator)
    client.get(url(project))
    lease = current_lease(annotator)
    response = client.post(reverse("annotate-submit", args=[project.pk, lease.pk]), {"overall": "tie"})
    assert response.status_code == 302 and response["Location"] == url(project)


def test_skip_with_reason_moves_on_and_counts_down_remaining(client_as, project, annotator):
    factories.task(project)
    factories.task(project)
    client = client_as(annotator)
    assert 'data-testid="remaining">2<' in client.get(url(project)).content.decode()
    lease = current_lease(annotator)
    response = client.post(reverse("annotate-skip", args=[project.pk, lease.pk]), {"reason": "Outside my expertise"},
                           **HTMX)
    lease.refresh_from_db()
    assert (lease.status, lease.skip_reason) == ("skipped", "Outside my expertise")
    assert 'data-testid="remaining">1<' in response.content.decode()
    response = client.post(reverse("annotate-skip", args=[project.pk, current_lease(annotator).pk]),
                           {"reason": "Outside my expertise"}, **HTMX)
    assert "Nothing left for you" in response.content.decode()
    assert 'data-testid="remaining">0<' in response.content.decode()


def test_a_fragment_request_after_the_session_ended_is_401_not_the_login_page(client, project, annotator):
    factories.task(project)
    lease = queue.task_next(project=project, annotator=annotator)
    response = client.post(reverse("annotate-submit", args=[project.pk, lease.pk]), {"overall": "A"}, **HTMX)
    assert response.status_code == 401 and "sign in again" in response.content.decode()
    assert client.post(reverse("annotate-submit", args=[project.pk, lease.pk]), {"overall": "A"}).status_code == 302
    assert not Judgement.objects.exists()


def test_someone_elses_lease_is_404(client_as, project, annotator):
    factories.task(project)
    lease = queue.task_next(project=project, annotator=annotator)
    intruder = client_as(factories.member(project, "annotator"))
    assert intruder.post(reverse("annotate-submit", args=[project.pk, lease.pk]), {"overall": "A"}).status_code == 404
    assert intruder.post(reverse("annotate-skip", args=[project.pk, lease.pk]), {"reason": "x"}).status_code == 404


def test_diff_fragment_marks_changed_words(client_as, project, annotator):
    services_task = factories.task(project)
    lease = queue.task_next(project=project, annotator=annotator)
    response = client_as(annotator).get(reverse("annotate-diff", args=[project.pk, lease.pk]))
    html = response.content.decode()
    assert services_task and "<del>" in html and "<ins>" in html and 'id="ws-diff-B"' in html


def test_admin_marks_a_task_gold_from_the_gold_page(client_as, project, project_admin):
    task = factories.task(project, external_id="ext-7")
    client = client_as(project_admin)
    found = client.get(reverse("gold-tasks", args=[project.pk]), {"task": "ext-7"})
    assert found.status_code == 302
    response = client.post(found["Location"], {"rank-A": "1", "rank-B": "2", "target_judgements": "4",
                                               "action": "mark"})
    assert response.status_code == 302
    task.refresh_from_db()
    first, second = task.slots.order_by("position").values_list("response_id", flat=True)
    assert (task.is_gold, task.gold_ranking, task.target_judgements) == (True, [[first], [second]], 4)
    assert client.get(reverse("gold-tasks", args=[project.pk])).status_code == 200


def test_admin_sets_the_gold_rate_on_the_gold_page(client_as, project, project_admin):
    client = client_as(project_admin)
    response = client.post(reverse("gold-tasks", args=[project.pk]), {"gold_rate_percent": "12.5"}, follow=True)
    project.refresh_from_db()
    assert project.gold_rate == 0.125
    assert "served first to 12.5% of requests" in response.content.decode()
    response = client.post(reverse("gold-tasks", args=[project.pk]), {"gold_rate_percent": "150"}, follow=True)
    assert "between 0 and 100 percent" in response.content.decode()
    project.refresh_from_db()
    assert project.gold_rate == 0.125


def test_gold_page_is_for_project_admins(client_as, project, annotator):
    assert client_as(annotator).get(reverse("gold-tasks", args=[project.pk])).status_code == 403


def test_progress_counts_judgements_toward_the_target_when_overlap_is_above_one(client_as, project, annotator):
    project.overlap = 3
    project.save()
    first, _ = factories.task(project), factories.task(project)
    factories.judgement(first, factories.member(project, "annotator"))
    Task.objects.filter(pk=first.pk).update(completed_judgements=1)  # what judgement_submit counts
    html = client_as(annotator).get(url(project)).content.decode()
    assert "16% of the project" in html  # 1 of the 6 judgements wanted, though no task is complete yet


def test_the_diff_of_dissimilar_responses_is_rendered_not_raw_markdown(project):
    from annotation.selectors.workspace import responses_diff

    diff = responses_diff(responses=[{"label": "A", "text": "**Bold** claim about cats."},
                                     {"label": "B", "text": "- a list\n- about *dogs* entirely"}])
    assert diff["similar"] is False
    assert "<strong>Bold</strong>" in diff["diffs"][0]["html"] and "**" not in diff["diffs"][0]["html"]
    assert "<em>dogs</em>" in diff["diffs"][1]["html"] and "<li>" in diff["diffs"][1]["html"]


def test_each_card_shows_its_letter_once(client_as, project, annotator):
    factories.task(project)
    html = client_as(annotator).get(url(project)).content.decode()
    header = html[html.index('data-pick="A"'):html.index("</header>", html.index('data-pick="A"'))]
    assert header.count(">A<") == 1 and "<kbd>A</kbd>" not in header


def test_favicon_is_served(client, db):
    from django.contrib.staticfiles import finders

    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"].endswith("/favicon.svg")
    assert finders.find("favicon.svg")  # what the redirect points at exists
    assert 'rel="icon"' in client.get(reverse("login")).content.decode()


def test_the_last_judgement_comes_back_filled_in_and_is_revised_in_place(client_as, project, annotator):
    factories.rubric(project, keys=("helpful",))
    factories.task(project, prompt="First")
    factories.task(project, prompt="Second")
    client = client_as(annotator)
    client.get(url(project))
    lease = current_lease(annotator)
    client.post(reverse("annotate-submit", args=[project.pk, lease.pk]),
                {"overall": "A", "strength": "1", "c-helpful": "B"}, **HTMX)
    judgement = Judgement.objects.get(annotator=annotator)
    shown = client.get(reverse("annotate-revise", args=[project.pk]), **HTMX).content.decode()
    assert 'data-testid="revising"' in shown and "First" in shown
    assert reverse("annotate-revise-submit", args=[project.pk, judgement.pk]) in shown
    assert 'name="overall" value="A" checked' in shown and 'name="c-helpful" value="B" checked' in shown
    after = client.post(reverse("annotate-revise-submit", args=[project.pk, judgement.pk]),
                        {"overall": "B", "strength": "3", "c-helpful": "B"}, **HTMX)
    assert after.status_code == 200 and "Second" in after.content.decode()  # back to the current task
    assert unquote(after["X-Verdict-Notice"]) == "Your last judgement is revised."
    judgement.refresh_from_db()
    a, b = lease.display_order
    assert (judgement.revision, judgement.ranking, judgement.strength) == (1, [[b], [a]], 3)
    assert Judgement.objects.filter(annotator=annotator).count() == 1
