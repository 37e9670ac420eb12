"""The annotator workspace in headless Chromium: keyboard-only judging, rankings, ties, skips, XSS."""
import os
import re

import pytest
from django.test import Client

from annotation.services import judgements, queue, tasks
from annotation.models import Assignment, Judgement
from tests import factories

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop
playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def open_workspace(browser, live_server):
    contexts = []

    def open_for(user, project, width=1280):
        client = Client()
        client.force_login(user)
        context = browser.new_context(viewport={"width": width, "height": 900})
        context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}])
        contexts.append(context)
        page = context.new_page()
        page.dialogs = []
        page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
        page.errors = []
        page.on("pageerror", lambda exc: page.errors.append(str(exc)))
        page.goto(f"{live_server.url}/projects/{project.pk}/annotate/")
        page.evaluate("window.__samePage = 1")  # survives only if no reload happens
        return page

    yield open_for
    for context in contexts:
        context.close()


def lease_of(user):
    return Assignment.objects.get(annotator=user, status=Assignment.Status.ACTIVE)


def wait_for_next_task(page, previous_assignment_id):
    expect(page.locator("#task")).not_to_have_attribute("data-assignment", str(previous_assignment_id))


def test_keyboard_only_pairwise_judgement_with_rubric_and_rationale(open_workspace, project, annotator):
    project.rationale_required = True
    project.save()
    factories.rubric(project, keys=("helpful", "safe"))
    factories.task(project, prompt="First prompt about rivers", priority=2)
    factories.task(project, prompt="Second prompt about mountains", priority=1)
    page = open_workspace(annotator, project)
    lease = lease_of(annotator)
    a, b = lease.display_order

    page.keyboard.press("b")          # overall: B is better
    page.keyboard.press("3")          # clearly better
    page.keyboard.press("a")          # helpful: A
    page.keyboard.press("t")          # safe: tie
    page.keyboard.press("r")
    page.keyboard.type("B answers the question; A rambles.")
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")

    wait_for_next_task(page, lease.pk)
    expect(page.locator(".ws-prompt")).to_contain_text("Second prompt about mountains")
    expect(page.get_by_test_id("done-today")).to_have_text("1")
    assert page.evaluate("window.__samePage") == 1
    judgement = Judgement.objects.get(annotator=annotator)
    assert judgement.ranking == [[b], [a]] and judgement.strength == 2
    assert judgement.criteria == {"helpful": [[a], [b]], "safe": [[a, b]]}
    assert judgement.rationale == "B answers the question; A rambles."
    assert judgement.duration_ms is not None and judgement.duration_ms > 0
    assert not page.errors


def test_missing_answer_is_explained_and_nothing_is_lost(open_workspace, project, annotator):
    factories.task(project)
    page = open_workspace(annotator, project)
    page.keyboard.press("a")
    page.keyboard.press("Enter")  # no strength yet
    expect(page.get_by_test_id("error")).to_contain_text("Still missing: how much better")
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    expect(page.locator(".ws-empty")).to_be_visible()
    assert Judgement.objects.get(annotator=annotator).strength == 1


def test_tie_by_keyboard(open_workspace, project, annotator):
    factories.task(project)
    page = open_workspace(annotator, project)
    lease = lease_of(annotator)
    page.keyboard.press("t")
    page.keyboard.press("Enter")
    expect(page.locator(".ws-empty")).to_be_visible()
    assert Judgement.objects.get(annotator=annotator).ranking == [lease.display_order]


def test_kway_ranking_by_keyboard_with_a_tied_group(open_workspace, project, annotator):
    project.mode = "ranking"
    project.save()
    factories.task(project, n_responses=4)
    page = open_workspace(annotator, project)
    r = dict(zip("ABCD", lease_of(annotator).display_order))
    for key in ["b", "t", "d", "a"]:  # B best, D tied with B, then A; C is implied last
        page.keyboard.press(key)
    expect(page.locator('.ws-q[data-q="rank"] .ws-chip').first).to_contain_text("B")
    page.keyboard.press("Enter")
    expect(page.locator(".ws-empty")).to_be_visible()
    assert Judgement.objects.get(annotator=annotator).ranking == [[r["B"], r["D"]], [r["A"]], [r["C"]]]


