"""Projects the caller belongs to, one project's settings (any member reads them), PATCH of the
settings (project admins; checked by services.projects.project_update, like the settings page) and
the PII policy (project admins; recorded in the audit trail)."""
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.response import Response

from annotation.models import Project
from annotation.permissions import DATA_ROLES, user_roles, visible_projects
from annotation.pii.apply import pii_apply_latest
from annotation.pii.services import PiiPolicyError, project_set_pii_policy
from annotation.services.projects import SETTINGS, SettingsInvalid, project_update

from .common import IdCursorPagination, InvalidInput, ProjectScopedMixin, validated


class ProjectOut(serializers.ModelSerializer):
    roles = serializers.SerializerMethodField()
    gold_rate = serializers.SerializerMethodField(help_text="Null for annotators: gold stays hidden from them.")

    class Meta:
        model = Project
        fields = ["id", "name", "description", "instructions", "mode", "rubric", "strength_scale", "allow_ties",
                  "allow_both_bad", "rationale_required", "overlap", "lease_seconds", "gold_rate", "adaptive_overlap",
                  "max_overlap", "dispute_threshold", "pii_policy", "created_at", "roles"]

    def get_roles(self, project) -> list[str]:
        return sorted(user_roles(user=self.context["request"].user, project=project))

    def get_gold_rate(self, project) -> float | None:
        roles = user_roles(user=self.context["request"].user, project=project)
        return project.gold_rate if roles & set(DATA_ROLES) else None


class ProjectListApi(generics.ListAPIView):
    """Projects the caller is a member of, with the caller's roles in each."""

    serializer_class = ProjectOut
    pagination_class = IdCursorPagination

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Project.objects.none()
        return visible_projects(user=self.request.user)


class ProjectSettingsIn(serializers.Serializer):
    """Any subset of the settings; ranges and the rules between them are the service's (as on the page)."""

    name = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(allow_blank=True, trim_whitespace=False, required=False)
    instructions = serializers.CharField(allow_blank=True, trim_whitespace=False, required=False,
                                         help_text="Markdown shown to annotators.")
    mode = serializers.ChoiceField(choices=Project.Mode.choices, required=False,
                                   help_text="Fixed once the project has tasks.")
    overlap = serializers.IntegerField(required=False, help_text="Judgements wanted per task imported from now on.")
    max_overlap = serializers.IntegerField(required=False, help_text="Adaptive overlap never raises a target past it.")
    adaptive_overlap = serializers.BooleanField(required=False)
    dispute_threshold = serializers.FloatField(required=False, help_text="0..1 (1 excluded): a task is disputed when "
                                               "more than this share of its judgements differ from the most common.")
    lease_seconds = serializers.IntegerField(required=False)
    gold_rate = serializers.FloatField(required=False, help_text="0..1: share of requests served a gold task first.")
    allow_ties = serializers.BooleanField(required=False)
    allow_both_bad = serializers.BooleanField(required=False)
    rationale_required = serializers.BooleanField(required=False)
    strength_scale = serializers.ListField(child=serializers.CharField(allow_blank=True), required=False,
                                           help_text="Labels, weakest first; [] for no strength question.")


class ProjectDetailApi(ProjectScopedMixin, generics.GenericAPIView):
    """One project's settings and the caller's roles (any member); project admins change settings."""

    serializer_class = ProjectOut

    @extend_schema(responses=ProjectOut, summary="A project's settings")
    def get(self, request, project_id):
        return Response(ProjectOut(self.get_project(), context={"request": request}).data)

    @extend_schema(request=ProjectSettingsIn, responses=ProjectOut, summary="Change a project's settings")
    def patch(self, request, project_id):
        if not isinstance(request.data, dict):
            raise InvalidInput("Send a JSON object of settings.")
        if unknown := sorted(set(request.data) - set(SETTINGS)):
            raise InvalidInput(f"{unknown[0]}: is not a project setting; settings are {', '.join(SETTINGS)}.")
        changes = validated(ProjectSettingsIn, request.data)
        try:
            project = project_update(project=self.get_project(), changes=dict(changes))
        except SettingsInvalid as exc:
            raise InvalidInput(str(exc))
        return Response(ProjectOut(project, context={"request": request}).data)


class PiiPolicyIn(serializers.Serializer):
    pii_policy = serializers.ChoiceField(choices=Project.PiiPolicy.values,
                                         help_text="off | flag | mask-export | mask-import (annotation/pii).")
    confirm = serializers.BooleanField(required=False, default=False, help_text=(
        "Switching to mask-import rewrites stored text irreversibly: send true to go ahead (else 400)."))


class PiiApplyJobOut(serializers.Serializer):
    id = serializers.IntegerField()
    policy = serializers.CharField()
    status = serializers.CharField(help_text="queued | running | done | failed")
    mask = serializers.BooleanField(help_text="Stored texts are rewritten with placeholders.")
    record = serializers.BooleanField(help_text="Texts stored while the policy was off are scanned.")
    done = serializers.IntegerField()
    total = serializers.IntegerField()
    counts = serializers.DictField(child=serializers.IntegerField(), help_text="Findings per kind so far.")
    error = serializers.CharField()


class PiiPolicyOut(serializers.Serializer):
    pii_policy = serializers.CharField()
    apply_job = PiiApplyJobOut(allow_null=True, help_text="The last change applied to stored text, if any.")


def _pii_out(project) -> dict:
    job = pii_apply_latest(project=project)
    return {"pii_policy": project.pii_policy, "apply_job": PiiApplyJobOut(job).data if job else None}


class ProjectPiiPolicyApi(ProjectScopedMixin, generics.GenericAPIView):
    """The project's PII policy: any member reads it; project admins change it (recorded in the audit
    trail, and applied to stored text by a job whose progress is in `apply_job`)."""

    serializer_class = PiiPolicyIn

    def get_object(self):
        return self.get_project()

    @extend_schema(responses=PiiPolicyOut, summary="The project's PII policy")
    def get(self, request, project_id):
        return Response(_pii_out(self.get_project()))

    @extend_schema(request=PiiPolicyIn, responses=PiiPolicyOut, summary="Change the project's PII policy")
    def put(self, request, project_id):
        data = validated(PiiPolicyIn, request.data)
        try:
            project = project_set_pii_policy(project=self.get_project(), policy=data["pii_policy"], user=request.user,
                                             confirm=data["confirm"])
        except PiiPolicyError as exc:
            raise InvalidInput(str(exc)) from None
        return Response(_pii_out(project))
