"""The annotation app: everything up to the judgement (see ARCHITECTURE.md)."""
from django.apps import AppConfig


class AnnotationConfig(AppConfig):
    name = "annotation"
    verbose_name = "Annotation"

    def ready(self) -> None:
        from django.urls import register_converter

        from .parsing import IdConverter

        register_converter(IdConverter, "id")  # before any URLconf is loaded

        from django.contrib.auth import get_user_model
        from django.db.models.signals import pre_save

        from .services.tokens import revoke_on_password_change

        pre_save.connect(revoke_on_password_change, sender=get_user_model(), dispatch_uid="token-revoke-on-password")
