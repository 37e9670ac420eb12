"""The adjudication queue over the API: disputed tasks with every judgement (admins and ML engineers
read), and a project admin's verdict on a task (services.adjudication.adjudication_record)."""
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.models import Adjudication, Task
from annotation.permissions import DATA_ROLES, MANAGE_ROLES, HasProjectRole, project_for_user
from annotation.selectors.manage import disputed_tasks, judgement_rows
from annotation.services.adjudication import adjudication_record

from .common import YES_NO, IdCursorPagination, ProjectScopedMixin, ranking_field, validated, yes_no


class DisputedIn(serializers.Serializer):
    all = serializers.ChoiceField(choices=YES_NO, required=False, help_text="true: adjudicated tasks too.")


class JudgementRowOut(serializers.Serializer):
    id = serializers.IntegerField()
    annotator = serializers.CharField(help_text="Username.")
    ranking = serializers.JSONField(help_text="Groups of response ids, best first.")
    both_bad = serializers.BooleanField()
    answer = serializers.CharField(help_text='As people read it, by response letter in slot order: "B > A".')
    strength = serializers.IntegerField(allow_null=True)
    strength_label = serializers.CharField()
    criteria = serializers.DictField(child=serializers.CharField(), help_text="Criterion key -> answer as text.")
    rationale = serializers.CharField(allow_blank=True)
    seconds = serializers.FloatField(allow_null=True)
    created_at = serializers.DateTimeField()
    is_surplus = serializers.BooleanField()


class AdjudicationOut(serializers.ModelSerializer):
    decided_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = Adjudication
        fields = ["task", "ranking", "note", "decided_by", "created_at", "updated_at"]


class DisputedResponseOut(serializers.Serializer):
    id = serializers.IntegerField(source="response_id")
    position = serializers.IntegerField()
    text = serializers.CharField(source="response.text")
    source_model = serializers.CharField(source="response.source_model")


class DisputedTaskOut(serializers.Serializer):
    id = serializers.IntegerField()
    external_id = serializers.CharField()
    status = serializers.CharField()
    disagreement = serializers.FloatField(help_text="Share of judgements differing from the most common answer.")
    prompt = serializers.CharField(source="prompt.text")
    responses = DisputedResponseOut(source="slots.all", many=True)
    judgements = JudgementRowOut(many=True)
    adjudication = AdjudicationOut(allow_null=True)


class DisputedListApi(ProjectScopedMixin, GenericAPIView):
    """Disputed tasks (more than the project's dispute threshold of judgements differ from the most common
    answer) not yet adjudicated, oldest first, each with every judgement; `?all=true` adds adjudicated ones."""

    read_roles = DATA_ROLES
    serializer_class = DisputedTaskOut
    pagination_class = IdCursorPagination

    @extend_schema(parameters=[DisputedIn], responses=DisputedTaskOut(many=True), summary="Disputed tasks")
    def get(self, request, project_id):
        project = self.get_project()
        params = self.filters(DisputedIn)
        tasks, disagreement = disputed_tasks(project=project, include_adjudicated=bool(yes_no(params.get("all"))))
        page = self.paginate_queryset(tasks)
        rows = [{"id": t.pk, "external_id": t.external_id, "status": t.status, "disagreement": disagreement[t.pk],
                 "prompt": t.prompt, "slots": t.slots, "judgements": judgement_rows(task=t, project=project),
                 "adjudication": getattr(t, "adjudication", None)} for t in page]
        return self.get_paginated_response(DisputedTaskOut(rows, many=True).data)


class AdjudicationIn(serializers.Serializer):
    ranking = ranking_field(help_text="The verdict: groups of response ids, best first (a group is a tie).")
    note = serializers.CharField(max_length=5000, help_text="Why: kept with the verdict.")


class TaskAdjudicationApi(APIView):
    """A project admin records the final verdict on a task (replacing an earlier one)."""

    permission_classes = [IsAuthenticated, HasProjectRole]
    project_roles = MANAGE_ROLES

    def get_project(self):
        if not hasattr(self, "_project"):
            task = Task.objects.filter(pk=self.kwargs["task_id"]).only("id", "project_id").first()
            self._project = project_for_user(user=self.request.user, project_id=task.project_id if task else None)
            self._task = task
        return self._project

    @extend_schema(request=AdjudicationIn, responses={201: AdjudicationOut, 200: AdjudicationOut},
                   summary="Record the verdict on a task")
    def post(self, request, task_id):
        data = validated(AdjudicationIn, request.data)
        self.get_project()
        existed = Adjudication.objects.filter(task_id=self._task.pk).exists()
        adjudication = adjudication_record(task=self._task, user=request.user, **data)
        return Response(AdjudicationOut(adjudication).data, status=status.HTTP_200_OK if existed else status.HTTP_201_CREATED)
