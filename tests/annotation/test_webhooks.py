"""Webhooks against a real HTTP receiver on loopback (a thread with http.server) that fails the first
deliveries and checks every signature; events from the services that cause them; SSRF refusals;
the page and the API. One test runs a real Celery worker to show the back-off and that the request
causing an event does not wait for its delivery."""
import hashlib
import hmac
import io
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from rest_framework.test import APIClient

from annotation.models import AuditEvent, Webhook, WebhookDelivery
from annotation.services import queue
from annotation.services.imports.tasks import tasks_import
from annotation.services.judgements import judgement_submit
from annotation.services.webhooks import (WebhookError, backoff_seconds, webhook_alert_fired, webhook_create,
                                          webhook_event, webhook_send_test, webhook_url_check)
from tests import factories
from tests.factories import jsonl

Event = Webhook.Event


class Receiver:
    """An HTTP endpoint that answers `fail_first` requests with 500, then 200; records what came."""

    def __init__(self, fail_first: int = 0, secret: str = "", delay: float = 0.0):
        self.fail_first, self.secret, self.delay = fail_first, secret, delay
        self.requests: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                time.sleep(receiver.delay)
                expected = "sha256=" + hmac.new(receiver.secret.encode(), body, hashlib.sha256).hexdigest()
                receiver.requests.append({"at": time.monotonic(), "headers": dict(self.headers), "body": body,
                                          "signed": hmac.compare_digest(expected, self.headers["X-Verdict-Signature"])})
                code = 500 if len(receiver.requests) <= receiver.fail_first else 200
                self.send_response(code)
                self.end_headers()
                self.wfile.write(b"down for maintenance" if code == 500 else b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def loopback(settings):
    settings.VERDICT_WEBHOOK_ALLOW_PRIVATE = True
    settings.VERDICT_WEBHOOK_BACKOFF_SECONDS = 2
    settings.VERDICT_WEBHOOK_MAX_ATTEMPTS = 4
    made = []

    def make(**kwargs):
        made.append(Receiver(**kwargs))
        return made[-1]

    yield make
    for receiver in made:
        receiver.close()


def hook_for(project, receiver, events=()):
    hook = webhook_create(project=project, url=receiver.url, events=events)
    receiver.secret = hook.secret
    return hook


def test_failed_deliveries_are_retried_with_back_off_and_every_one_is_signed(
        project, loopback, django_capture_on_commit_callbacks):
    receiver = loopback(fail_first=2)
    hook = hook_for(project, receiver)
    with django_capture_on_commit_callbacks(execute=True):
        webhook_alert_fired(project_id=project.pk, alert={"rule": "mean_drop", "value": -3.1})
    attempts = list(WebhookDelivery.objects.order_by("attempt"))
    assert [(d.attempt, d.status, d.response_code) for d in attempts] == [
        (1, "failed", 500), (2, "failed", 500), (3, "succeeded", 200)]
    assert [d.will_retry for d in attempts] == [True, True, False]
    assert "HTTP 500: down for maintenance" in attempts[0].error
    # the back-off: each retry is due base · 2^(attempt-1) after the failure before it
    for before, after, wait in [(attempts[0], attempts[1], 2), (attempts[1], attempts[2], 4)]:
        assert abs((after.due_at - before.finished_at).total_seconds() - wait) < 1
    assert [backoff_seconds(n) for n in (1, 2, 3)] == [2, 4, 8]
    assert len(receiver.requests) == 3 and all(r["signed"] for r in receiver.requests)
    assert {r["headers"]["X-Verdict-Delivery"] for r in receiver.requests} == {str(attempts[0].event_id)}
    assert [r["headers"]["X-Verdict-Attempt"] for r in receiver.requests] == ["1", "2", "3"]
    body = json.loads(receiver.requests[-1]["body"])
    assert body["event"] == "alert.fired" and body["project"] == project.pk and body["data"]["alert"]["value"] == -3.1
    assert hook.deliveries.count() == 3


def test_a_receiver_that_never_answers_2xx_is_given_up_after_the_last_attempt(
        project, loopback, django_capture_on_commit_callbacks):
    receiver = loopback(fail_first=99)
    hook_for(project, receiver)
    with django_capture_on_commit_callbacks(execute=True):
        webhook_event(project_id=project.pk, event=Event.SNAPSHOT_READY, data={})
    assert list(WebhookDelivery.objects.order_by("attempt").values_list("attempt", "status", "will_retry")) == [
        (1, "failed", True), (2, "failed", True), (3, "failed", True), (4, "failed", False)]


def test_a_wrong_secret_is_noticed_by_the_receiver(project, loopback, django_capture_on_commit_callbacks):
    receiver = loopback()
    hook_for(project, receiver)
    receiver.secret = "not the secret"
    with django_capture_on_commit_callbacks(execute=True):
        webhook_event(project_id=project.pk, event=Event.SNAPSHOT_READY, data={})
    assert receiver.requests and not receiver.requests[0]["signed"]


def test_events_are_sent_only_to_subscribers_and_only_once_the_transaction_commits(
        project, loopback, django_capture_on_commit_callbacks):
    receiver = loopback()
    hook_for(project, receiver, events=[Event.MODEL_PROMOTED])
    with django_capture_on_commit_callbacks(execute=False) as queued:
        assert webhook_event(project_id=project.pk, event=Event.SNAPSHOT_READY, data={}) == []
        webhook_event(project_id=project.pk, event=Event.MODEL_PROMOTED, data={"model": {"version": 2}})
    assert len(queued) == 1 and receiver.requests == []  # nothing is sent before the commit
    queued[0]()
    assert len(receiver.requests) == 1


@pytest.mark.parametrize("url, problem", [
    ("ftp://example.com/x", "must start with http:// or https://"),
    ("file:///etc/passwd", "must start with http:// or https://"),
    ("javascript:alert(1)", "must start with http:// or https://"),
    ("https://user:pw@example.com/", "user name or password"),
    ("http://127.0.0.1:8000/hook", "internal address"),
    ("http://localhost/hook", "internal address"),
    ("http://169.254.169.254/latest/meta-data/", "internal address"),
    ("http://10.1.2.3/", "internal address"),
    ("http://[::1]/", "internal address"),
    ("http://[::ffff:192.168.0.1]/", "internal address"),
    ("https://", "no host name"),
])
def test_urls_that_cannot_be_webhooks_are_refused(url, problem, settings):
    settings.VERDICT_WEBHOOK_ALLOW_PRIVATE = False
    with pytest.raises(WebhookError, match=problem):
        webhook_url_check(url)


def test_a_private_address_is_refused_again_at_delivery(project, loopback, settings,
                                                        django_capture_on_commit_callbacks):
    receiver = loopback()
    hook_for(project, receiver)
    settings.VERDICT_WEBHOOK_ALLOW_PRIVATE = False  # e.g. the name now resolves to an internal address
    settings.VERDICT_WEBHOOK_MAX_ATTEMPTS = 1
    with django_capture_on_commit_callbacks(execute=True):
        webhook_event(project_id=project.pk, event=Event.SNAPSHOT_READY, data={})
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "failed" and "internal address" in delivery.error and receiver.requests == []


# --- the services that raise events -------------------------------------------------------------------

def test_snapshot_promotion_rollback_and_run_events(project, loopback, settings, tmp_path,
                                                    django_capture_on_commit_callbacks):
    from rewardtrain.models import ModelVersion
    from rewardtrain.registry.services import model_version_promote, model_version_rollback
    from rewardtrain.training import services as runs

    settings.MEDIA_ROOT = tmp_path
    receiver = loopback()
    hook_for(project, receiver)
    ml = factories.member(project, "ml")
    with django_capture_on_commit_callbacks(execute=True):
        snapshot = factories.snapshot_with_both_splits(project)
        v1, v2 = (ModelVersion.objects.create(project=project, version=v, artifact_dir=f"m{v}") for v in (1, 2))
        model_version_promote(model_version=v1, user=ml)
        model_version_promote(model_version=v2, user=ml)
        model_version_rollback(project=project, user=ml)
        run = runs.training_run_create(project=project, snapshot_id=snapshot.pk, user=ml)
        token = runs.training_run_claim(run_id=run.pk, worker="w1")
        runs.training_run_finish(run_id=run.pk, token=token, status="failed", error="CUDA out of memory")
    got = [json.loads(r["body"]) for r in receiver.requests]
    assert [b["event"] for b in got] == ["snapshot.ready", "model.promoted", "model.promoted", "model.rolled_back",
                                         "run.finished"]
    assert got[0]["data"]["snapshot"]["id"] == snapshot.pk and got[0]["data"]["snapshot"]["sha256"] == snapshot.sha256
    assert got[2]["data"]["model"]["version"] == 2 and got[2]["data"]["previous_active"]["version"] == 1
    assert got[3]["data"]["model"]["version"] == 1 and got[3]["data"]["by"] == ml.username
    assert got[4]["data"]["run"] == {"id": run.pk, "status": "failed", "snapshot": snapshot.pk,
                                     "error": "CUDA out of memory"}
    assert list(AuditEvent.objects.filter(action__startswith="model.").order_by("id").values_list(
        "action", "username")) == [("model.promoted", ml.username)] * 2 + [("model.rolled_back", ml.username)]


def test_batch_complete_is_sent_once_by_the_judgement_that_completes_the_batch(
        project, loopback, django_capture_on_commit_callbacks):
    receiver = loopback()
    hook_for(project, receiver, events=[Event.BATCH_COMPLETE])
    rows = [{"prompt": f"Q{i}?", "responses": ["a", "b"]} for i in range(2)]
    batch = tasks_import(project=project, fileobj=io.BytesIO(jsonl(rows)), filename="b.jsonl").batch
    annotator = factories.member(project, "annotator")
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(2):
            assignment = queue.task_next(project=project, annotator=annotator)
            judgement_submit(assignment=assignment, ranking=[[assignment.display_order[0]],
                                                             [assignment.display_order[1]]])
            assert WebhookDelivery.objects.count() == (0 if _ == 0 else 1)  # queued by the last one only
    body = json.loads(receiver.requests[0]["body"])
    assert body["event"] == "batch.complete" and body["data"]["batch"] == {"id": batch.pk, "name": "b.jsonl", "tasks": 2}


# --- page and API -------------------------------------------------------------------------------------

def test_admin_adds_tests_and_deletes_a_webhook_on_the_page(client, project, project_admin, annotator, loopback,
                                                            django_capture_on_commit_callbacks):
    receiver = loopback(fail_first=1)
    client.force_login(project_admin)
    url = f"/projects/{project.pk}/webhooks/"
    bad = client.post(url, {"url": "gopher://example.com"})
    assert bad.status_code == 400 and "must start with http:// or https://" in bad.content.decode()
    assert client.post(url, {"url": receiver.url, "events": ["snapshot.ready", "batch.complete"]}).status_code == 302
    hook = Webhook.objects.get()
    receiver.secret = hook.secret
    assert hook.events == ["snapshot.ready", "batch.complete"]
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"{url}{hook.pk}/test/").status_code == 302
    page = client.get(url).content.decode()
    assert "webhook.test" in page and "HTTP 500" in page and "Delivered" in page
    assert [r["signed"] for r in receiver.requests] == [True, True]
    assert client.post(f"{url}{hook.pk}/toggle/").status_code == 302
    hook.refresh_from_db()
    assert hook.active is False and "Resume" in client.get(url).content.decode()
    client.force_login(annotator)
    assert client.get(url).status_code == 403 and client.post(f"{url}{hook.pk}/delete/").status_code == 403
    client.force_login(project_admin)
    assert client.post(f"{url}{hook.pk}/delete/").status_code == 302
    assert not Webhook.objects.exists()
    assert list(AuditEvent.objects.order_by("id").values_list("action", flat=True)) == [
        "webhook.created", "webhook.tested", "webhook.updated", "webhook.deleted"]


