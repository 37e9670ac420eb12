"""Project admins' governance pages: the PII policy and flagged items, webhooks, the audit trail.

Each is a separate small view (a full project-settings page can fold the PII form in). Thin: parse,
call one service or selector, render.
"""
from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from annotation.models import Webhook
from annotation.permissions import MANAGE_ROLES, project_role_required
from annotation.pii.detectors import KINDS
from annotation.pii.apply import pii_apply_latest, pii_stored_texts
from annotation.pii.services import PiiPolicyError, pii_finding_counts, pii_findings, project_set_pii_policy
from annotation.selectors.audit import audit_events
from annotation.services.webhooks import (WebhookError, webhook_create, webhook_deliveries, webhook_delete,
                                          webhook_send_test, webhook_update)

from . import forms


@project_role_required(*MANAGE_ROLES)
def project_pii(request, project_id):
    """The project's PII policy (a small form) and the flagged items, values partly hidden."""
    project = request.project
    form = forms.PiiPolicyForm(request.POST or None, initial={"pii_policy": project.pii_policy})
    if request.method == "POST" and form.is_valid():
        try:
            project_set_pii_policy(project=project, policy=form.cleaned_data["pii_policy"], user=request.user,
                                   confirm=form.cleaned_data["confirm"])
        except PiiPolicyError as exc:
            form.add_error("confirm", str(exc))
        else:
            messages.success(request, f"PII policy is now “{project.get_pii_policy_display()}”.")
            return redirect("project-pii", project.pk)
    job = pii_apply_latest(project=project)
    if request.htmx and request.method == "GET" and request.GET.get("fragment") == "job":
        return render(request, "annotation/governance/_pii_job.html", {"project": project, "job": job})
    kind = request.GET.get("kind") if request.GET.get("kind") in KINDS else None
    page = Paginator(pii_findings(project=project, kind=kind), 100).get_page(request.GET.get("page"))
    return render(request, "annotation/governance/pii.html", {
        "project": project, "form": form, "page": page, "kind": kind, "kinds": KINDS, "job": job,
        "stored_texts": pii_stored_texts(project=project), "counts": pii_finding_counts(project=project),
        "rationale_counts": pii_finding_counts(project=project, field="rationale")},
        status=400 if form.errors else 200)


@project_role_required(*MANAGE_ROLES)
def webhooks(request, project_id):
    """The project's webhooks (add), each with delete and "send test", and the delivery log."""
    project = request.project
    form = forms.WebhookForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            hook = webhook_create(project=project, url=form.cleaned_data["url"], events=form.cleaned_data["events"],
                                  user=request.user)
        except WebhookError as exc:
            form.add_error("url" if str(exc).startswith("url") else None, str(exc))
        else:
            messages.success(request, f"Webhook {hook.pk} added; sign-check deliveries with its secret.")
            return redirect("webhooks", project.pk)
    deliveries = list(webhook_deliveries(project=project, limit=100))
    # polled (htmx) while an attempt is waiting or under way, so codes and retries appear as they happen
    log = {"project": project, "deliveries": deliveries,
           "deliveries_live": any(d.status in (d.Status.PENDING, d.Status.SENDING) for d in deliveries)}
    if request.htmx and request.method == "GET" and request.GET.get("fragment") == "deliveries":
        return render(request, "annotation/governance/_webhook_deliveries.html", log)
    return render(request, "annotation/governance/webhooks.html", {
        **log, "form": form, "webhooks": project.webhooks.all()}, status=400 if form.errors else 200)


def _webhook(request, webhook_id) -> Webhook:
    return get_object_or_404(Webhook, pk=webhook_id, project=request.project)


@require_POST
@project_role_required(*MANAGE_ROLES)
def webhook_delete_view(request, project_id, webhook_id):
    hook = _webhook(request, webhook_id)
    webhook_delete(webhook=hook, user=request.user)
    messages.success(request, f"Webhook to {hook.url} deleted.")
    return redirect("webhooks", project_id)


@require_POST
@project_role_required(*MANAGE_ROLES)
def webhook_toggle(request, project_id, webhook_id):
    hook = webhook_update(webhook=_webhook(request, webhook_id), user=request.user,
                          active=not _webhook(request, webhook_id).active)
    messages.success(request, f"Webhook to {hook.url} {'resumed' if hook.active else 'paused'}.")
    return redirect("webhooks", project_id)


@require_POST
@project_role_required(*MANAGE_ROLES)
def webhook_test(request, project_id, webhook_id):
    delivery = webhook_send_test(webhook=_webhook(request, webhook_id), user=request.user)
    messages.info(request, f"Test event {delivery.event_id} queued; its attempts appear in the delivery log below.")
    return redirect("webhooks", project_id)


@project_role_required(*MANAGE_ROLES)
def audit_log(request, project_id):
    """The project's audit trail, newest first, filtered by action, user and dates."""
    form = forms.AuditFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    rows = audit_events(project=request.project, action=filters.get("action") or None,
                        username=filters.get("user") or None, since=filters.get("since"), until=filters.get("until"))
    page = Paginator(rows, 100).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "annotation/governance/audit.html", {
        "project": request.project, "form": form, "page": page, "query": query.urlencode()},
        status=400 if form.errors else 200)
