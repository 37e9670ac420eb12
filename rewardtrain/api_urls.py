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
