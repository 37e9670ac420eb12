"""Import jobs: the status of a large upload being imported on a worker (POST .../batches/ answers 202 with one)."""
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from annotation.models import ImportJob
from annotation.permissions import DATA_ROLES, MANAGE_ROLES
from annotation.services.imports.jobs import import_job_live

from .common import ObjectProjectMixin


class ImportJobOut(serializers.ModelSerializer):
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    errors = serializers.ListField(child=serializers.CharField(), help_text='Every problem, as "file:line: field: '
                                                                           'problem"; nothing was written.')
    result = serializers.DictField(child=serializers.IntegerField(), help_text="created, duplicates, lines "
                                                                               "(once succeeded).")

    class Meta:
        model = ImportJob
        fields = ["id", "project", "kind", "pair_format", "filename", "size", "batch_name", "status", "progress",
                  "rows_done", "rows_total", "errors", "result", "batch", "created_by", "created_at", "started_at",
                  "finished_at"]


class ImportJobDetailApi(ObjectProjectMixin, GenericAPIView):
    """A large import's status: progress while it runs, then `batch` and `result`, or `errors`."""

    model = ImportJob
    lookup_kwarg = "job_id"
    read_roles = DATA_ROLES
    write_roles = MANAGE_ROLES
    serializer_class = ImportJobOut

    @extend_schema(responses=ImportJobOut, summary="One import job")
    def get(self, request, job_id):
        return Response(ImportJobOut(import_job_live(self.get_object())).data)
