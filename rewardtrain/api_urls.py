from django.urls import path

from . import api

urlpatterns = [
    path("projects/<int:project_id>/snapshots/", api.SnapshotListCreate.as_view(), name="api-snapshots"),
    path("projects/<int:project_id>/snapshots/<int:snapshot_id>/", api.SnapshotDetail.as_view(),
         name="api-snapshot"),
    path("projects/<int:project_id>/snapshots/<int:snapshot_id>/verify/", api.SnapshotVerify.as_view(),
         name="api-snapshot-verify"),
    path("projects/<int:project_id>/snapshots/<int:snapshot_id>/download/<str:fmt>/", api.SnapshotDownload.as_view(),
         name="api-snapshot-download"),
]
