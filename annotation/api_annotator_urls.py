from django.urls import path

from . import api_annotator

urlpatterns = [
    path("auth/token/", api_annotator.TokenApi.as_view(), name="api-token"),
    path("projects/<id:project_id>/next-task/", api_annotator.NextTaskApi.as_view(), name="api-next-task"),
    path("assignments/<id:assignment_id>/judgement/", api_annotator.JudgementSubmitApi.as_view(),
         name="api-judgement"),
    path("assignments/<id:assignment_id>/skip/", api_annotator.SkipApi.as_view(), name="api-skip"),
    path("tasks/<id:task_id>/gold/", api_annotator.TaskGoldApi.as_view(), name="api-task-gold"),
]