def test_kway_ranking_by_clicking_in_order_and_moving_a_chip(open_workspace, project, annotator):
    project.mode = "ranking"
    project.save()
    factories.task(project, n_responses=3)
    page = open_workspace(annotator, project)
    r = dict(zip("ABC", lease_of(annotator).display_order))
    page.click('[data-pick="C"]')
    page.click('[data-pick="A"]')          # B is implied last
    chip = page.locator('.ws-tray .ws-chip[data-letter="B"]')
    chip.focus()
    page.keyboard.press("Alt+ArrowLeft")   # the keyboard twin of dragging B above A
    expect(page.locator(".ws-tray .ws-chip").nth(1)).to_contain_text("B")
    page.locator("#judgement-form button[type=submit]").click()
    expect(page.locator(".ws-empty")).to_be_visible()
    assert Judgement.objects.get(annotator=annotator).ranking == [[r["C"]], [r["B"]], [r["A"]]]


def test_kway_ranking_by_dragging(open_workspace, project, annotator):
    project.mode = "ranking"
    project.save()
    factories.task(project, n_responses=3)
    page = open_workspace(annotator, project)
    r = dict(zip("ABC", lease_of(annotator).display_order))
    page.keyboard.press("a")
    page.keyboard.press("b")               # A, B, C
    page.locator('.ws-tray .ws-chip[data-letter="C"]').drag_to(
        page.locator('.ws-tray .ws-chip[data-letter="A"]'))
    expect(page.locator(".ws-tray .ws-chip").first).to_contain_text("C")
    page.keyboard.press("Enter")
    expect(page.locator(".ws-empty")).to_be_visible()
    assert Judgement.objects.get(annotator=annotator).ranking == [[r["C"]], [r["A"]], [r["B"]]]


def test_skip_by_keyboard_with_a_reason(open_workspace, project, annotator):
    factories.task(project, prompt="Skip me", priority=2)
    factories.task(project, prompt="Then me", priority=1)
    page = open_workspace(annotator, project)
    lease = lease_of(annotator)
    page.keyboard.press("s")
    expect(page.locator("#ws-skip")).to_be_visible()
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    wait_for_next_task(page, lease.pk)
    expect(page.locator(".ws-prompt")).to_contain_text("Then me")
    lease.refresh_from_db()
    assert (lease.status, lease.skip_reason) == ("skipped", "Prompt or responses are broken")
    assert page.evaluate("window.__samePage") == 1


def test_help_overlay_and_diff_toggle(open_workspace, project, annotator):
    tasks.task_create(project=project, prompt="Compare", responses=["The cat sat on the mat.",
                                                                      "The cat sat on the red mat."])
    page = open_workspace(annotator, project)
    page.keyboard.press("?")
    expect(page.locator("#ws-help")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("#ws-help")).to_be_hidden()
    page.keyboard.press("w")
    # Each side marks the words only it has; the display order is shuffled, so either side may.
    expect(page.locator(".ws-response .ws-diffbody").locator("ins, del")).to_have_text("red")
    expect(page.locator(".ws-response .ws-body.md").first).to_be_hidden()


XSS = [
    "<script>window.__xss = 1; alert('script')</script>",
    '<img src=x onerror="window.__xss = 2; alert(\'img\')">',
    "[click me](javascript:window.__xss=3;alert('link'))",
    '<a href="javascript:alert(4)" onclick="window.__xss=4">raw link</a>',
    '<svg onload="window.__xss=5"></svg><iframe src="javascript:alert(6)"></iframe>',
]