def test_webhook_api(project, project_admin, loopback, django_capture_on_commit_callbacks):
    receiver = loopback()
    api = APIClient()
    api.force_authenticate(project_admin)
    base = f"/api/v1/projects/{project.pk}/webhooks/"
    refused = api.post(base, {"url": "ftp://x"}, format="json")
    assert refused.status_code == 400 and refused.json()["error"]["message"].startswith("url: must start")
    unknown = api.post(base, {"url": receiver.url, "events": ["lunch.ready"]}, format="json")
    assert unknown.status_code == 400
    created = api.post(base, {"url": receiver.url, "events": ["model.promoted"]}, format="json").json()
    receiver.secret = created["secret"]
    assert api.get(base).json()[0]["url"] == receiver.url
    with django_capture_on_commit_callbacks(execute=True):
        test = api.post(f"{base}{created['id']}/test/")
    assert test.status_code == 202 and test.json()["event"] == "webhook.test"
    log = api.get(f"{base}{created['id']}/deliveries/").json()["results"]
    assert [(d["attempt"], d["status"], d["response_code"]) for d in log] == [(1, "succeeded", 200)]
    paused = api.patch(f"{base}{created['id']}/", {"active": False}, format="json")
    assert paused.status_code == 200 and paused.json()["active"] is False
    with django_capture_on_commit_callbacks(execute=True):
        assert webhook_event(project_id=project.pk, event=Event.MODEL_PROMOTED, data={}) == []  # paused: nothing
    assert api.patch(f"{base}{created['id']}/", {"events": ["nope"]}, format="json").status_code == 400
    assert api.delete(f"{base}{created['id']}/").status_code == 204
    assert api.get(f"{base}{created['id']}/").status_code == 404


