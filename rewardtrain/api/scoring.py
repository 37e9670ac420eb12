"""Scoring over the API: best-of-N on the active (or a named) model, and batch scoring jobs (score,
curate, policy A/B). Project admins and ML engineers; annotators 403; non-members 404."""
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import exceptions, serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from annotation.api.common import Conflict, InvalidInput, ProjectScopedMixin, id_field, validated
from annotation.permissions import DATA_ROLES

from ..models import ModelVersion, ScoringJob
from ..scoring.jobs import (CURATE_MODES, curation_rule_of, scoring_job_create, scoring_job_result_name,
                            scoring_job_result_open)
from ..scoring.stats import score_stats_of
from ..scoring.services import MAX_RESPONSES, NoActiveModel, ScoringError, ScoringUnavailable, responses_score
from .training import ObjectProjectMixin


class ServiceUnavailable(exceptions.APIException):
    status_code = 503
    default_code = "unavailable"


@extend_schema_field({"oneOf": [{"type": "string"}, {"type": "array", "items": {
    "type": "object", "properties": {"role": {"type": "string", "enum": ["system", "user", "assistant"]},
                                     "content": {"type": "string"}}, "required": ["role", "content"]}}]})
class PromptField(serializers.JSONField):
    pass


class ScoreIn(serializers.Serializer):
    prompt = PromptField(help_text="A string, or chat messages [{\"role\", \"content\"}, ...].")
    responses = serializers.JSONField(help_text=f"1 to {MAX_RESPONSES} response strings.")
    model = id_field(required=False, help_text="A model version of this project; default: the active one.")


class ScoreModelOut(serializers.Serializer):
    id = serializers.IntegerField()
    version = serializers.IntegerField()


class ScoreOut(serializers.Serializer):
    model = ScoreModelOut()
    rewards = serializers.ListField(child=serializers.FloatField(), help_text="Raw overall reward per response.")
    normalized = serializers.ListField(child=serializers.FloatField(),
                                       help_text="Rewards as z-scores against the training data's rewards.")
    ranking = serializers.ListField(child=serializers.IntegerField(), help_text="Response indices, best first.")
    p_best = serializers.ListField(child=serializers.FloatField(),
                                   help_text="Probability each response is the best (softmax of reward / T).")
    rewards_by_criterion = serializers.DictField(
        child=serializers.ListField(child=serializers.FloatField()), required=False,
        help_text="Per criterion head, when the model has them.")


class ScoreApi(ProjectScopedMixin, GenericAPIView):
    """Best-of-N: score one prompt's responses with the project's active reward model (or `model`)."""

    read_roles = DATA_ROLES
    write_roles = DATA_ROLES
    serializer_class = ScoreIn

    @extend_schema(request=ScoreIn, responses={200: ScoreOut, 409: OpenApiResponse(description="No active model."),
                                               503: OpenApiResponse(description="No scoring worker answered.")},
                   summary="Score responses (best-of-N)")
    def post(self, request, project_id):
        data = validated(ScoreIn, request.data)
        try:
            result = responses_score(project=self.get_project(), prompt=data["prompt"], responses=data["responses"],
                                     model_id=data.get("model"))
        except NoActiveModel as exc:
            raise Conflict(str(exc))
        except ScoringError as exc:
            raise InvalidInput(str(exc))
        except ScoringUnavailable as exc:
            raise ServiceUnavailable(str(exc))
        return Response(result)


# --- batch scoring jobs ---------------------------------------------------------------------------

class ScoringJobIn(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ScoringJob.Kind.values)
    file = serializers.FileField(help_text="JSONL(.gz) of {prompt, response} or {prompt, responses} rows; "
                                           "for ab, policy A's responses.")
    file_b = serializers.FileField(required=False, help_text="ab only: policy B's responses to the same prompts.")
    model = id_field(required=False, help_text="A model version of this project; default: the active one.")
    mode = serializers.ChoiceField(choices=CURATE_MODES, required=False, help_text="curate only.")
    k = serializers.IntegerField(required=False, min_value=1, help_text="top_k: responses kept per prompt.")
    threshold = serializers.FloatField(required=False, help_text="threshold: keep rewards at or above this.")
    percent = serializers.FloatField(required=False, help_text="top_percent: share of responses kept (0, 100].")


