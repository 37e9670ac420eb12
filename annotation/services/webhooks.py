"""Webhooks: subscriptions per project, events, and signed delivery with retries.

An event (`webhook_event`) writes one pending WebhookDelivery per subscribed webhook inside the
caller's transaction and enqueues `tasks.webhook_deliver` on commit, so the request that caused it
never waits on a receiver, and an event whose transaction rolls back is never sent.

Delivery (`webhook_deliver`, on a worker): POST of the JSON body with
  X-Verdict-Signature: sha256=<hex HMAC-SHA256 of the exact body bytes, keyed by the webhook's secret>
  X-Verdict-Event, X-Verdict-Delivery (the event id, the same on every attempt), X-Verdict-Attempt.
A 2xx answer is success. Anything else (another status, a timeout, a refused connection) is
recorded on the attempt's row, and the next attempt is a new row due after an exponential back-off
(VERDICT_WEBHOOK_BACKOFF_SECONDS · 2^(attempt-1), capped at VERDICT_WEBHOOK_BACKOFF_MAX_SECONDS) until
VERDICT_WEBHOOK_MAX_ATTEMPTS. Redirects are not followed.

SSRF: only http and https URLs without credentials are accepted; unless
VERDICT_WEBHOOK_ALLOW_PRIVATE is on (development, tests), a URL whose host resolves to a loopback,
private, link-local (cloud metadata, 169.254.169.254), multicast, reserved or unspecified address is
refused when the webhook is saved *and* again before every attempt (DNS may have changed since). A
residual window remains between that check and the connection (DNS rebinding); closing it needs an
egress proxy, which production should use for workers anyway.
"""
import hashlib
import hmac
import ipaddress
import json
import secrets
import socket
import uuid
from datetime import timedelta
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from annotation.models import Project, Webhook, WebhookDelivery

from .audit import audit_record

Event = Webhook.Event
Status = WebhookDelivery.Status
SUBSCRIBABLE = [e for e in Event.values if e != Event.TEST]


class WebhookError(ValueError):
    """Input a webhook cannot take (the message says which field and why); nothing was changed."""


def _setting(name: str, default):
    return getattr(settings, name, default)