def test_xss_payloads_in_prompts_responses_and_instructions_never_run(open_workspace, project, annotator, live_server):
    project.instructions = XSS[0] + "\n\n" + XSS[2]
    project.save()
    tasks.task_create(project=project, prompt=[{"role": "user", "content": XSS[1]},
                                                  {"role": "assistant", "content": XSS[3]},
                                                  {"role": "user", "content": XSS[4]}],
                         responses=["\n\n".join(XSS), "Safe answer with " + XSS[2]])
    page = open_workspace(annotator, project)
    page.keyboard.press("n")  # open the instructions too
    expect(page.locator("#ws-guide")).to_have_attribute("open", "")
    links = page.locator(".ws-task a, .ws-guide a")
    assert links.count() >= 3
    for link in links.all():
        link.click(no_wait_after=True, timeout=2000)
    page.keyboard.press("w")  # the diff view renders the same text another way
    expect(page.locator(".ws-response .ws-diffbody").first).not_to_be_empty()
    page.wait_for_timeout(300)  # give any injected handler a chance to fire before asserting it did not
    assert page.evaluate("window.__xss") is None
    assert page.dialogs == []
    # Annotators see what the model wrote, as text.
    expect(page.locator(".ws-response .ws-body.md", has_text="<script>window.__xss = 1;")).to_have_count(1)
    assert page.locator(".ws-task script, .ws-task img, .ws-task iframe, .ws-task svg").count() == 0
    assert page.locator("[onerror], [onclick], [onload], a[href^='javascript']").count() == 0


def test_narrow_screens_stack_the_responses(open_workspace, project, annotator):
    factories.task(project)
    page = open_workspace(annotator, project, width=400)
    a, b = page.locator(".ws-response").all()
    assert a.bounding_box()["y"] < b.bounding_box()["y"]
    assert abs(a.bounding_box()["x"] - b.bounding_box()["x"]) < 2
    assert page.evaluate("document.documentElement.scrollWidth") <= 400  # nothing sticks out sideways


def test_a_signed_out_annotator_keeps_the_answer_and_submits_after_signing_in_again(open_workspace, project, annotator,
                                                                                     live_server):
    annotator.set_password("pass-for-e2e")
    annotator.save()
    factories.task(project)
    page = open_workspace(annotator, project)
    lease = lease_of(annotator)
    page.keyboard.press("t")
    page.context.clear_cookies()  # the session ends (logged out elsewhere, or expired)
    page.keyboard.press("Enter")
    expect(page.locator(".ws-alert")).to_contain_text("You are signed out")
    expect(page.locator('.ws-q[data-q="overall"] input[value="tie"]')).to_be_checked()  # the answer is still there
    assert not Judgement.objects.exists()

    login = page.context.new_page()  # "sign in again in a new tab"
    login.goto(f"{live_server.url}/accounts/login/")
    login.fill("input[name=username]", annotator.username)
    login.fill("input[name=password]", "pass-for-e2e")
    login.keyboard.press("Enter")
    login.wait_for_url(lambda url: "/accounts/login/" not in url)
    login.close()

    page.bring_to_front()
    page.keyboard.press("Enter")  # the CSRF token rotated at sign-in; the page sends the new one
    expect(page.locator(".ws-empty")).to_be_visible()
    assert Judgement.objects.get(annotator=annotator).ranking == [lease.display_order]
    assert page.evaluate("window.__samePage") == 1


def test_errors_and_the_next_task_come_into_view_on_a_short_screen(open_workspace, project, annotator):
    factories.rubric(project, keys=("helpful", "safe", "honest"))
    factories.task(project, prompt="First prompt", priority=2)
    factories.task(project, prompt="Second prompt", priority=1)
    page = open_workspace(annotator, project)
    page.set_viewport_size({"width": 1280, "height": 420})
    lease = lease_of(annotator)
    for key in ["a", "j", "a", "b"]:  # overall A (no strength yet), next question, helpful A, safe B; honest unanswered
        page.keyboard.press(key)
    page.keyboard.press("Enter")
    error = page.get_by_test_id("error")
    expect(error).to_contain_text("Still missing: how much better (keys 1–4), Honest.")
    expect(error).to_be_in_viewport()
    page.keyboard.press("k")
    page.keyboard.press("k")
    page.keyboard.press("k")  # back to the overall question for its strength
    page.keyboard.press("2")
    page.keyboard.press("t")  # honest: tie
    assert page.evaluate("window.scrollY") > 0  # the questions are below the fold
    page.keyboard.press("Enter")
    wait_for_next_task(page, lease.pk)
    expect(page.locator(".ws-prompt")).to_contain_text("Second prompt")
    expect(page.locator(".ws-prompt")).to_be_in_viewport()


