"""The project admin's workspace in headless Chromium under the CSP: create a project with a live
Markdown preview (htmx), add a member with a one-time password, and walk every admin page."""
import os

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from annotation.models import Membership, Project
from tests import factories

from .test_csp_browser import RECORD

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
SHOTS = os.environ.get("VERDICT_SCREENSHOTS")  # a folder: save a screenshot of each page there


def test_an_admin_creates_a_project_and_manages_it_in_the_browser(browser, live_server):
    user = factories.UserFactory(username="lead")
    user.user_permissions.add(Permission.objects.get(codename="add_project"))
    client = Client()
    client.force_login(user)
    context = browser.new_context()
    context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}])
    context.add_init_script(RECORD)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    def shot(name):
        if SHOTS:
            page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=True)

    page.goto(live_server.url + "/")
    page.get_by_role("link", name="New project").click()
    page.get_by_label("Name").fill("Browser project")
    page.get_by_label("Instructions").fill("Prefer **honest** answers <script>alert(1)</script>")
    expect(page.locator("#instructions-preview strong")).to_have_text("honest")  # htmx preview under the CSP
    assert page.locator("#instructions-preview script").count() == 0
    page.get_by_label("Overlap (judgements wanted per task)").fill("2")
    page.get_by_label("Adaptive overlap: ask more annotators on disputed tasks").check()
    shot("project_new")
    page.get_by_role("button", name="Create project").click()
    expect(page.locator("h1")).to_have_text("Browser project")
    project = Project.objects.get(name="Browser project")
    assert project.overlap == 2 and project.adaptive_overlap and project.instructions.startswith("Prefer **honest**")
    assert Membership.objects.filter(project=project, user=user, role="admin").exists()

    page.get_by_role("link", name="Manage project").click()
    page.get_by_role("link", name="Members").click()
    page.get_by_label("Username").fill("newcomer")
    page.get_by_label("Create this user (a one-time password is shown once)").check()
    page.get_by_role("button", name="Add").click()
    password = page.locator(".one-time-password").inner_text()
    assert Client().login(username="newcomer", password=password)
    shot("members")

    factories.task(project)
    for name, heading in [("Rubric", "Rubric"), ("Batches", "Batches"), ("Tasks", "Tasks"),
                          ("Disputed", "Disputed tasks"), ("Settings", "Settings")]:
        page.get_by_role("navigation", name="Project administration").get_by_role("link", name=name).click()
        expect(page.locator("h1")).to_have_text(heading)
        shot(name.lower())
    assert page.evaluate("window.__csp") == [] and errors == [], (page.evaluate("window.__csp"), errors)
