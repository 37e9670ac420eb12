"""Gold tasks over the API: project admins mark a task as gold with its expected answer, or unmark it."""
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.models import Task
from annotation.permissions import MANAGE_ROLES, HasProjectRole, project_for_user
from annotation.services import gold

from .common import ranking_field, validated


class TaskGoldIn(serializers.Serializer):
    gold_ranking = ranking_field()
    target_judgements = serializers.IntegerField(required=False, min_value=1)


class TaskGoldOut(serializers.ModelSerializer):
    class Meta:
        model = Task
        fields = ["id", "is_gold", "gold_ranking", "target_judgements", "status"]


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

    @extend_schema(request=TaskGoldIn, responses={200: TaskGoldOut}, summary="Mark a task as gold")
    def post(self, request, task_id):
        data = validated(TaskGoldIn, request.data)
        task = gold.task_mark_gold(task=self.get_task(), **data)
        return Response(TaskGoldOut(task).data)

    @extend_schema(request=None, responses={200: TaskGoldOut}, summary="Unmark a gold task")
    def delete(self, request, task_id):
        return Response(TaskGoldOut(gold.task_unmark_gold(task=self.get_task())).data)