def webhook_url_check(url: str) -> str:
    """The URL, stripped, or WebhookError saying why it cannot be a webhook target."""
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise WebhookError(f"url: must start with http:// or https:// (got {parts.scheme or 'no scheme'!r}).")
    if not parts.hostname:
        raise WebhookError("url: has no host name.")
    if parts.username or parts.password:
        raise WebhookError("url: must not carry a user name or password; sign requests with the secret instead.")
    if len(url) > Webhook._meta.get_field("url").max_length:
        raise WebhookError("url: is longer than 2000 characters.")
    try:
        parts.port
    except ValueError:
        raise WebhookError("url: the port is not a number between 0 and 65535.")
    if not _setting("VERDICT_WEBHOOK_ALLOW_PRIVATE", False):
        _refuse_private(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    return url


def _refuse_private(host: str, port: int) -> None:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise WebhookError(f"url: the host {host!r} does not resolve ({exc}).")
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        if not address.is_global or address.is_multicast:
            raise WebhookError(f"url: the host {host!r} resolves to {address}, an internal address; webhooks only go "
                               f"to public addresses (VERDICT_WEBHOOK_ALLOW_PRIVATE lifts this for development).")


def _events_check(events) -> list[str]:
    events = list(dict.fromkeys(events or []))
    unknown = [e for e in events if e not in SUBSCRIBABLE]
    if unknown:
        raise WebhookError(f"events: unknown event(s) {', '.join(map(repr, unknown))}; choose from "
                           f"{', '.join(SUBSCRIBABLE)} (none means all).")
    return events


@transaction.atomic
def webhook_create(*, project: Project, url: str, events=(), user=None) -> Webhook:
    webhook = Webhook.objects.create(project=project, url=webhook_url_check(url), events=_events_check(events),
                                     secret=secrets.token_hex(32),
                                     created_by=user if user is not None and user.is_authenticated else None)
    audit_record(action="webhook.created", user=user, project=project, target=webhook,
                 detail={"url": webhook.url, "events": webhook.events})
    return webhook


@transaction.atomic
def webhook_update(*, webhook: Webhook, user=None, active: bool | None = None, events=None) -> Webhook:
    """Pauses or resumes a webhook, or changes its events (an inactive webhook gets no events and
    retries no more; "send test" still reaches it)."""
    changed = {}
    if active is not None and active != webhook.active:
        webhook.active, changed["active"] = active, active
    if events is not None:
        events = _events_check(events)
        if events != webhook.events:
            webhook.events, changed["events"] = events, events
    if changed:
        webhook.save(update_fields=list(changed))
        audit_record(action="webhook.updated", user=user, project=webhook.project, target=webhook, detail=changed)
    return webhook


@transaction.atomic
def webhook_delete(*, webhook: Webhook, user=None) -> None:
    audit_record(action="webhook.deleted", user=user, project=webhook.project, target=webhook,
                 detail={"url": webhook.url})
    webhook.delete()


def signature(*, secret: str, body: bytes) -> str:
    """The X-Verdict-Signature value of `body`; receivers compare it with hmac.compare_digest."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def body_bytes(payload: dict) -> bytes:
    return json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _enqueue(delivery_id: int, countdown: float = 0) -> None:
    from annotation.tasks import webhook_deliver as task

    transaction.on_commit(lambda: task.apply_async(args=[delivery_id], countdown=countdown or None))


def webhook_event(*, project_id: int, event: str, data: dict, webhooks=None) -> list[WebhookDelivery]:
    """Queues `event` for every active webhook of the project that subscribes to it. Call inside the
    transaction of what happened; delivery starts once it commits. Cheap when there is no webhook."""
    if event not in Event.values:
        raise ValueError(f"Unknown webhook event {event!r}.")
    hooks = webhooks if webhooks is not None else Webhook.objects.filter(project_id=project_id, active=True)
    deliveries = []
    now = timezone.now()
    for hook in hooks:
        if not hook.wants(event):
            continue
        event_id = uuid.uuid4()
        payload = {"id": str(event_id), "event": event, "created_at": now.isoformat().replace("+00:00", "Z"),
                   "project": project_id, "data": data}
        delivery = WebhookDelivery.objects.create(webhook=hook, event=event, event_id=event_id, payload=payload,
                                                  due_at=now)
        _enqueue(delivery.pk)
        deliveries.append(delivery)
    return deliveries


def webhook_send_test(*, webhook: Webhook, user=None) -> WebhookDelivery:
    """The "send test" button: a webhook.test event to this webhook alone (even when inactive)."""
    with transaction.atomic():
        audit_record(action="webhook.tested", user=user, project=webhook.project, target=webhook)
        return webhook_event(project_id=webhook.project_id, event=Event.TEST, webhooks=[webhook],
                             data={"message": "A test event from Verdict.",
                                   "sent_by": user.get_username() if user else None})[0]


def webhook_alert_fired(*, project_id: int, alert: dict) -> list[WebhookDelivery]:
    """The hook for monitoring alerts (rewardtrain.monitoring): call it where an alert is raised, with
    the alert as JSON ({"id", "rule", "threshold", "value", "message", ...})."""
    return webhook_event(project_id=project_id, event=Event.ALERT_FIRED, data={"alert": alert})


def backoff_seconds(attempt: int) -> float:
    """The wait before attempt `attempt + 1`: base · 2^(attempt-1), capped."""
    base = float(_setting("VERDICT_WEBHOOK_BACKOFF_SECONDS", 10))
    return min(base * 2 ** (attempt - 1), float(_setting("VERDICT_WEBHOOK_BACKOFF_MAX_SECONDS", 3600)))


def _post(webhook: Webhook, delivery: WebhookDelivery) -> tuple[int | None, str]:
    """(status code or None, error text); never raises for a receiver's failure."""
    try:
        webhook_url_check(webhook.url)
    except WebhookError as exc:
        return None, str(exc)
    body = body_bytes(delivery.payload)
    headers = {"Content-Type": "application/json", "User-Agent": "Verdict-Webhooks/1",
               "X-Verdict-Event": delivery.event, "X-Verdict-Delivery": str(delivery.event_id),
               "X-Verdict-Attempt": str(delivery.attempt), "X-Verdict-Signature": signature(secret=webhook.secret,
                                                                                          body=body)}
    try:
        response = requests.post(webhook.url, data=body, headers=headers, allow_redirects=False,
                                 timeout=float(_setting("VERDICT_WEBHOOK_TIMEOUT_SECONDS", 10)))
    except requests.RequestException as exc:
        return None, f"{type(exc).__name__}: {exc}"[:2000]
    if 200 <= response.status_code < 300:
        return response.status_code, ""
    return response.status_code, f"HTTP {response.status_code}: {response.text[:500]}"


def webhook_deliver(*, delivery_id: int) -> str:
    """One attempt (a worker runs it). A second run of the same attempt finds it taken and exits."""
    if not WebhookDelivery.objects.filter(pk=delivery_id, status=Status.PENDING).update(
            status=Status.SENDING, sent_at=timezone.now()):
        return "not claimed"
    delivery = WebhookDelivery.objects.select_related("webhook").get(pk=delivery_id)
    code, error = _post(delivery.webhook, delivery)
    max_attempts = int(_setting("VERDICT_WEBHOOK_MAX_ATTEMPTS", 6))
    retry = bool(error) and delivery.attempt < max_attempts and delivery.webhook.active
    with transaction.atomic():
        WebhookDelivery.objects.filter(pk=delivery_id).update(
            status=Status.FAILED if error else Status.SUCCEEDED, response_code=code, error=error,
            will_retry=retry, finished_at=timezone.now())
        if retry:
            wait = backoff_seconds(delivery.attempt)
            following = WebhookDelivery.objects.create(
                webhook=delivery.webhook, event=delivery.event, event_id=delivery.event_id, payload=delivery.payload,
                attempt=delivery.attempt + 1, due_at=timezone.now() + timedelta(seconds=wait))
            _enqueue(following.pk, countdown=wait)
    return "delivered" if not error else ("retrying" if retry else "gave up")


def webhook_deliveries_resend_stale() -> list[int]:
    """Beat: attempts still pending well past their due time lost their queue message (a broker
    restart); they are enqueued again. Sending ones whose worker died are failed and retried."""
    limit = timezone.now() - timedelta(minutes=5)
    stale = list(WebhookDelivery.objects.filter(status=Status.PENDING, due_at__lt=limit).values_list("pk", flat=True))
    with transaction.atomic():
        for pk in stale:
            _enqueue(pk)
    lost = WebhookDelivery.objects.filter(status=Status.SENDING, sent_at__lt=limit).values_list("pk", flat=True)
    for pk in list(lost):
        if WebhookDelivery.objects.filter(pk=pk, status=Status.SENDING).update(status=Status.PENDING):
            with transaction.atomic():
                _enqueue(pk)
    return stale


def webhook_deliveries(*, project: Project, webhook_id: int | None = None, limit: int = 100):
    """The delivery log, newest first."""
    rows = WebhookDelivery.objects.filter(webhook__project=project).select_related("webhook")
    if webhook_id:
        rows = rows.filter(webhook_id=webhook_id)
    return rows[:limit]
