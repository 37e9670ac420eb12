"""Annotating over the API: claim the next task, submit the judgement of a lease, skip a lease.

For custom front-ends, scripts and load tests; session or token auth. Thin: parse, call one
service, render. The rules live in annotation/services/queue.py and annotation/services/judgements.py.
"""
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.models import Assignment
from annotation.permissions import ANNOTATE_ROLES, HasProjectRole, ProjectFromUrl
from annotation.selectors import workspace
from annotation.selectors.judgements import judgement_of_assignment
from annotation.services import judgements, queue

from .common import ranking_field, validated


class LeasePromptOut(serializers.Serializer):
    text = serializers.CharField()
    messages = serializers.ListField(child=serializers.DictField(), allow_null=True)


class LeaseResponseOut(serializers.Serializer):
    id = serializers.IntegerField()
    label = serializers.CharField(help_text="A, B, C... in display order.")
    text = serializers.CharField()


class LeaseTaskOut(serializers.Serializer):
    id = serializers.IntegerField(source="task_id")
    prompt = LeasePromptOut()
    responses = LeaseResponseOut(many=True, help_text="In this assignment's (shuffled) display order.")


class LeaseCriterionOut(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    description = serializers.CharField()


class ProjectRulesOut(serializers.Serializer):
    id = serializers.IntegerField()
    mode = serializers.CharField()
    strength_scale = serializers.ListField(child=serializers.CharField())
    allow_ties = serializers.BooleanField()
    allow_both_bad = serializers.BooleanField()
    rationale_required = serializers.BooleanField()
    criteria = LeaseCriterionOut(many=True)


class NextTaskOut(serializers.Serializer):
    assignment_id = serializers.IntegerField()
    expires_at = serializers.DateTimeField()
    task = LeaseTaskOut()
    project = ProjectRulesOut()


class JudgementSubmitIn(serializers.Serializer):
    ranking = ranking_field(required=False, help_text="Groups of response ids, best first; a group holds tied responses.")
    strength = serializers.IntegerField(required=False, allow_null=True,
                                        help_text="Index into the project's strength scale.")
    both_bad = serializers.BooleanField(required=False, default=False)
    criteria = serializers.DictField(child=ranking_field(), required=False,
                                     help_text="Criterion key → ranking, for every criterion of the rubric.")
    rationale = serializers.CharField(required=False, allow_blank=True, default="")
    duration_ms = serializers.IntegerField(required=False, allow_null=True)


class JudgementSubmitOut(serializers.Serializer):
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
    revision = serializers.IntegerField(help_text="0 for the first answer; +1 for each revision.")


class AssignmentSkipIn(serializers.Serializer):
    reason = serializers.CharField(max_length=500)


class AssignmentSkipOut(serializers.ModelSerializer):
    class Meta:
        model = Assignment
        fields = ["id", "task", "status", "skip_reason", "finished_at"]


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
    @extend_schema(request=None, responses={200: NextTaskOut, 204: OpenApiResponse(description="Nothing left for you.")},
                   summary="Claim the next task (or get your current lease back)")
    def post(self, request, project_id):
        assignment = queue.task_next(project=self.get_project(), annotator=request.user)
        if assignment is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        assignment.project = self.get_project()
        return Response(NextTaskOut(next_task_payload(assignment=assignment)).data)


class JudgementSubmitApi(_AssignmentApi):
    @extend_schema(request=JudgementSubmitIn,
                   responses={201: JudgementSubmitOut, 200: OpenApiResponse(JudgementSubmitOut, description="A replay."),
                              400: OpenApiResponse(description="Invalid answer."),
                              409: OpenApiResponse(description="The lease was skipped.")},
                   summary="Submit the judgement for your lease (idempotent)")
    def post(self, request, assignment_id):
        data = validated(JudgementSubmitIn, request.data)
        judgement, created = judgements.judgement_submit(assignment=self.get_assignment(), **data)
        return Response(JudgementSubmitOut(judgement).data, status=201 if created else 200)

    @extend_schema(request=JudgementSubmitIn,
                   responses={200: JudgementSubmitOut, 400: OpenApiResponse(description="Invalid answer."),
                              404: OpenApiResponse(description="No judgement on this lease's task yet."),
                              409: OpenApiResponse(description="Not your last judgement, or too late to revise.")},
                   summary="Revise your last judgement (while its task is open, or within 10 minutes)")
    def put(self, request, assignment_id):
        data = validated(JudgementSubmitIn, request.data)
        judgement = judgement_of_assignment(assignment=self.get_assignment())
        if judgement is None:
            raise exceptions.NotFound("Nothing to revise: this task has no judgement of yours yet.")
        return Response(JudgementSubmitOut(judgements.judgement_revise(judgement=judgement, **data)).data)


class AssignmentSkipApi(_AssignmentApi):
    @extend_schema(request=AssignmentSkipIn, responses={200: AssignmentSkipOut, 409: OpenApiResponse(description="Already judged.")},
                   summary="Skip your lease with a reason")
    def post(self, request, assignment_id):
        data = validated(AssignmentSkipIn, request.data)
        assignment = judgements.assignment_skip(assignment=self.get_assignment(), reason=data["reason"])
        return Response(AssignmentSkipOut(assignment).data)