def test_kway_ties_are_refused_on_screen_where_the_project_forbids_them(open_workspace, project, annotator):
    project.mode, project.allow_ties = "ranking", False
    project.save()
    factories.task(project, n_responses=3)
    page = open_workspace(annotator, project)
    r = dict(zip("ABC", lease_of(annotator).display_order))
    page.keyboard.press("a")
    page.keyboard.press("t")
    expect(page.locator(".ws-flash")).to_contain_text("Ties are not allowed")
    page.keyboard.press("b")  # B second, not tied with A
    page.keyboard.press("Enter")
    expect(page.locator(".ws-empty")).to_be_visible()
    assert Judgement.objects.get(annotator=annotator).ranking == [[r["A"]], [r["B"]], [r["C"]]]


def test_the_prefetched_next_task_appears_before_the_server_has_answered(open_workspace, project, annotator):
    factories.task(project, prompt="First: rivers", priority=3)
    factories.task(project, prompt="Second: mountains", priority=2)
    factories.task(project, prompt="Third: deserts", priority=1)
    page = open_workspace(annotator, project)
    first = lease_of(annotator)
    expect(page.locator("#ws-next")).to_have_count(1)  # the next task is in the page already
    held = []
    page.route("**/submit/", lambda route: held.append(route))  # hold the submission on the wire
    page.keyboard.press("t")
    page.keyboard.press("Enter")
    expect(page.locator(".ws-prompt")).to_contain_text("Second: mountains")  # shown while the POST is held
    assert len(held) == 1 and not Judgement.objects.exists()
    held[0].continue_()
    expect(page.locator("#task #ws-next")).to_have_count(1)  # the answer landed; the third task is reserved
    assert Judgement.objects.get(annotator=annotator).assignment_id == first.pk
    page.unroute("**/submit/")
    page.keyboard.press("a")
    page.keyboard.press("4")
    page.keyboard.press("Enter")
    expect(page.locator(".ws-prompt")).to_contain_text("Third: deserts")
    expect(page.get_by_test_id("done-today")).to_have_text("2")
    assert page.evaluate("window.__samePage") == 1 and not page.errors


def test_an_answer_that_cannot_reach_the_server_comes_back_intact(open_workspace, project, annotator):
    factories.task(project, prompt="First: rivers", priority=2)
    factories.task(project, prompt="Second: mountains", priority=1)
    page = open_workspace(annotator, project)
    first = lease_of(annotator)
    page.route("**/submit/", lambda route: route.abort())  # the network is down
    page.keyboard.press("b")
    page.keyboard.press("3")
    page.keyboard.press("r")
    page.keyboard.type("B is precise.")
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")
    expect(page.locator(".ws-flash")).to_contain_text("Could not reach the server")
    expect(page.locator(".ws-prompt")).to_contain_text("First: rivers")  # back to the task answered
    expect(page.locator('input[name=overall][value="B"]')).to_be_checked()
    expect(page.locator("textarea[name=rationale]")).to_have_value("B is precise.")
    assert not Judgement.objects.exists()
    page.unroute("**/submit/")
    page.keyboard.press("Enter")  # try again
    expect(page.locator(".ws-prompt")).to_contain_text("Second: mountains")
    expect(page.get_by_test_id("done-today")).to_have_text("1")  # the answer landed
    expect(page.locator("#task #ws-next")).to_have_count(0)  # and nothing is left to reserve
    judgement = Judgement.objects.get(annotator=annotator)
    assert (judgement.assignment_id, judgement.strength, judgement.rationale) == (first.pk, 2, "B is precise.")


