"""The audit trail's one write: `audit_record`. Call it inside the transaction of the action it
records, so an action that rolls back leaves no row (and a recorded one always happened).

Actions (dotted, past tense): member.role_added, member.role_removed, pii_policy.changed,
snapshot.downloaded, snapshot.exported, model.downloaded, model.promoted, model.rolled_back,
model.archived, webhook.created, webhook.deleted, adjudication.recorded, pii_policy.applied (a policy
change applied to stored text), alert.acknowledged, alert.resolved, training_policy.changed (the adjudication service
calls it: `audit_record(action="adjudication.recorded", user=user, project=task.project,
target=adjudication, detail={"task": task.pk, "ranking": ranking, "note": note})`).
"""
from django.db import models

from annotation.models import AuditEvent, Project

ACTIONS = ("member.role_added", "member.role_changed", "member.role_removed", "pii_policy.changed", "snapshot.downloaded",
           "snapshot.exported", "model.downloaded", "model.promoted", "model.rolled_back", "model.archived",
           "webhook.created", "webhook.updated", "webhook.deleted", "webhook.tested", "adjudication.recorded",
           "scoring.downloaded", "pii_policy.applied", "alert.acknowledged", "alert.resolved",
           "training_policy.changed")


def audit_record(*, action: str, user=None, project: Project | None = None, target: models.Model | None = None,
                 target_type: str = "", target_id="", detail: dict | None = None) -> AuditEvent:
    """Appends one event. `user` may be None (a command or a worker acted); `target` names the object
    acted on (its model name and pk), or give `target_type`/`target_id` yourself."""
    if action not in ACTIONS:
        raise ValueError(f"Unknown audit action {action!r}; add it to annotation.services.audit.ACTIONS.")
    actor = user if user is not None and getattr(user, "is_authenticated", False) else None
    if target is not None:
        target_type, target_id = target._meta.model_name, target.pk
    return AuditEvent.objects.create(
        action=action, user=actor, username=actor.get_username() if actor else "",
        project=project, project_name=project.name if project else "",
        target_type=target_type, target_id="" if target_id in (None, "") else str(target_id), detail=detail or {})
