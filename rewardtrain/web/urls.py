"""Every page URL of rewardtrain (under /train/), one line each."""
from django.urls import path

from . import snapshots

urlpatterns = [
    path("projects/<id:project_id>/snapshots/", snapshots.snapshot_list, name="snapshots"),
    path("projects/<id:project_id>/snapshots/new/", snapshots.snapshot_new, name="snapshot-new"),
    path("projects/<id:project_id>/snapshots/<id:snapshot_id>/verify/", snapshots.snapshot_verify,
         name="snapshot-verify"),
    path("projects/<id:project_id>/snapshots/<id:snapshot_id>/download/<str:fmt>/", snapshots.snapshot_download,
         name="snapshot-download"),
    path("projects/<id:project_id>/snapshots/<id:snapshot_id>/download/", snapshots.snapshot_download,
         name="snapshot-download-form"),
]