def test_webhook_test_on_one_webhook_reaches_only_it(project, loopback, django_capture_on_commit_callbacks):
    first, second = loopback(), loopback()
    hook = hook_for(project, first)
    hook_for(project, second)
    with django_capture_on_commit_callbacks(execute=True):
        webhook_send_test(webhook=hook)
    assert len(first.requests) == 1 and second.requests == []


# --- a real worker ------------------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_a_real_worker_delivers_with_back_off_while_the_request_returns_at_once(settings):
    from tests.conftest import start_celery_worker, stop_celery_worker
    from config.celery_app import app
    from rewardtrain.models import ModelVersion

    settings.VERDICT_WEBHOOK_ALLOW_PRIVATE = True
    receiver = Receiver(fail_first=2, delay=3.0)  # a slow receiver, down for its first two requests
    project = factories.ProjectFactory()
    ml = factories.member(project, "ml")
    hook_for(project, receiver)
    model = ModelVersion.objects.create(project=project, version=1, artifact_dir="m1")
    proc = start_celery_worker(env={"VERDICT_WEBHOOK_ALLOW_PRIVATE": "1", "VERDICT_WEBHOOK_BACKOFF_SECONDS": "1",
                                    "CELERY_TASK_ALWAYS_EAGER": "0"})
    try:
        api = APIClient()
        api.force_authenticate(ml)
        started = time.monotonic()
        assert api.post(f"/api/v1/models/{model.pk}/promote/").status_code == 200
        # the receiver takes 3 s per request: the promotion answered without waiting for any of it
        assert time.monotonic() - started < 3.0
        assert not WebhookDelivery.objects.filter(finished_at__isnull=False).exists()
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not WebhookDelivery.objects.filter(status="succeeded").exists():
            time.sleep(0.2)
    finally:
        app.conf.task_always_eager = True
        stop_celery_worker(proc)
        receiver.close()
    assert list(WebhookDelivery.objects.order_by("attempt").values_list("attempt", "status", "response_code")) == [
        (1, "failed", 500), (2, "failed", 500), (3, "succeeded", 200)]
    hits = [r["at"] for r in receiver.requests]
    # back-off 1 s then 2 s after each failed answer (which itself takes the receiver's 3 s)
    assert hits[1] - hits[0] >= 3.0 + 1.0 - 0.2 and hits[2] - hits[1] >= 3.0 + 2.0 - 0.2
    assert all(r["signed"] for r in receiver.requests)


