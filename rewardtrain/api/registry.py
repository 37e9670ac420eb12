"""The model registry over the API: list, read, promote, roll back, download (ML engineers write,
project admins read; non-members get 404)."""
from django.http import StreamingHttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from annotation.services.audit import audit_record
from annotation.api.common import InvalidInput

from ..models import ModelEvent, ModelVersion
from .training import ObjectProjectMixin, ProjectMlApi
from ..registry.services import (RegistryError, model_version_promote, model_version_rollback, model_version_zip_name,
                       model_version_zip_stream)


class ModelEventOut(serializers.ModelSerializer):
    user = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    version = serializers.IntegerField(source="model_version.version", read_only=True)
    previous_active_version = serializers.IntegerField(source="previous_active.version", read_only=True,
                                                       allow_null=True, default=None)

    class Meta:
        model = ModelEvent
        fields = ["action", "model_version", "version", "previous_active", "previous_active_version", "user", "at"]


class ModelVersionOut(serializers.ModelSerializer):
    snapshot = serializers.IntegerField(source="run.snapshot_id", read_only=True, allow_null=True, default=None)
    events = ModelEventOut(many=True, read_only=True)
    download = serializers.SerializerMethodField()

    class Meta:
        model = ModelVersion
        fields = ["id", "project", "version", "status", "run", "snapshot", "artifact_dir", "validation_report",
                  "created_at", "events", "download"]

    def get_download(self, model) -> str:
        return reverse("api-model-download", kwargs={"model_id": model.pk})


class ModelVersionSummaryOut(serializers.ModelSerializer):
    accuracy = serializers.FloatField(source="validation_report.accuracy", read_only=True, allow_null=True,
                                      default=None)
    ece = serializers.FloatField(source="validation_report.ece", read_only=True, allow_null=True, default=None)
    n = serializers.IntegerField(source="validation_report.n", read_only=True, allow_null=True, default=None)

    class Meta:
        model = ModelVersion
        fields = ["id", "project", "version", "status", "run", "accuracy", "ece", "n", "created_at"]


def _models():
    return ModelVersion.objects.select_related("run").prefetch_related("events__user", "events__model_version",
                                                                       "events__previous_active")


class ModelVersionListApi(ProjectMlApi):
    """The project's model versions, newest first, with their headline validation numbers."""

    serializer_class = ModelVersionSummaryOut

    @extend_schema(responses=ModelVersionSummaryOut(many=True), summary="Model versions of the project")
    def get(self, request, project_id):
        models = ModelVersion.objects.filter(project=self.get_project()).order_by("-version")
        return Response(ModelVersionSummaryOut(models, many=True).data)


class ModelVersionRollbackApi(ProjectMlApi):
    """Re-activate the version that was active before the current one (ML engineers)."""

    serializer_class = ModelVersionOut

    @extend_schema(request=None, responses=ModelVersionOut, summary="Roll back to the previously active model")
    def post(self, request, project_id):
        try:
            model = model_version_rollback(project=self.get_project(), user=request.user)
        except RegistryError as error:
            raise InvalidInput(str(error))
        return Response(ModelVersionOut(_models().get(pk=model.pk)).data)


class _ModelApi(ObjectProjectMixin, GenericAPIView):
    model = ModelVersion
    lookup_kwarg = "model_id"
    serializer_class = ModelVersionOut


class ModelVersionDetailApi(_ModelApi):
    """One model version: status, validation report (accuracy, ece, length_correlation, n, ...), history."""

    @extend_schema(responses=ModelVersionOut, summary="One model version")
    def get(self, request, model_id):
        self.get_object()
        return Response(ModelVersionOut(_models().get(pk=model_id)).data)


class ModelVersionPromoteApi(_ModelApi):
    """Make this version the project's active model; the previous active one is archived."""

    @extend_schema(request=None, responses=ModelVersionOut, summary="Promote a model version")
    def post(self, request, model_id):
        try:
            model_version_promote(model_version=self.get_object(), user=request.user)
        except RegistryError as error:
            raise InvalidInput(str(error))
        return Response(ModelVersionOut(_models().get(pk=model_id)).data)


class ModelVersionDownloadApi(_ModelApi):
    """The Hugging Face model folder as a zip (streamed); it loads with
    AutoModelForSequenceClassification.from_pretrained."""

    @extend_schema(responses={(200, "application/zip"): OpenApiResponse(OpenApiTypes.BINARY)},
                   summary="Download a model version as a zip")
    def get(self, request, model_id):
        model = self.get_object()
        audit_record(action="model.downloaded", user=request.user, project=model.project, target=model,
                     detail={"version": model.version, "via": "api"})
        response = StreamingHttpResponse(model_version_zip_stream(model_version=model), content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="{model_version_zip_name(model_version=model)}.zip"'
        return response
