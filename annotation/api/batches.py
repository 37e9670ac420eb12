"""Batches: admins and ML engineers list them; a project admin uploads a task file as a new batch."""
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, generics, serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from annotation.models import Batch
from annotation.permissions import DATA_ROLES, MANAGE_ROLES
from annotation.selectors.batches import batches_with_counts
from annotation.services.imports.common import ImportFailed
from annotation.services.imports.jobs import import_inline, import_job_create
from annotation.services.imports.tasks import tasks_import

from .common import IdCursorPagination, ProjectScopedMixin
from .imports import ImportJobOut


class BatchOut(serializers.ModelSerializer):
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    tasks = serializers.IntegerField(source="task_count", read_only=True)

    class Meta:
        model = Batch
        fields = ["id", "name", "source", "created_by", "created_at", "tasks"]


class BatchUploadIn(serializers.Serializer):
    file = serializers.FileField(help_text="JSONL (optionally gzipped): one task per line, "
                                           '{"prompt": str | messages, "responses": [str | {"text", "model"}], ...}.')
    name = serializers.CharField(max_length=255, required=False, help_text="Batch name; defaults to the file name.")
    pool = serializers.BooleanField(required=False, default=False,
                                    help_text="Put the tasks into the active-learning pool: annotators are not served "
                                              "them until an acquisition round opens them.")


class BatchUploadOut(serializers.Serializer):
    batch = BatchOut(allow_null=True, help_text="null when every row was already in the project (no batch is created).")
    created = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    lines = serializers.IntegerField()
    pii_policy = serializers.CharField(help_text="The project's PII policy the import ran under.")
    pii = serializers.DictField(child=serializers.IntegerField(),
                                help_text="PII values found per kind (masked under mask-import); empty when off.")


class BatchListUploadApi(ProjectScopedMixin, generics.GenericAPIView):
    """Batches: admins and ML engineers list them; a project admin uploads a task file as a new batch.

    The file is JSONL (optionally gzipped). A file with any bad line is rejected whole, with every
    problem listed in `error.fields.file` as "file:line: field: problem".

    A file over VERDICT_IMPORT_INLINE_MAX_BYTES (1 MiB by default) is imported by a worker instead:
    the answer is 202 with an import job; poll `GET /api/v1/import-jobs/{id}/` until its status is
    `succeeded` (with `batch` and `result`) or `failed` (with the same `errors`; nothing written).
    """

    read_roles = DATA_ROLES
    write_roles = MANAGE_ROLES
    serializer_class = BatchOut
    pagination_class = IdCursorPagination
    parser_classes = [MultiPartParser, FormParser]
    max_body_setting = "VERDICT_UPLOAD_MAX_BYTES"  # config.security.BodyLimitMiddleware

    @extend_schema(responses=BatchOut(many=True), summary="Batches of the project")
    def get(self, request, project_id):
        page = self.paginate_queryset(batches_with_counts(project=self.get_project()))
        return self.get_paginated_response(BatchOut(page, many=True).data)

    @extend_schema(request={"multipart/form-data": BatchUploadIn},
                   responses={201: BatchUploadOut, 200: BatchUploadOut, 202: ImportJobOut},
                   summary="Upload a task file as a new batch (all or nothing; a large file as a job)")
    def post(self, request, project_id):
        data = BatchUploadIn(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        if not import_inline(size=upload.size):
            try:
                job = import_job_create(project=self.get_project(), kind="tasks", upload=upload, user=request.user,
                                        batch_name=data.validated_data.get("name"), pool=data.validated_data["pool"])
            except ImportFailed as failed:
                raise exceptions.ValidationError({"name": failed.errors})
            return Response(ImportJobOut(job).data, status=status.HTTP_202_ACCEPTED)
        try:
            result = tasks_import(project=self.get_project(), fileobj=upload, filename=upload.name,
                                  user=request.user, batch_name=data.validated_data.get("name"),
                                  pool=data.validated_data["pool"])
        except ImportFailed as failed:
            raise exceptions.ValidationError({"file": failed.errors})
        batch = result.batch and batches_with_counts(project=result.batch.project).get(pk=result.batch.pk)
        body = {"batch": batch, "created": result.created, "duplicates": result.duplicates, "lines": result.lines,
                "pii_policy": result.pii_policy, "pii": result.pii}
        return Response(BatchUploadOut(body).data, status=status.HTTP_201_CREATED if batch else status.HTTP_200_OK)