def test_a_reservation_taken_over_by_someone_idle_is_explained_on_screen(open_workspace, project, annotator):
    project.overlap = 1
    project.save()
    factories.task(project, prompt="One", priority=3)
    factories.task(project, prompt="Two", priority=2)
    factories.task(project, prompt="Three", priority=1)
    page = open_workspace(annotator, project)  # holds One, has Two reserved
    other = factories.member(project, "annotator")
    three = queue.task_next(project=project, annotator=other)
    judgements.judgement_submit(assignment=three, ranking=[[three.display_order[0]], [three.display_order[1]]],
                             strength=0)
    assert queue.task_next(project=project, annotator=other).task.prompt.text == "Two"  # taken over
    page.keyboard.press("t")
    page.keyboard.press("Enter")
    expect(page.locator(".ws-alert")).to_contain_text("went to another annotator")
    expect(page.locator(".ws-empty")).to_be_visible()


def test_skip_waits_until_the_previous_answer_is_saved(open_workspace, project, annotator):
    factories.task(project, prompt="First", priority=2)
    factories.task(project, prompt="Second", priority=1)
    page = open_workspace(annotator, project)
    held = []
    page.route("**/submit/", lambda route: held.append(route))
    page.keyboard.press("t")
    page.keyboard.press("Enter")
    expect(page.locator(".ws-prompt")).to_contain_text("Second")
    page.keyboard.press("s")
    expect(page.locator(".ws-flash")).to_contain_text("Saving your previous answer")
    expect(page.locator("#ws-skip")).to_be_hidden()
    held[0].continue_()
    expect(page.get_by_test_id("done-today")).to_have_text("1")
    page.keyboard.press("s")
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    expect(page.locator(".ws-empty")).to_be_visible()
    assert Judgement.objects.get(annotator=annotator).task.prompt.text == "First"
    assert Assignment.objects.get(annotator=annotator, status="skipped").task.prompt.text == "Second"


def test_kway_all_bad_counts_as_a_complete_answer(open_workspace, project, annotator):
    project.mode = "ranking"
    project.save()
    factories.task(project, n_responses=3, prompt="First", priority=2)
    factories.task(project, n_responses=3, prompt="Second", priority=1)
    page = open_workspace(annotator, project)
    held = []
    page.route("**/submit/", lambda route: held.append(route))
    page.keyboard.press("x")
    page.keyboard.press("Enter")
    expect(page.locator(".ws-prompt")).to_contain_text("Second")  # swapped at once: the answer was complete
    held[0].continue_()
    expect(page.get_by_test_id("done-today")).to_have_text("1")
    assert Judgement.objects.get(annotator=annotator).both_bad is True


def test_a_laptop_screen_shows_the_comparison_and_every_control_without_scrolling_the_page(
        browser, live_server, project, annotator):
    factories.rubric(project, keys=("helpful", "harmless", "honest"))
    long_text = "\n\n".join(f"Paragraph {i}: " + "a long answer with many words " * 12 for i in range(30))
    tasks.task_create(project=project, prompt="Explain it at length", responses=[long_text, long_text + " Also."])
    client = Client()
    client.force_login(annotator)
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}])
    page = context.new_page()
    page.goto(f"{live_server.url}/projects/{project.pk}/annotate/")
    expect(page.locator(".ws-response").first).to_be_visible()
    for control in [page.locator(".ws-q").nth(i) for i in range(4)] + [
            page.locator("#judgement-form button[type=submit]"), page.locator("textarea[name=rationale]")]:
        box = control.bounding_box()
        assert box and box["y"] >= 0 and box["y"] + box["height"] <= 720, box
    # one scrollbar per text: the long responses scroll inside their cards, the page does not scroll
    assert page.evaluate("document.documentElement.scrollHeight <= window.innerHeight + 1")
    assert page.evaluate("[...document.querySelectorAll('.ws-body.md')].every(b => b.scrollHeight > b.clientHeight)")
    context.close()


