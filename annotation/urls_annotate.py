from django.urls import path

from . import views_annotate as views

urlpatterns = [
    path("projects/<int:project_id>/annotate/", views.annotate, name="annotate"),
    path("projects/<int:project_id>/annotate/<int:assignment_id>/submit/", views.annotate_submit,
         name="annotate-submit"),
    path("projects/<int:project_id>/annotate/<int:assignment_id>/skip/", views.annotate_skip, name="annotate-skip"),
    path("projects/<int:project_id>/annotate/<int:assignment_id>/diff/", views.annotate_diff, name="annotate-diff"),
    path("projects/<int:project_id>/gold/", views.gold_tasks, name="gold-tasks"),
    path("projects/<int:project_id>/gold/<int:task_id>/", views.gold_task, name="gold-task"),
]
