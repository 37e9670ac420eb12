"""Every URL of the rewardtrain API (under /api/v1/), one line each; the paths are a public contract."""
from django.urls import path

from . import acquisitions, monitoring, registry, scoring, snapshots, training

urlpatterns = [
    path("projects/<id:project_id>/snapshots/", snapshots.SnapshotListCreateApi.as_view(), name="api-snapshots"),
    path("projects/<id:project_id>/snapshots/<id:snapshot_id>/", snapshots.SnapshotDetailApi.as_view(),
         name="api-snapshot"),
    path("projects/<id:project_id>/snapshots/<id:snapshot_id>/verify/", snapshots.SnapshotVerifyApi.as_view(),
         name="api-snapshot-verify"),
    path("projects/<id:project_id>/snapshots/<id:snapshot_id>/download/<str:fmt>/", snapshots.SnapshotDownloadApi.as_view(),
         name="api-snapshot-download"),
    # Snapshot jobs, training runs and the model registry.
    path("projects/<id:project_id>/snapshot-jobs/", training.SnapshotJobCreateApi.as_view(), name="api-snapshot-jobs"),
    path("snapshot-jobs/<id:job_id>/", training.SnapshotJobDetailApi.as_view(), name="api-snapshot-job"),
    path("projects/<id:project_id>/training-runs/", training.TrainingRunListCreateApi.as_view(),
         name="api-training-runs"),
    path("projects/<id:project_id>/training-policy/", training.TrainingPolicyApi.as_view(),
         name="api-training-policy"),
    path("training-runs/<id:run_id>/", training.TrainingRunDetailApi.as_view(), name="api-training-run"),
    path("training-runs/<id:run_id>/cancel/", training.TrainingRunCancelApi.as_view(), name="api-training-run-cancel"),
    path("projects/<id:project_id>/models/", registry.ModelVersionListApi.as_view(), name="api-models"),
    path("projects/<id:project_id>/models/rollback/", registry.ModelVersionRollbackApi.as_view(),
         name="api-models-rollback"),
    path("models/<id:model_id>/", registry.ModelVersionDetailApi.as_view(), name="api-model"),
    path("models/<id:model_id>/promote/", registry.ModelVersionPromoteApi.as_view(), name="api-model-promote"),
    path("models/<id:model_id>/download/", registry.ModelVersionDownloadApi.as_view(), name="api-model-download"),
    # Active learning: acquisition rounds on the project's pool.
    path("projects/<id:project_id>/acquisitions/", acquisitions.AcquisitionRoundListCreateApi.as_view(),
         name="api-acquisitions"),
    path("acquisitions/<id:round_id>/", acquisitions.AcquisitionRoundDetailApi.as_view(), name="api-acquisition"),
    # Scoring: best-of-N and batch jobs (score, curate, policy A/B).
    path("projects/<id:project_id>/score/", scoring.ScoreApi.as_view(), name="api-score"),
    path("projects/<id:project_id>/scoring-jobs/", scoring.ScoringJobListCreateApi.as_view(), name="api-scoring-jobs"),
    path("scoring-jobs/<id:job_id>/", scoring.ScoringJobDetailApi.as_view(), name="api-scoring-job"),
    path("models/<id:model_id>/score-stats/", scoring.ModelScoreStatsApi.as_view(), name="api-model-score-stats"),
    path("scoring-jobs/<id:job_id>/download/", scoring.ScoringJobDownloadApi.as_view(),
         name="api-scoring-job-download"),
    # Monitoring: canary set, canary shift, alerts.
    path("projects/<id:project_id>/canaries/", monitoring.CanarySetApi.as_view(), name="api-canaries"),
    path("models/<id:model_id>/canary-shift/", monitoring.ModelCanaryShiftApi.as_view(), name="api-model-canary-shift"),
    path("projects/<id:project_id>/alerts/", monitoring.AlertListApi.as_view(), name="api-alerts"),
    path("alerts/<id:alert_id>/acknowledge/", monitoring.AlertAcknowledgeApi.as_view(), name="api-alert-acknowledge"),
    path("alerts/<id:alert_id>/resolve/", monitoring.AlertResolveApi.as_view(), name="api-alert-resolve"),
]
