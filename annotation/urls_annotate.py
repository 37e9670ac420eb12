from django.urls import path

from . import views_annotate as views

urlpatterns = [
    path("projects/<id:project_id>/annotate/", views.annotate, name="annotate"),
    path("projects/<id:project_id>/annotate/<id:assignment_id>/submit/", views.annotate_submit,
         name="annotate-submit"),
    path("projects/<id:project_id>/annotate/<id:assignment_id>/skip/", views.annotate_skip, name="annotate-skip"),
    path("projects/<id:project_id>/annotate/<id:assignment_id>/diff/", views.annotate_diff, name="annotate-diff"),
    path("projects/<id:project_id>/gold/", views.gold_tasks, name="gold-tasks"),
    path("projects/<id:project_id>/gold/<id:task_id>/", views.gold_task, name="gold-task"),
]
