from django.urls import path

from . import views

urlpatterns = [
    path("projects/<int:project_id>/snapshots/", views.snapshot_list, name="snapshots"),
    path("projects/<int:project_id>/snapshots/new/", views.snapshot_new, name="snapshot-new"),
    path("projects/<int:project_id>/snapshots/<int:snapshot_id>/verify/", views.snapshot_check,
         name="snapshot-verify"),
    path("projects/<int:project_id>/snapshots/<int:snapshot_id>/download/<str:fmt>/", views.snapshot_download,
         name="snapshot-download"),
]
