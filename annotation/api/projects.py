"""Projects the caller belongs to, and one project's settings (any member; project admins change the PII policy)."""
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.response import Response

from annotation.models import Project
from annotation.permissions import DATA_ROLES, user_roles, visible_projects
from annotation.pii.services import project_set_pii_policy

from .common import IdCursorPagination, ProjectScopedMixin, validated


class ProjectOut(serializers.ModelSerializer):
    roles = serializers.SerializerMethodField()
    gold_rate = serializers.SerializerMethodField(help_text="Null for annotators: gold stays hidden from them.")

    class Meta:
        model = Project
        fields = ["id", "name", "description", "instructions", "mode", "rubric", "strength_scale", "allow_ties",
                  "allow_both_bad", "rationale_required", "overlap", "lease_seconds", "gold_rate", "pii_policy",
                  "created_at", "roles"]

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


class ProjectDetailApi(ProjectScopedMixin, generics.RetrieveAPIView):
    """One project's settings and the caller's roles (any member)."""

    serializer_class = ProjectOut

    def get_object(self):
        return self.get_project()


class PiiPolicyIn(serializers.Serializer):
    pii_policy = serializers.ChoiceField(choices=Project.PiiPolicy.values,
                                         help_text="off | flag | mask-export | mask-import (annotation/pii).")


class ProjectPiiPolicyApi(ProjectScopedMixin, generics.GenericAPIView):
    """The project's PII policy: any member reads it; project admins change it (recorded in the audit trail)."""

    serializer_class = PiiPolicyIn

    def get_object(self):
        return self.get_project()

    @extend_schema(responses=PiiPolicyIn, summary="The project's PII policy")
    def get(self, request, project_id):
        return Response({"pii_policy": self.get_project().pii_policy})

    @extend_schema(request=PiiPolicyIn, responses=PiiPolicyIn, summary="Change the project's PII policy")
    def put(self, request, project_id):
        data = validated(PiiPolicyIn, request.data)
        project = project_set_pii_policy(project=self.get_project(), policy=data["pii_policy"], user=request.user)
        return Response({"pii_policy": project.pii_policy})
