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
