"""Every page URL of rewardtrain (under /train/), one line each."""
from django.urls import path

from . import acquisitions, quality, registry, scoring, snapshots, training

urlpatterns = [
    path("projects/<id:project_id>/quality/", quality.quality_dashboard, name="quality-dashboard"),
    path("projects/<id:project_id>/snapshots/", snapshots.snapshot_list, name="snapshots"),
    path("projects/<id:project_id>/snapshots/new/", snapshots.snapshot_new, name="snapshot-new"),
    path("projects/<id:project_id>/snapshots/<id:snapshot_id>/verify/", snapshots.snapshot_verify,
         name="snapshot-verify"),
    path("projects/<id:project_id>/snapshots/<id:snapshot_id>/download/<str:fmt>/", snapshots.snapshot_download,
         name="snapshot-download"),
    path("projects/<id:project_id>/snapshots/<id:snapshot_id>/download/", snapshots.snapshot_download,
         name="snapshot-download-form"),
    path("projects/<id:project_id>/runs/", training.run_list, name="run-list"),
    path("projects/<id:project_id>/runs/new/", training.run_new, name="run-new"),
    path("projects/<id:project_id>/runs/policy/", training.run_policy, name="run-policy"),
    path("projects/<id:project_id>/runs/<id:run_id>/", training.run_detail, name="run-detail"),
    path("projects/<id:project_id>/runs/<id:run_id>/cancel/", training.run_cancel, name="run-cancel"),
    path("projects/<id:project_id>/models/", registry.model_list, name="model-list"),
    path("projects/<id:project_id>/models/compare/", registry.model_compare, name="model-compare"),
    path("projects/<id:project_id>/models/rollback/", registry.model_rollback, name="model-rollback"),
    path("projects/<id:project_id>/models/<id:model_id>/", registry.model_detail, name="model-detail"),
    path("projects/<id:project_id>/models/<id:model_id>/promote/", registry.model_promote, name="model-promote"),
    path("projects/<id:project_id>/models/<id:model_id>/plots/<str:plot>.png", registry.model_plot, name="model-plot"),
    path("projects/<id:project_id>/acquisitions/", acquisitions.acquisition_list, name="acquisition-list"),
    path("projects/<id:project_id>/acquisitions/new/", acquisitions.acquisition_new, name="acquisition-new"),
    path("projects/<id:project_id>/acquisitions/<id:round_id>/", acquisitions.acquisition_detail,
         name="acquisition-detail"),
    path("projects/<id:project_id>/scoring/", scoring.scoring_jobs, name="scoring-jobs"),
    path("projects/<id:project_id>/scoring/new/", scoring.scoring_job_new, name="scoring-job-new"),
    path("projects/<id:project_id>/scoring/<id:job_id>/", scoring.scoring_job, name="scoring-job"),
    path("projects/<id:project_id>/scoring/<id:job_id>/download/", scoring.scoring_job_download,
         name="scoring-job-download"),
]
