"""Reads of the audit trail: one filter shared by the page and the API."""
from datetime import date

from annotation.models import AuditEvent, Project


def audit_events(*, project: Project, action: str | None = None, username: str | None = None,
                 since: date | None = None, until: date | None = None):
    """The project's events, newest first; `action` matches exactly or as a prefix ending in "."
    ("model." for every model action); dates are inclusive, in the site's time zone."""
    rows = AuditEvent.objects.filter(project_id=project.pk)
    if action:
        rows = rows.filter(action__startswith=action) if action.endswith(".") else rows.filter(action=action)
    if username:
        rows = rows.filter(username=username)
    if since:
        rows = rows.filter(at__date__gte=since)
    if until:
        rows = rows.filter(at__date__lte=until)
    return rows
