"""Every page under the Content-Security-Policy in headless Chromium: no violation, and the scripts that
make the pages work (workspace, htmx, Swagger UI, the admin) still run."""
import os

import pytest
from django.test import Client

from tests import factories

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
RECORD = """window.__csp = []; document.addEventListener('securitypolicyviolation',
  e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + (e.sourceFile || '') + ':' + e.lineNumber));"""


def test_every_page_runs_under_the_csp_without_violations(browser, live_server):
    project = factories.ProjectFactory()
    factories.rubric(project, keys=("helpful",))
    task = factories.task(project)
    from rewardtrain.models import TrainingMetric, TrainingRun

    run = TrainingRun.objects.create(project=project, snapshot=factories.snapshot_with_both_splits(project), config={})
    TrainingMetric.objects.bulk_create([TrainingMetric(run=run, step=s, kind=k, loss=1.0 / s, accuracy=0.5)
                                        for s in (1, 2, 3) for k in TrainingMetric.Kind.values])
    root = factories.UserFactory(is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(root)
    context = browser.new_context()
    context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}])
    context.add_init_script(RECORD)
    page = context.new_page()
    console = []
    page.on("console", lambda m: console.append(f"{page.url}: {m.text}") if "Content Security Policy" in m.text else None)
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    def visit(path):
        response = page.goto(live_server.url + path)
        assert response.status == 200, path
        assert "script-src 'self'" in response.headers["content-security-policy"]
        return page

    visit("/")
    visit(f"/projects/{project.pk}/")
    visit(f"/projects/{project.pk}/import/")
    visit(f"/projects/{project.pk}/gold/")
    visit(f"/projects/{project.pk}/gold/{task.pk}/")
    visit(f"/projects/{project.pk}/pii/")
    visit(f"/projects/{project.pk}/webhooks/")
    visit(f"/projects/{project.pk}/audit/")
    visit(f"/train/projects/{project.pk}/snapshots/")
    visit(f"/train/projects/{project.pk}/runs/")
    visit(f"/train/projects/{project.pk}/runs/{run.pk}/")
    visit(f"/train/projects/{project.pk}/models/")
    visit(f"/train/projects/{project.pk}/monitoring/")
    visit(f"/projects/{project.pk}/annotate/")
    page.keyboard.press("?")  # the workspace script runs: its key help opens
    page.keyboard.press("Escape")
    page.keyboard.press("w")  # htmx fetches the diff fragment
    page.wait_for_timeout(500)
    visit("/admin/")
    visit("/admin/annotation/project/")
    visit(f"/admin/annotation/project/{project.pk}/change/")
    visit("/api/docs/")
    expect(page.locator(".swagger-ui .info")).to_be_visible(timeout=20_000)  # Swagger UI rendered the schema
    page.context.clear_cookies()
    visit("/accounts/login/")
    page.wait_for_timeout(300)
    assert page.evaluate("window.__csp") == [] and console == [], (page.evaluate("window.__csp"), console)
    assert errors == []


def test_the_periodic_task_admin_form_runs_under_the_csp(browser, live_server):
    """django-celery-beat's form writes a chosen crontab in words under the field; its own template does
    that with an inline script, which the CSP refused (a console error, and no words)."""
    from django_celery_beat.models import CrontabSchedule

    crontab = CrontabSchedule.objects.create(minute="30", hour="4", day_of_week="*", day_of_month="*",
                                             month_of_year="*")
    client = Client()
    client.force_login(factories.UserFactory(is_staff=True, is_superuser=True))
    context = browser.new_context()
    context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}])
    context.add_init_script(RECORD)
    page = context.new_page()
    console = []
    page.on("console", lambda m: console.append(m.text) if "Content Security Policy" in m.text else None)
    assert page.goto(live_server.url + "/admin/django_celery_beat/periodictask/add/").status == 200
    page.select_option("#id_crontab", str(crontab.pk))
    expect(page.locator(".field-crontab .help")).to_contain_text("Translation: At 04:30")
    assert page.evaluate("window.__csp") == [] and console == [], (page.evaluate("window.__csp"), console)
