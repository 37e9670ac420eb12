"""Projects the caller belongs to, and one project's settings (any member)."""
from rest_framework import generics, serializers

from annotation.models import Project
from annotation.permissions import DATA_ROLES, user_roles, visible_projects

from .common import IdCursorPagination, ProjectScopedMixin


class ProjectOut(serializers.ModelSerializer):
    roles = serializers.SerializerMethodField()
    gold_rate = serializers.SerializerMethodField(help_text="Null for annotators: gold stays hidden from them.")

    class Meta:
        model = Project
        fields = ["id", "name", "description", "instructions", "mode", "rubric", "strength_scale", "allow_ties",
                  "allow_both_bad", "rationale_required", "overlap", "lease_seconds", "gold_rate", "created_at",
                  "roles"]

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
