"""Tasks with their prompt and responses; PATCH sets a task's priority (admins and ML engineers)."""
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, generics, serializers
from rest_framework.response import Response

from annotation.models import Task
from annotation.permissions import DATA_ROLES
from annotation.selectors.tasks import tasks_filter, tasks_with_responses
from annotation.services.tasks import task_set_priority

from .common import YES_NO, IdCursorPagination, PiiMaskedReads, ProjectScopedMixin, id_field, yes_no


class PromptOut(serializers.Serializer):
    id = serializers.IntegerField()
    text = serializers.CharField()
    messages = serializers.JSONField(allow_null=True)


class TaskResponseOut(serializers.Serializer):
    id = serializers.IntegerField(source="response.id")
    position = serializers.IntegerField()
    text = serializers.CharField(source="response.text")
    source_model = serializers.CharField(source="response.source_model")


class TaskOut(serializers.ModelSerializer):
    prompt = PromptOut()
    responses = TaskResponseOut(source="slots", many=True)

    class Meta:
        model = Task
        fields = ["id", "batch", "status", "priority", "target_judgements", "completed_judgements", "is_gold",
                  "gold_ranking", "external_id", "metadata", "created_at", "prompt", "responses"]


class TaskPriorityIn(serializers.Serializer):
    priority = serializers.FloatField(min_value=-1e12, max_value=1e12, help_text="Higher is served first.")


class TaskListIn(serializers.Serializer):
    status = serializers.ChoiceField(choices=Task.Status.choices, required=False)
    batch = id_field(required=False)
    is_gold = serializers.ChoiceField(choices=YES_NO, required=False)
    min_priority = serializers.FloatField(required=False)


class TaskListApi(PiiMaskedReads, ProjectScopedMixin, generics.GenericAPIView):
    """Tasks with prompt and responses, oldest first (project admins and ML engineers)."""

    read_roles = DATA_ROLES
    serializer_class = TaskOut
    pagination_class = IdCursorPagination

    @extend_schema(parameters=[TaskListIn], responses=TaskOut(many=True), summary="Tasks, filtered")
    def get(self, request, project_id):
        f = self.filters(TaskListIn)
        tasks = tasks_filter(project=self.get_project(), status=f.get("status"), batch_id=f.get("batch"),
                             is_gold=yes_no(f.get("is_gold")), min_priority=f.get("min_priority"))
        page = self.paginate_queryset(tasks)
        return self.get_paginated_response(self.out(TaskOut(page, many=True).data))


class TaskDetailApi(PiiMaskedReads, ProjectScopedMixin, generics.GenericAPIView):
    """One task; PATCH sets its priority (project admins and ML engineers; higher is served first)."""

    read_roles = DATA_ROLES
    write_roles = DATA_ROLES  # priority: admins by hand, ML engineers from active-learning scripts
    serializer_class = TaskOut

    def get_task(self) -> Task:
        try:
            return tasks_with_responses(project=self.get_project()).get(pk=self.kwargs["task_id"])
        except Task.DoesNotExist:
            raise exceptions.NotFound("No such task in this project.")

    @extend_schema(responses=TaskOut, summary="One task with its prompt and responses")
    def get(self, request, project_id, task_id):
        return Response(self.out(TaskOut(self.get_task()).data))

    @extend_schema(request=TaskPriorityIn, responses=TaskOut, summary="Set a task's priority")
    def patch(self, request, project_id, task_id):
        task = self.get_task()
        data = TaskPriorityIn(data=request.data)
        data.is_valid(raise_exception=True)
        task_set_priority(task=task, priority=data.validated_data["priority"])
        return Response(self.out(TaskOut(self.get_task()).data))
