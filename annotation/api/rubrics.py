"""Rubric versions: any member reads them; a project admin creates a new version."""
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response

from annotation.models import Criterion, Rubric, criterion_key_problem
from annotation.selectors.projects import rubrics_list
from annotation.services import projects
from annotation.services.projects import MAX_CRITERION_DESCRIPTION

from .common import ProjectScopedMixin


class CriterionOut(serializers.ModelSerializer):
    class Meta:
        model = Criterion
        fields = ["key", "label", "description", "position"]


class RubricOut(serializers.ModelSerializer):
    criteria = CriterionOut(many=True, read_only=True)
    is_active = serializers.SerializerMethodField()

    class Meta:
        model = Rubric
        fields = ["id", "name", "version", "is_active", "created_at", "criteria"]

    def get_is_active(self, rubric) -> bool:
        return rubric.project.rubric_id == rubric.pk


class CriterionIn(serializers.Serializer):
    key = serializers.SlugField(max_length=64, help_text='Not "overall" (the overall preference), any case.')
    label = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True, max_length=MAX_CRITERION_DESCRIPTION)


class RubricIn(serializers.Serializer):
    name = serializers.CharField(max_length=200, default="Rubric")
    criteria = CriterionIn(many=True, allow_empty=False, max_length=50)
    activate = serializers.BooleanField(default=True, help_text="Make this version the one new judgements use.")

    def validate_criteria(self, value):
        keys = [c["key"] for c in value]
        for key in keys:
            if problem := criterion_key_problem(key):
                raise serializers.ValidationError(problem)
        if len(keys) != len(set(keys)):
            raise serializers.ValidationError("Criterion keys must be unique.")
        return value


class RubricListCreateApi(ProjectScopedMixin, generics.GenericAPIView):
    """Rubric versions: any member reads them; a project admin creates a new version.

    A version that judgements use is never edited in place, so there is no update endpoint.
    """

    serializer_class = RubricOut

    @extend_schema(responses=RubricOut(many=True), summary="Rubric versions, newest first")
    def get(self, request, project_id):
        return Response(RubricOut(rubrics_list(project=self.get_project()), many=True).data)

    @extend_schema(request=RubricIn, responses={201: RubricOut}, summary="Create a new rubric version")
    def post(self, request, project_id):
        data = RubricIn(data=request.data)
        data.is_valid(raise_exception=True)
        rubric = projects.rubric_create(project=self.get_project(), **data.validated_data)
        return Response(RubricOut(rubric).data, status=status.HTTP_201_CREATED)