class ScoringJobOut(serializers.ModelSerializer):
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    model_version_number = serializers.IntegerField(source="model_version.version", read_only=True)
    download = serializers.SerializerMethodField()

    class Meta:
        model = ScoringJob
        fields = ["id", "project", "kind", "status", "progress", "error", "model_version", "model_version_number",
                  "params", "summary", "download", "created_by", "created_at", "started_at", "finished_at"]

    def get_download(self, job) -> str | None:
        from django.urls import reverse

        return reverse("api-scoring-job-download", kwargs={"job_id": job.pk}) if job.result else None


class ScoringJobListCreateApi(ProjectScopedMixin, GenericAPIView):
    """Batch scoring jobs of the project; POST (multipart) queues one: 202, then poll it."""

    read_roles = DATA_ROLES
    write_roles = DATA_ROLES
    serializer_class = ScoringJobOut
    parser_classes = [MultiPartParser, FormParser]
    max_body_setting = "VERDICT_UPLOAD_MAX_BYTES"  # config.security.BodyLimitMiddleware

    @extend_schema(responses=ScoringJobOut(many=True), summary="Scoring jobs of the project, newest first")
    def get(self, request, project_id):
        jobs = ScoringJob.objects.filter(project=self.get_project()).select_related("model_version", "created_by")
        return Response(ScoringJobOut(jobs[:100], many=True).data)

    @extend_schema(request={"multipart/form-data": ScoringJobIn}, responses={202: ScoringJobOut},
                   summary="Start a batch scoring job (score, curate or policy A/B)")
    def post(self, request, project_id):
        data = validated(ScoringJobIn, request.data)
        params = curation_rule_of(data)
        try:
            job = scoring_job_create(project=self.get_project(), kind=data["kind"],
                                     files=[data["file"], data.get("file_b")], params=params,
                                     model_id=data.get("model"), user=request.user)
        except NoActiveModel as exc:
            raise Conflict(str(exc))
        except ScoringError as exc:
            raise InvalidInput(str(exc))
        return Response(ScoringJobOut(job).data, status=status.HTTP_202_ACCEPTED)


class ScoringJobDetailApi(ObjectProjectMixin, GenericAPIView):
    """A scoring job's status, progress, error and summary; `download` once it succeeded."""

    model = ScoringJob
    lookup_kwarg = "job_id"
    write_roles = DATA_ROLES
    serializer_class = ScoringJobOut

    @extend_schema(responses=ScoringJobOut, summary="One scoring job")
    def get(self, request, job_id):
        return Response(ScoringJobOut(self.get_object()).data)


class ScoringJobDownloadApi(ObjectProjectMixin, GenericAPIView):
    """The job's result file (JSONL), streamed."""

    model = ScoringJob
    lookup_kwarg = "job_id"
    write_roles = DATA_ROLES
    serializer_class = ScoringJobOut

    @extend_schema(responses={(200, "application/jsonl"): OpenApiResponse(OpenApiTypes.BINARY)},
                   summary="Download a scoring job's result")
    def get(self, request, job_id):
        job = self.get_object()
        if not job.result:
            raise Conflict(f"Scoring job {job.pk} has no result yet ({job.status}).")
        return FileResponse(scoring_job_result_open(job=job, user=request.user), as_attachment=True,
                            filename=scoring_job_result_name(job=job), content_type="application/jsonl")


# --- statistics of served scores ------------------------------------------------------------------

class ScoreDayOut(serializers.Serializer):
    day = serializers.DateField()
    count = serializers.IntegerField()
    mean = serializers.FloatField(allow_null=True, help_text="Mean raw reward.")
    std = serializers.FloatField(allow_null=True)
    min = serializers.FloatField(allow_null=True)
    max = serializers.FloatField(allow_null=True)
    length_correlation = serializers.FloatField(allow_null=True, help_text="Pearson, reward vs response characters.")
    normalized_quantiles = serializers.DictField(child=serializers.FloatField(allow_null=True),
                                                 help_text="p5, p25, p50, p75, p95 of the normalized reward.")


class ModelScoreStatsApi(ObjectProjectMixin, GenericAPIView):
    """Per-day statistics of the best-of-N scores this model version has served, oldest day first."""

    model = ModelVersion
    lookup_kwarg = "model_id"
    serializer_class = ScoreDayOut

    @extend_schema(responses=ScoreDayOut(many=True), summary="Daily statistics of a model's served scores")
    def get(self, request, model_id):
        return Response(ScoreDayOut(score_stats_of(model_version=self.get_object()), many=True).data)
