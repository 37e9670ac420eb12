"""The annotation app: everything up to the judgement (see ARCHITECTURE.md)."""
from django.apps import AppConfig


class AnnotationConfig(AppConfig):
    name = "annotation"
    verbose_name = "Annotation"

    def ready(self) -> None:
        from django.urls import register_converter

        from .parsing import IdConverter

        register_converter(IdConverter, "id")  # before any URLconf is loaded
