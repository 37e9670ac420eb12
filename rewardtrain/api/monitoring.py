"""Monitoring over the API: the canary set (import, read), a model's canary shift, and alerts (list,
acknowledge, resolve). Project admins and ML engineers; ML engineers import canaries; annotators 403;
non-members 404."""
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from annotation.api.common import InvalidInput, validated
from annotation.permissions import DATA_ROLES

from ..models import Alert, Canary, ModelVersion
from ..monitoring.alerts import AlertError, alert_acknowledge, alert_resolve, alert_thresholds
from ..monitoring.canaries import canaries_import, canary_shift_of
from ..monitoring.selectors import alerts_of
from ..scoring.files import FileProblems
from .training import ObjectProjectMixin, ProjectMlApi


class CanaryImportIn(serializers.Serializer):
    file = serializers.FileField(help_text="JSONL(.gz) of {prompt, response} or {prompt, responses: [...]} rows; "
                                           "replaces the project's canary set.")


class CanaryOut(serializers.ModelSerializer):
    class Meta:
        model = Canary
        fields = ["line", "prompt", "responses"]


class CanarySetOut(serializers.Serializer):
    count = serializers.IntegerField()
    canaries = CanaryOut(many=True)


class CanarySetApi(ProjectMlApi):
    """The project's canary set; POST (multipart, ML engineers) replaces it, all or nothing, and queues
    canary scoring of the active model and the candidates."""

    serializer_class = CanarySetOut
    parser_classes = [MultiPartParser, FormParser]
    max_body_setting = "VERDICT_UPLOAD_MAX_BYTES"  # config.security.BodyLimitMiddleware

    def _out(self):
        canaries = Canary.objects.filter(project=self.get_project()).order_by("line")
        return CanarySetOut({"count": len(canaries), "canaries": canaries}).data

    @extend_schema(responses=CanarySetOut, summary="The project's canary set")
    def get(self, request, project_id):
        return Response(self._out())

    @extend_schema(request={"multipart/form-data": CanaryImportIn}, responses=CanarySetOut,
                   summary="Replace the project's canary set (JSONL upload)")
    def post(self, request, project_id):
        upload = validated(CanaryImportIn, request.data)["file"]
        try:
            canaries_import(project=self.get_project(), fileobj=upload, filename=upload.name or "upload")
        except FileProblems as exc:
            raise InvalidInput(str(exc))
        return Response(self._out())


class CanaryShiftOut(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ok", "pending", "no_reference", "no_canaries"],
                                     help_text="no_canaries: the project has no canary set; pending: not scored yet.")
    canaries = serializers.IntegerField(required=False)
    canary_set = serializers.CharField(required=False, help_text="sha256 of the canary set compared on.")
    reference = serializers.DictField(required=False, allow_null=True,
                                      help_text="The model compared with {id, version}.")
    ks = serializers.FloatField(required=False, help_text="Two-sample Kolmogorov–Smirnov statistic.")
    p_value = serializers.FloatField(required=False)
    mean_shift_sigma = serializers.FloatField(required=False, allow_null=True,
                                              help_text="(mean − reference mean) / reference std.")
    candidate_mean = serializers.FloatField(required=False)
    reference_mean = serializers.FloatField(required=False)
    reference_std = serializers.FloatField(required=False)
    n = serializers.IntegerField(required=False, help_text="Canary responses scored.")
    beyond_threshold = serializers.BooleanField(required=False)
    thresholds = serializers.DictField(required=False)


class ModelCanaryShiftApi(ObjectProjectMixin, GenericAPIView):
    """A version's canary rewards against the active model's (for the active one: the version it replaced)."""

    model = ModelVersion
    lookup_kwarg = "model_id"
    serializer_class = CanaryShiftOut

    @extend_schema(responses=CanaryShiftOut, summary="Canary shift of a model version")
    def get(self, request, model_id):
        shift = canary_shift_of(model=self.get_object())
        return Response(CanaryShiftOut(shift or {"status": "no_canaries"}).data)


class AlertOut(serializers.ModelSerializer):
    model_version_number = serializers.IntegerField(source="model_version.version", read_only=True, allow_null=True,
                                                    default=None)
    acknowledged_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    resolved_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = Alert
        fields = ["id", "project", "model_version", "model_version_number", "rule", "severity", "message", "numbers",
                  "status", "acknowledged_by", "acknowledged_at", "resolved_by", "resolved_at", "created_at"]


class AlertListIn(serializers.Serializer):
    status = serializers.ChoiceField(choices=Alert.Status.values, required=False)


class AlertListOut(serializers.Serializer):
    thresholds = serializers.DictField(help_text="Every rule's threshold (settings VERDICT_ALERT_*).")
    alerts = AlertOut(many=True)


class AlertListApi(ProjectMlApi):
    """The project's alerts, newest first (at most 200), optionally of one status, with the rules' thresholds."""

    serializer_class = AlertListOut

    @extend_schema(parameters=[AlertListIn], responses=AlertListOut, summary="Monitoring alerts of the project")
    def get(self, request, project_id):
        status = self.filters(AlertListIn).get("status")
        alerts = alerts_of(project=self.get_project(), status=status)[:200]
        return Response(AlertListOut({"thresholds": alert_thresholds(), "alerts": alerts}).data)


class _AlertApi(ObjectProjectMixin, GenericAPIView):
    model = Alert
    lookup_kwarg = "alert_id"
    write_roles = DATA_ROLES
    serializer_class = AlertOut
    change = None

    def post(self, request, alert_id):
        try:
            alert = type(self).change(alert=self.get_object(), user=request.user)
        except AlertError as exc:
            raise InvalidInput(str(exc))
        return Response(AlertOut(alerts_of(project=self.get_project()).get(pk=alert.pk)).data)


class AlertAcknowledgeApi(_AlertApi):
    """Mark an open alert as acknowledged (project admins and ML engineers)."""

    change = staticmethod(alert_acknowledge)

    @extend_schema(request=None, responses=AlertOut, summary="Acknowledge an alert")
    def post(self, request, alert_id):
        return super().post(request, alert_id)


class AlertResolveApi(_AlertApi):
    """Resolve an open or acknowledged alert; its rule may fire again."""

    change = staticmethod(alert_resolve)

    @extend_schema(request=None, responses=AlertOut, summary="Resolve an alert")
    def post(self, request, alert_id):
        return super().post(request, alert_id)
