"""Every page URL of the annotation app, one line each. URL name, view and service agree where a
service stands behind the page (e.g. annotate-submit -> annotate_submit -> judgement_submit)."""
from django.urls import path

from . import gold, governance, projects, workspace

urlpatterns = [
    path("", projects.home, name="home"),
    path("projects/<id:project_id>/", projects.project_detail, name="project-detail"),
    path("projects/<id:project_id>/import/", projects.project_import, name="project-import"),
    # governance: the PII policy and flagged items, webhooks, the audit trail (project admins)
    path("projects/<id:project_id>/pii/", governance.project_pii, name="project-pii"),
    path("projects/<id:project_id>/webhooks/", governance.webhooks, name="webhooks"),
    path("projects/<id:project_id>/webhooks/<id:webhook_id>/delete/", governance.webhook_delete_view,
         name="webhook-delete"),
    path("projects/<id:project_id>/webhooks/<id:webhook_id>/test/", governance.webhook_test, name="webhook-test"),
    path("projects/<id:project_id>/webhooks/<id:webhook_id>/toggle/", governance.webhook_toggle,
         name="webhook-toggle"),
    path("projects/<id:project_id>/audit/", governance.audit_log, name="audit-log"),
    # the annotator workspace
    path("projects/<id:project_id>/annotate/", workspace.annotate, name="annotate"),
    path("projects/<id:project_id>/annotate/<id:assignment_id>/submit/", workspace.annotate_submit,
         name="annotate-submit"),
    path("projects/<id:project_id>/annotate/<id:assignment_id>/skip/", workspace.annotate_skip,
         name="annotate-skip"),
    path("projects/<id:project_id>/annotate/<id:assignment_id>/diff/", workspace.annotate_diff,
         name="annotate-diff"),
    path("projects/<id:project_id>/annotate/revise/", workspace.annotate_revise, name="annotate-revise"),
    path("projects/<id:project_id>/annotate/revise/<id:judgement_id>/", workspace.annotate_revise_submit,
         name="annotate-revise-submit"),
    # project admins' gold pages
    path("projects/<id:project_id>/gold/", gold.gold_tasks, name="gold-tasks"),
    path("projects/<id:project_id>/gold/<id:task_id>/", gold.gold_task, name="gold-task"),
]