def test_on_a_phone_the_prompt_shows_the_last_user_turn(browser, live_server, project, annotator):
    chat = [{"role": "user", "content": "Background " * 150}, {"role": "assistant", "content": "Noted " * 150},
            {"role": "user", "content": "The question that matters?"}]
    tasks.task_create(project=project, prompt=chat, responses=["Yes.", "No."])
    client = Client()
    client.force_login(annotator)
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}])
    page = context.new_page()
    page.goto(f"{live_server.url}/projects/{project.pk}/annotate/")
    last = page.locator(".ws-turn").last
    expect(last).to_contain_text("The question that matters?")
    last.scroll_into_view_if_needed()
    assert page.evaluate("(() => { const p = document.querySelector('.ws-prompt'); "
                         "return p.scrollHeight <= p.clientHeight + 1; })()")  # nothing clipped inside the box
    context.close()


def test_after_a_tie_or_both_bad_the_strength_row_is_switched_off(open_workspace, project, annotator):
    project.allow_both_bad = True
    project.save()
    factories.task(project)
    page = open_workspace(annotator, project)
    page.keyboard.press("a")
    page.keyboard.press("2")
    page.keyboard.press("x")  # both bad after all
    strength = page.locator(".ws-strength")
    expect(strength).to_have_class(re.compile(r"\bis-off\b"))
    expect(page.locator("input[name=strength]:checked")).to_have_count(0)
    page.keyboard.press("b")
    expect(strength).not_to_have_class(re.compile(r"\bis-off\b"))


def test_one_key_gives_every_criterion_the_overall_answer(open_workspace, project, annotator):
    factories.rubric(project, keys=("helpful", "safe", "honest"))
    factories.task(project, prompt="First", priority=2)
    factories.task(project, prompt="Second", priority=1)
    page = open_workspace(annotator, project)
    lease = lease_of(annotator)
    for key in ["b", "3", "o", "Enter"]:  # four keys for overall + three criteria
        page.keyboard.press(key)
    expect(page.get_by_test_id("done-today")).to_have_text("1")
    judgement = Judgement.objects.get(annotator=annotator)
    b = lease.display_order[1]
    assert judgement.ranking[0] == [b] and judgement.strength == 2
    assert {key: rank[0] for key, rank in judgement.criteria.items()} == {"helpful": [b], "safe": [b], "honest": [b]}


def test_one_key_copies_a_ranking_to_every_criterion(open_workspace, project, annotator):
    project.mode = "ranking"
    project.save()
    factories.rubric(project, keys=("helpful",))
    factories.task(project, n_responses=3, prompt="Rank me")
    page = open_workspace(annotator, project)
    lease = lease_of(annotator)
    for key in ["c", "a", "b", "o", "Enter"]:
        page.keyboard.press(key)
    expect(page.get_by_test_id("done-today")).to_have_text("1")
    judgement = Judgement.objects.get(annotator=annotator)
    a, b, c = lease.display_order
    assert judgement.ranking == [[c], [a], [b]] and judgement.criteria["helpful"] == [[c], [a], [b]]


def test_z_brings_back_the_last_judgement_to_revise_it(open_workspace, project, annotator):
    factories.task(project, prompt="First", priority=2)
    factories.task(project, prompt="Second", priority=1)
    page = open_workspace(annotator, project)
    lease = lease_of(annotator)
    for key in ["a", "2", "Enter"]:
        page.keyboard.press(key)
    expect(page.get_by_test_id("done-today")).to_have_text("1")
    page.keyboard.press("z")
    expect(page.get_by_test_id("revising")).to_be_visible()
    expect(page.locator(".ws-prompt")).to_contain_text("First")
    for key in ["b", "4", "Enter"]:
        page.keyboard.press(key)
    expect(page.locator(".ws-prompt")).to_contain_text("Second")
    expect(page.locator(".ws-flash")).to_contain_text("revised")
    judgement = Judgement.objects.get(annotator=annotator)
    a, b = lease.display_order
    assert (judgement.revision, judgement.ranking, judgement.strength) == (1, [[b], [a]], 3)
    assert judgement.history[0]["ranking"] == [[a], [b]]
    assert page.errors == []
