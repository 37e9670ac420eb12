"""Every page URL of the annotation app, one line each. URL name, view and service agree where a
service stands behind the page (e.g. annotate-submit -> annotate_submit -> judgement_submit)."""
from django.urls import path

from . import adjudication, gold, governance, manage, projects, quality, workspace

urlpatterns = [
    path("", projects.home, name="home"),
    path("projects/<id:project_id>/", projects.project_detail, name="project-detail"),
    path("projects/<id:project_id>/import/", projects.project_import, name="project-import"),
    path("projects/<id:project_id>/imports/<id:job_id>/", projects.import_job, name="import-job"),
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
    # the project admin's workspace
    path("projects/new/", manage.project_create, name="project-create"),
    path("markdown-preview/", manage.markdown_preview, name="markdown-preview"),
    path("projects/<id:project_id>/settings/", manage.project_edit, name="project-edit"),
    path("projects/<id:project_id>/rubric/", manage.rubric_edit, name="rubric-edit"),
    path("projects/<id:project_id>/members/", manage.members, name="members"),
    path("projects/<id:project_id>/members/<id:user_id>/role/", manage.member_set_role, name="member-set-role"),
    path("projects/<id:project_id>/members/<id:user_id>/remove/", manage.member_remove, name="member-remove"),
    path("projects/<id:project_id>/batches/", manage.batches, name="batches"),
    path("projects/<id:project_id>/batches/<id:batch_id>/pause/", manage.batch_pause, name="batch-pause"),
    path("projects/<id:project_id>/batches/<id:batch_id>/resume/", manage.batch_resume, name="batch-resume"),
    path("projects/<id:project_id>/batches/<id:batch_id>/retire/", manage.batch_retire, name="batch-retire"),
    path("projects/<id:project_id>/tasks/", manage.task_list, name="task-list"),
    path("projects/<id:project_id>/tasks/<id:task_id>/", manage.task_detail, name="task-detail"),
    path("projects/<id:project_id>/disputed/", adjudication.disputed_list, name="disputed"),
    path("projects/<id:project_id>/tasks/<id:task_id>/adjudicate/", adjudication.task_adjudicate,
         name="task-adjudicate"),
    # quality (the dashboard is rewardtrain/web/quality.py: it draws the charts)
    path("projects/<id:project_id>/quality/agreement/", quality.quality_agreement, name="quality-agreement"),
    path("projects/<id:project_id>/quality/annotators/", quality.quality_annotators, name="quality-annotators"),
    path("projects/<id:project_id>/leaderboard/", quality.leaderboard, name="leaderboard"),
]
