from django.urls import path

from . import api

urlpatterns = [
    path("projects/<id:project_id>/snapshots/", api.SnapshotListCreate.as_view(), name="api-snapshots"),
    path("projects/<id:project_id>/snapshots/<id:snapshot_id>/", api.SnapshotDetail.as_view(),
         name="api-snapshot"),
    path("projects/<id:project_id>/snapshots/<id:snapshot_id>/verify/", api.SnapshotVerify.as_view(),
         name="api-snapshot-verify"),
    path("projects/<id:project_id>/snapshots/<id:snapshot_id>/download/<str:fmt>/", api.SnapshotDownload.as_view(),
         name="api-snapshot-download"),
]

from .registry import api as registry_api  # noqa: E402
from .training import api as training_api  # noqa: E402

urlpatterns += [
    path("projects/<id:project_id>/snapshot-jobs/", training_api.SnapshotJobCreate.as_view(),
         name="api-snapshot-jobs"),
    path("snapshot-jobs/<id:job_id>/", training_api.SnapshotJobDetail.as_view(), name="api-snapshot-job"),
    path("projects/<id:project_id>/training-runs/", training_api.TrainingRunListCreate.as_view(),
         name="api-training-runs"),
    path("training-runs/<id:run_id>/", training_api.TrainingRunDetail.as_view(), name="api-training-run"),
    path("training-runs/<id:run_id>/cancel/", training_api.TrainingRunCancel.as_view(),
         name="api-training-run-cancel"),
    path("projects/<id:project_id>/models/", registry_api.ModelVersionList.as_view(), name="api-models"),
    path("projects/<id:project_id>/models/rollback/", registry_api.ModelVersionRollback.as_view(),
         name="api-models-rollback"),
    path("models/<id:model_id>/", registry_api.ModelVersionDetail.as_view(), name="api-model"),
    path("models/<id:model_id>/promote/", registry_api.ModelVersionPromote.as_view(), name="api-model-promote"),
    path("models/<id:model_id>/download/", registry_api.ModelVersionDownload.as_view(), name="api-model-download"),
]
