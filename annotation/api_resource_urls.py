from django.urls import path

from . import api

urlpatterns = [
    path("projects/", api.ProjectList.as_view(), name="api-projects"),
    path("projects/<id:project_id>/", api.ProjectDetail.as_view(), name="api-project"),
    path("projects/<id:project_id>/rubrics/", api.RubricListCreate.as_view(), name="api-rubrics"),
    path("projects/<id:project_id>/batches/", api.BatchListUpload.as_view(), name="api-batches"),
    path("projects/<id:project_id>/tasks/", api.TaskList.as_view(), name="api-tasks"),
    path("projects/<id:project_id>/tasks/<id:task_id>/", api.TaskDetail.as_view(), name="api-task"),
    path("projects/<id:project_id>/judgements/", api.JudgementList.as_view(), name="api-judgements"),
    path("projects/<id:project_id>/judgements/<id:judgement_id>/", api.JudgementDetail.as_view(),
         name="api-judgement-detail"),
    path("projects/<id:project_id>/pairs/", api.PairList.as_view(), name="api-pairs"),
    path("projects/<id:project_id>/pairs/<id:pair_id>/", api.PairDetail.as_view(), name="api-pair"),
]
