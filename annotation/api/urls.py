"""Every URL of the annotation API (under /api/v1/), one line each; the paths are a public contract."""
from django.urls import path

from . import (adjudication, annotate, auth, batches, gold, governance, imports, judgements, members, pairs, projects,
               quality, rubrics, tasks)

urlpatterns = [
    path("auth/token/", auth.TokenApi.as_view(), name="api-token"),
    path("auth/tokens/", auth.TokenMineApi.as_view(), name="api-tokens"),
    path("projects/", projects.ProjectListApi.as_view(), name="api-projects"),
    path("projects/<id:project_id>/", projects.ProjectDetailApi.as_view(), name="api-project"),
    path("projects/<id:project_id>/members/", members.MemberListAddApi.as_view(), name="api-members"),
    path("projects/<id:project_id>/members/<id:user_id>/", members.MemberDetailApi.as_view(), name="api-member"),
    path("projects/<id:project_id>/quality/disputed/", adjudication.DisputedListApi.as_view(), name="api-disputed"),
    path("projects/<id:project_id>/pii-policy/", projects.ProjectPiiPolicyApi.as_view(), name="api-project-pii-policy"),
    path("projects/<id:project_id>/rubrics/", rubrics.RubricListCreateApi.as_view(), name="api-rubrics"),
    path("projects/<id:project_id>/batches/", batches.BatchListUploadApi.as_view(), name="api-batches"),
    path("import-jobs/<id:job_id>/", imports.ImportJobDetailApi.as_view(), name="api-import-job"),
    path("projects/<id:project_id>/tasks/", tasks.TaskListApi.as_view(), name="api-tasks"),
    path("projects/<id:project_id>/tasks/<id:task_id>/", tasks.TaskDetailApi.as_view(), name="api-task"),
    path("projects/<id:project_id>/judgements/", judgements.JudgementListApi.as_view(), name="api-judgements"),
    path("projects/<id:project_id>/judgements/<id:judgement_id>/", judgements.JudgementDetailApi.as_view(),
         name="api-judgement-detail"),
    path("projects/<id:project_id>/pairs/", pairs.PairListApi.as_view(), name="api-pairs"),
    path("projects/<id:project_id>/pairs/<id:pair_id>/", pairs.PairDetailApi.as_view(), name="api-pair"),
    # quality (annotation/quality)
    path("projects/<id:project_id>/quality/agreement/", quality.AgreementApi.as_view(), name="api-quality-agreement"),
    path("projects/<id:project_id>/quality/annotators/", quality.AnnotatorStatsApi.as_view(),
         name="api-quality-annotators"),
    path("projects/<id:project_id>/leaderboard/", quality.LeaderboardApi.as_view(), name="api-leaderboard"),
    # governance (project admins): webhooks and the audit trail
    path("projects/<id:project_id>/webhooks/", governance.WebhookListCreateApi.as_view(), name="api-webhooks"),
    path("projects/<id:project_id>/webhooks/<id:webhook_id>/", governance.WebhookDetailApi.as_view(), name="api-webhook"),
    path("projects/<id:project_id>/webhooks/<id:webhook_id>/test/", governance.WebhookTestApi.as_view(),
         name="api-webhook-test"),
    path("projects/<id:project_id>/webhooks/<id:webhook_id>/deliveries/", governance.WebhookDeliveryListApi.as_view(),
         name="api-webhook-deliveries"),
    path("projects/<id:project_id>/audit-events/", governance.AuditEventListApi.as_view(), name="api-audit-events"),
    # annotating
    path("projects/<id:project_id>/next-task/", annotate.NextTaskApi.as_view(), name="api-next-task"),
    path("assignments/<id:assignment_id>/judgement/", annotate.JudgementSubmitApi.as_view(), name="api-judgement"),
    path("assignments/<id:assignment_id>/skip/", annotate.AssignmentSkipApi.as_view(), name="api-skip"),
    path("tasks/<id:task_id>/gold/", gold.TaskGoldApi.as_view(), name="api-task-gold"),
    path("tasks/<id:task_id>/adjudication/", adjudication.TaskAdjudicationApi.as_view(), name="api-task-adjudication"),
]
