"""Project admins' governance pages: the PII policy and flagged items, webhooks, the audit trail.

Each is a separate small view (a full project-settings page can fold the PII form in). Thin: parse,
call one service or selector, render.
"""
from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render

from annotation.permissions import MANAGE_ROLES, project_role_required
from annotation.pii.detectors import KINDS
from annotation.pii.services import pii_finding_counts, pii_findings, project_set_pii_policy

from . import forms


@project_role_required(*MANAGE_ROLES)
def project_pii(request, project_id):
    """The project's PII policy (a small form) and the flagged items, values partly hidden."""
    project = request.project
    form = forms.PiiPolicyForm(request.POST or None, initial={"pii_policy": project.pii_policy})
    if request.method == "POST":
        if form.is_valid():
            project_set_pii_policy(project=project, policy=form.cleaned_data["pii_policy"], user=request.user)
            messages.success(request, f"PII policy is now “{project.get_pii_policy_display()}”.")
            return redirect("project-pii", project.pk)
    kind = request.GET.get("kind") if request.GET.get("kind") in KINDS else None
    page = Paginator(pii_findings(project=project, kind=kind), 100).get_page(request.GET.get("page"))
    return render(request, "annotation/governance/pii.html", {
        "project": project, "form": form, "page": page, "kind": kind, "kinds": KINDS,
        "counts": pii_finding_counts(project=project)}, status=400 if form.errors else 200)