def test_the_beat_resends_attempts_whose_queue_message_was_lost(project, loopback, django_capture_on_commit_callbacks):
    from datetime import timedelta

    from django.utils import timezone

    from annotation.services.webhooks import webhook_deliveries_resend_stale

    receiver = loopback()
    hook_for(project, receiver)
    with django_capture_on_commit_callbacks(execute=False):  # the broker "loses" the messages
        lost, stuck = (webhook_event(project_id=project.pk, event=Event.SNAPSHOT_READY, data={})[0] for _ in (1, 2))
    long_ago = timezone.now() - timedelta(minutes=30)
    WebhookDelivery.objects.filter(pk=lost.pk).update(due_at=long_ago)
    WebhookDelivery.objects.filter(pk=stuck.pk).update(status="sending", sent_at=long_ago)  # its worker died
    with django_capture_on_commit_callbacks(execute=True):
        assert webhook_deliveries_resend_stale() == [lost.pk]
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"succeeded"}
    assert len(receiver.requests) == 2


def test_the_delivery_log_is_polled_while_deliveries_are_pending(client, project, project_admin, loopback):
    receiver = loopback()
    hook = hook_for(project, receiver)
    webhook_send_test(webhook=hook)  # not committed in this test: the attempt stays pending
    client.force_login(project_admin)
    page = client.get(f"/projects/{project.pk}/webhooks/").content.decode()
    assert 'id="webhook-deliveries"' in page and 'hx-trigger="every 2s"' in page and "Pending" in page
    fragment = client.get(f"/projects/{project.pk}/webhooks/?fragment=deliveries", HTTP_HX_REQUEST="true")
    assert fragment.content.decode().startswith('<div id="webhook-deliveries"') and b"<html" not in fragment.content
    WebhookDelivery.objects.update(status="succeeded", response_code=200)
    done = client.get(f"/projects/{project.pk}/webhooks/?fragment=deliveries", HTTP_HX_REQUEST="true").content.decode()
    assert "hx-trigger" not in done and ">200<" in done  # settled: the log stops polling
