"""Annotator JSON API: next task, judgement, skip (and marking gold, for project admins).

For custom front-ends, scripts and load tests; session or token auth. Thin: parse, call one
service, render. The rules live in annotation/queue.py and annotation/judging.py.
"""
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from . import judging, queue, workspace
from .api_errors import InvalidInput
from .models import Assignment, Task
from .permissions import ANNOTATE_ROLES, MANAGE_ROLES, HasProjectRole, ProjectFromUrl, project_for_user



def ranking_field(**kwargs) -> serializers.ListField:
    group = serializers.ListField(child=serializers.IntegerField(), allow_empty=False)
    return serializers.ListField(child=group, **kwargs)


def _flatten(errors, prefix="") -> str:
    """The first serializer error as "field[0]: message", so clients get a specific message."""
    if isinstance(errors, dict):
        key, value = next(iter(errors.items()))
        name = f"{prefix}[{key}]" if isinstance(key, int) else (f"{prefix}.{key}" if prefix else str(key))
        return _flatten(value, name)
    if isinstance(errors, list) and errors:
        return _flatten(errors[0], prefix)
    return f"{prefix}: {errors}" if prefix else str(errors)


def _validated(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    if not serializer.is_valid():
        raise InvalidInput(_flatten(serializer.errors))
    return serializer.validated_data


class PromptOutput(serializers.Serializer):
    text = serializers.CharField()
    messages = serializers.ListField(child=serializers.DictField(), allow_null=True)


class ResponseOutput(serializers.Serializer):
    id = serializers.IntegerField()
    label = serializers.CharField(help_text="A, B, C... in display order.")
    text = serializers.CharField()


class TaskOutput(serializers.Serializer):
    id = serializers.IntegerField(source="task_id")
    prompt = PromptOutput()
    responses = ResponseOutput(many=True, help_text="In this assignment's (shuffled) display order.")


class CriterionOutput(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    description = serializers.CharField()


class ProjectRulesOutput(serializers.Serializer):
    id = serializers.IntegerField()
    mode = serializers.CharField()
    strength_scale = serializers.ListField(child=serializers.CharField())
    allow_ties = serializers.BooleanField()
    allow_both_bad = serializers.BooleanField()
    rationale_required = serializers.BooleanField()
    criteria = CriterionOutput(many=True)


class NextTaskOutput(serializers.Serializer):
    assignment_id = serializers.IntegerField()
    expires_at = serializers.DateTimeField()
    task = TaskOutput()
    project = ProjectRulesOutput()


class JudgementInput(serializers.Serializer):
    ranking = ranking_field(required=False, help_text="Groups of response ids, best first; a group holds tied responses.")
    strength = serializers.IntegerField(required=False, allow_null=True,
                                        help_text="Index into the project's strength scale.")
    both_bad = serializers.BooleanField(required=False, default=False)
    criteria = serializers.DictField(child=ranking_field(), required=False,
                                     help_text="Criterion key → ranking, for every criterion of the rubric.")
    rationale = serializers.CharField(required=False, allow_blank=True, default="")
    duration_ms = serializers.IntegerField(required=False, allow_null=True)


class JudgementOutput(serializers.Serializer):
    # Explicit fields, not a ModelSerializer: this runs on every submission and model introspection costs.
    id = serializers.IntegerField()
    assignment = serializers.IntegerField(source="assignment_id", allow_null=True)
    task = serializers.IntegerField(source="task_id")
    ranking = serializers.ListField(child=serializers.ListField(child=serializers.IntegerField()))
    strength = serializers.IntegerField(allow_null=True)
    both_bad = serializers.BooleanField()
    criteria = serializers.DictField(child=serializers.ListField(child=serializers.ListField(
        child=serializers.IntegerField())))
    rationale = serializers.CharField(allow_blank=True)
    duration_ms = serializers.IntegerField(allow_null=True)
    display_order = serializers.ListField(child=serializers.IntegerField())
    is_surplus = serializers.BooleanField()
    created_at = serializers.DateTimeField()


class SkipInput(serializers.Serializer):
    reason = serializers.CharField(max_length=500)


class SkipOutput(serializers.ModelSerializer):
    class Meta:
        model = Assignment
        fields = ["id", "task", "status", "skip_reason", "finished_at"]


class GoldInput(serializers.Serializer):
    gold_ranking = ranking_field()
    target_judgements = serializers.IntegerField(required=False, min_value=1)


class GoldOutput(serializers.ModelSerializer):
    class Meta:
        model = Task
        fields = ["id", "is_gold", "gold_ranking", "target_judgements", "status"]


def next_task_payload(*, assignment: Assignment) -> dict:
    project = assignment.project
    return {
        "assignment_id": assignment.pk, "expires_at": assignment.expires_at,
        "task": workspace.task_view(assignment=assignment),
        "project": {"id": project.pk, "mode": project.mode, "strength_scale": project.strength_scale or [],
                    "allow_ties": project.allow_ties, "allow_both_bad": project.allow_both_bad,
                    "rationale_required": project.rationale_required,
                    "criteria": workspace.criteria_for(project=project)},
    }


class _ProjectApi(ProjectFromUrl, APIView):
    permission_classes = [IsAuthenticated, HasProjectRole]
    project_roles = ANNOTATE_ROLES


class _AssignmentApi(APIView):
    """Only the leaseholder gets past the lookup (404 for anyone else); the role is checked too."""

    permission_classes = [IsAuthenticated, HasProjectRole]
    project_roles = ANNOTATE_ROLES

    def get_assignment(self) -> Assignment:
        if not hasattr(self, "_assignment"):
            self._assignment = workspace.assignment_for_annotator(user=self.request.user,
                                                                  assignment_id=self.kwargs["assignment_id"])
        return self._assignment

    def get_project(self):
        return self.get_assignment().project


class NextTaskApi(_ProjectApi):
    @extend_schema(request=None, responses={200: NextTaskOutput, 204: OpenApiResponse(description="Nothing left for you.")},
                   summary="Claim the next task (or get your current lease back)")
    def post(self, request, project_id):
        assignment = queue.task_next(project=self.get_project(), annotator=request.user)
        if assignment is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        assignment.project = self.get_project()
        return Response(NextTaskOutput(next_task_payload(assignment=assignment)).data)


class JudgementSubmitApi(_AssignmentApi):
    @extend_schema(request=JudgementInput,
                   responses={201: JudgementOutput, 200: OpenApiResponse(JudgementOutput, description="A replay."),
                              400: OpenApiResponse(description="Invalid answer."),
                              409: OpenApiResponse(description="The lease was skipped.")},
                   summary="Submit the judgement for your lease (idempotent)")
    def post(self, request, assignment_id):
        data = _validated(JudgementInput, request.data)
        judgement, created = judging.judgement_submit(assignment=self.get_assignment(), **data)
        return Response(JudgementOutput(judgement).data, status=201 if created else 200)


class SkipApi(_AssignmentApi):
    @extend_schema(request=SkipInput, responses={200: SkipOutput, 409: OpenApiResponse(description="Already judged.")},
                   summary="Skip your lease with a reason")
    def post(self, request, assignment_id):
        data = _validated(SkipInput, request.data)
        assignment = judging.assignment_skip(assignment=self.get_assignment(), reason=data["reason"])
        return Response(SkipOutput(assignment).data)


class TaskGoldApi(APIView):
    """Project admins mark a task as gold with its expected answer, or unmark it."""

    permission_classes = [IsAuthenticated, HasProjectRole]
    project_roles = MANAGE_ROLES

    def get_task(self) -> Task:
        if not hasattr(self, "_task"):
            task = Task.objects.filter(pk=self.kwargs["task_id"]).only("id", "project_id").first()
            project = project_for_user(user=self.request.user, project_id=task.project_id if task else None)
            self._task, self._project = task, project
        return self._task

    def get_project(self):
        self.get_task()
        return self._project

    @extend_schema(request=GoldInput, responses={200: GoldOutput}, summary="Mark a task as gold")
    def post(self, request, task_id):
        data = _validated(GoldInput, request.data)
        task = judging.task_mark_gold(task=self.get_task(), **data)
        return Response(GoldOutput(task).data)

    @extend_schema(request=None, responses={200: GoldOutput}, summary="Unmark a gold task")
    def delete(self, request, task_id):
        return Response(GoldOutput(judging.task_unmark_gold(task=self.get_task())).data)


class TokenApi(ObtainAuthToken):
    """POST username + password → {"token": ...} for the `Authorization: Token ...` header.

    The same token every time (it is created on first use); throttled per client address
    (scope "token") against password guessing.
    """

    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "token"
