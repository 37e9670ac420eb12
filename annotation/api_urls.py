from django.urls import include, path

urlpatterns = [
    path("", include("annotation.api_annotator_urls")),  # next task, judgements, skips (annotators)
    path("", include("annotation.api_resource_urls")),  # projects, rubrics, batches, tasks, pairs
]
