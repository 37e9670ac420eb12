from django.urls import path

from . import views

urlpatterns = [
    path("projects/<id:project_id>/snapshots/", views.snapshot_list, name="snapshots"),
    path("projects/<id:project_id>/snapshots/new/", views.snapshot_new, name="snapshot-new"),
    path("projects/<id:project_id>/snapshots/<id:snapshot_id>/verify/", views.snapshot_check,
         name="snapshot-verify"),
    path("projects/<id:project_id>/snapshots/<id:snapshot_id>/download/<str:fmt>/", views.snapshot_download,
         name="snapshot-download"),
]

from .registry import views as registry_views  # noqa: E402
from .training import views as training_views  # noqa: E402

urlpatterns += [
    path("projects/<id:project_id>/runs/", training_views.run_list, name="runs"),
    path("projects/<id:project_id>/runs/new/", training_views.run_new, name="run-new"),
    path("projects/<id:project_id>/runs/<id:run_id>/", training_views.run_detail, name="run-detail"),
    path("projects/<id:project_id>/runs/<id:run_id>/cancel/", training_views.run_cancel, name="run-cancel"),
    path("projects/<id:project_id>/models/", registry_views.model_list, name="models"),
    path("projects/<id:project_id>/models/compare/", registry_views.model_compare, name="model-compare"),
    path("projects/<id:project_id>/models/rollback/", registry_views.model_rollback, name="model-rollback"),
    path("projects/<id:project_id>/models/<id:model_id>/", registry_views.model_detail, name="model-detail"),
    path("projects/<id:project_id>/models/<id:model_id>/promote/", registry_views.model_promote,
         name="model-promote"),
    path("projects/<id:project_id>/models/<id:model_id>/plots/<str:plot>.png", registry_views.model_plot,
         name="model-plot"),
]
