from django.urls import include, path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("projects/<id:project_id>/", views.project_detail, name="project-detail"),
    path("projects/<id:project_id>/import/", views.import_upload, name="project-import"),
    path("", include("annotation.urls_annotate")),  # the annotator workspace
]
