"""Every URL of the rewardtrain API (under /api/v1/), one line each; the paths are a public contract."""
from django.urls import path

from . import snapshots

urlpatterns = [
    path("projects/<id:project_id>/snapshots/", snapshots.SnapshotListCreateApi.as_view(), name="api-snapshots"),
    path("projects/<id:project_id>/snapshots/<id:snapshot_id>/", snapshots.SnapshotDetailApi.as_view(),
         name="api-snapshot"),
    path("projects/<id:project_id>/snapshots/<id:snapshot_id>/verify/", snapshots.SnapshotVerifyApi.as_view(),
         name="api-snapshot-verify"),
    path("projects/<id:project_id>/snapshots/<id:snapshot_id>/download/<str:fmt>/", snapshots.SnapshotDownloadApi.as_view(),
         name="api-snapshot-download"),
]
