"""The training pages in headless Chromium: train from the page, watch the run live (htmx polling),
open the model's report, promote it with the confirmation, compare and roll back.

The test plays the training worker itself: the page's enqueue is swapped for a no-op, the test
writes the first steps as a worker would (so the live progress can be watched step by step), then
runs the real runner (`training_run_execute`) on a tiny BERT to finish, validate and register.
"""
import os
import re

import pytest
from django.test import Client

from rewardtrain.models import ModelVersion, TrainingRun
from rewardtrain.training import config as run_config
from rewardtrain.training import runner
from rewardtrain.training import services as run_services
from tests.rewardtrain.ml.conftest import minilm_tokenizer, tiny_bert  # noqa: F401
from tests.rewardtrain.training.conftest import learnable_project, snapshot_of

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop
playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
NUMBER = re.compile(r"^-?\d\.\d{3}$")
CSP_RECORD = """window.__csp = []; document.addEventListener('securitypolicyviolation',
  e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"""


@pytest.fixture
def page(browser, live_server, ml_engineer):
    client = Client()
    client.force_login(ml_engineer)
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}])
    context.add_init_script(CSP_RECORD)
    page = context.new_page()
    page.base = live_server.url
    page.dialogs, page.answer = [], [True]

    def on_dialog(dialog):
        page.dialogs.append(dialog.message)
        dialog.accept() if page.answer[0] else dialog.dismiss()

    page.on("dialog", on_dialog)
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    page.on("console", lambda m: page.errors.append(m.text) if "Content Security Policy" in m.text else None)
    yield page
    context.close()


@pytest.fixture
def tiny_runs(monkeypatch, settings, tmp_path, tiny_bert):
    """Runs started from the page train the tiny BERT; nothing is sent to a broker (the test is the worker)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    for key, value in {"model": tiny_bert, "max_length": 64, "batch_tokens": 256}.items():
        monkeypatch.setitem(run_config.APP_DEFAULTS, key, value)
    queued = []
    monkeypatch.setattr(run_services, "_enqueue", queued.append)
    return queued


def test_train_watch_promote_compare_and_roll_back(page, project, tiny_runs):
    learnable_project(project)
    snapshot_of(project)
    page.goto(f"{page.base}/projects/{project.pk}/")
    page.get_by_role("link", name="Training runs").click()

    # Start a run from the Train form (defaults plus a few steps).
    page.get_by_label("Max steps").fill("6")
    page.get_by_label("Learning rate").fill("0.003")
    page.get_by_role("button", name="Train").click()
    page.wait_for_url("**/runs/*/")
    run = TrainingRun.objects.get()
    assert tiny_runs == [run.pk]
    page.evaluate("window.__samePage = 1")  # survives only if the page is never reloaded
    live = page.locator("#run-live")
    expect(live).to_contain_text("Queued")
    expect(live).to_contain_text("Waiting for the first training step")

    # A worker claims it and reports steps: the bar moves and the curves appear, without a reload.
    token = run_services.training_run_claim(run_id=run.pk, worker="gpu-1:7")
    for step, loss in ((1, 0.69), (2, 0.62)):
        run_services.training_metric_record(run_id=run.pk, step=step, kind="train", loss=loss, accuracy=0.5)
    run_services.training_run_beat(run_id=run.pk, token=token, progress=0.25)
    progress = live.locator("progress")
    expect(progress).to_have_attribute("value", "0.25")
    expect(live).to_contain_text("gpu-1:7")
    loss_chart = live.locator("svg[aria-label='Loss by optimizer step']")
    expect(loss_chart).to_be_visible()
    expect(loss_chart).to_contain_text("optimizer step")
    run_services.training_metric_record(run_id=run.pk, step=3, kind="train", loss=0.55, accuracy=0.75)
    run_services.training_run_beat(run_id=run.pk, token=token, progress=0.5)
    expect(progress).to_have_attribute("value", "0.5")
    expect(live.locator("svg[aria-label='Accuracy by optimizer step']")).to_contain_text("accuracy")

    # The real runner takes over (as a redelivered worker would) and finishes: polling stops.
    TrainingRun.objects.filter(pk=run.pk).update(status="queued")
    runner.training_run_execute(run_id=run.pk)
    expect(live).to_contain_text("Succeeded", timeout=20_000)
    expect(live).to_contain_text(re.compile(r"took \d+ (s|min)"))
    expect(live).not_to_have_attribute("hx-trigger", "every 2s")
    polls = []
    page.on("request", lambda request: polls.append(request.url) if f"/runs/{run.pk}/" in request.url else None)
    page.wait_for_timeout(4500)
    assert polls == [], "the finished run's page still polls"
    assert page.evaluate("window.__samePage") == 1

    # The model and its report: headline numbers, baselines and labelled charts.
    live.get_by_role("link", name="model version 1").click()
    page.wait_for_url("**/models/*/")
    for row in ("report-accuracy", "report-ece", "report-length_correlation", "report-longer-wins"):
        expect(page.locator(f"#{row} td").first).to_have_text(NUMBER)
    expect(page.locator("#report-longer-wins")).to_contain_text("longer response wins")
    reliability = page.locator("svg[aria-label^='Reliability of v1']")
    expect(reliability).to_contain_text("predicted P(chosen wins)")
    expect(reliability).to_contain_text("observed accuracy")
    histogram = page.locator("svg[aria-label='Rewards of v1 on validation pairs']")
    expect(histogram).to_contain_text("reward (model score)")
    expect(histogram).to_contain_text("rejected")

    # Promote asks first: dismissing changes nothing, accepting promotes.
    page.answer[0] = False
    page.get_by_role("button", name="Promote v1 to active").click()
    page.wait_for_timeout(500)
    assert page.dialogs and "Promote v1" in page.dialogs[-1]
    assert ModelVersion.objects.get().status == "candidate"
    page.answer[0] = True
    page.get_by_role("button", name="Promote v1 to active").click()
    expect(page.locator(".messages")).to_contain_text("Version 1 is now the active model.")
    v1 = ModelVersion.objects.get()
    assert v1.status == "active"

    # A second version (same artefact and report, registered directly), promoted and compared, then rolled back.
    v2 = ModelVersion.objects.create(project=project, version=2, artifact_dir=v1.artifact_dir,
                                     validation_report=v1.validation_report)
    page.reload()
    page.locator("#model-%d" % v2.pk).get_by_role("button", name="Promote").click()
    expect(page.locator(".messages")).to_contain_text("Version 2 is now the active model.")
    page.get_by_label("Compare", exact=True).select_option(str(v2.pk))
    page.get_by_label("with", exact=True).select_option(str(v1.pk))
    page.get_by_role("button", name="Compare").click()
    expect(page.locator("table.compare")).to_contain_text("v2 − v1")
    expect(page.locator(".errors")).to_contain_text("different snapshots")  # v2 has no run: rows not known equal
    page.go_back()
    page.get_by_role("button", name="Roll back to v1").click()
    expect(page.locator(".messages")).to_contain_text("Rolled back: version 1 is active again.")
    assert any("Roll back" in message for message in page.dialogs)
    expect(page.locator(f"#model-{v1.pk}")).to_contain_text("Active")
    assert not page.errors and page.evaluate("window.__csp") == []
