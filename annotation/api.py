"""The resource API: projects, rubrics, batches, tasks, judgements and preference pairs.

Role rules (non-members get 404 for anything under a project, so ids do not leak):
- projects, project detail, rubrics (read): any member
- rubrics (create a new version), batches (upload): project admin
- batches, tasks, pairs (read): project admin or ML engineer
- task priority: project admin or ML engineer (active learning and ML scripts set priorities)
- judgements (read): any member; an annotator sees only their own
"""
from django.db.models import Count, Prefetch, Q
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, generics, status
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import SAFE_METHODS, IsAuthenticated
from rest_framework.response import Response

from . import api_serializers as s
from . import services
from .importers import ImportFailed, import_tasks
from .models import Batch, Judgement, PreferencePair, Project, Rubric, Task, TaskSlot
from .permissions import (DATA_ROLES, MANAGE_ROLES, HasProjectRole, ProjectFromUrl, Role,
                          user_roles, visible_projects)

ANY_ROLE = tuple(Role.values)


class BadRequest(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "bad_request"
    default_detail = "Bad request."


class IdCursorPagination(CursorPagination):
    """Stable for scripts that page through millions of rows: by id, oldest first."""

    ordering = "id"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


class ProjectScopedMixin(ProjectFromUrl):
    """A view under /projects/{project_id}/: 404 for non-members, then the role check of the method."""

    permission_classes = [IsAuthenticated, HasProjectRole]
    read_roles: tuple = ANY_ROLE
    write_roles: tuple = MANAGE_ROLES

    @property
    def project_roles(self) -> tuple:
        return self.read_roles if self.request.method in SAFE_METHODS else self.write_roles

    def filters(self, serializer_class) -> dict:
        params = serializer_class(data=self.request.query_params)
        params.is_valid(raise_exception=True)
        return params.validated_data


def _yes(value: str) -> bool:
    return value == "true"


# --- projects ----------------------------------------------------------------------------------

class ProjectList(generics.ListAPIView):
    """Projects the caller is a member of, with the caller's roles in each."""

    serializer_class = s.ProjectOut
    pagination_class = IdCursorPagination

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Project.objects.none()
        return visible_projects(user=self.request.user)


class ProjectDetail(ProjectScopedMixin, generics.RetrieveAPIView):
    """One project's settings and the caller's roles (any member)."""

    serializer_class = s.ProjectOut

    def get_object(self):
        return self.get_project()


# --- rubrics -----------------------------------------------------------------------------------

class RubricListCreate(ProjectScopedMixin, generics.GenericAPIView):
    """Rubric versions: any member reads them; a project admin creates a new version.

    A version that judgements use is never edited in place, so there is no update endpoint.
    """

    serializer_class = s.RubricOut

    @extend_schema(responses=s.RubricOut(many=True), summary="Rubric versions, newest first")
    def get(self, request, project_id):
        rubrics = (Rubric.objects.filter(project=self.get_project()).select_related("project")
                   .prefetch_related("criteria").order_by("-version"))
        return Response(s.RubricOut(rubrics, many=True).data)

    @extend_schema(request=s.RubricIn, responses={201: s.RubricOut}, summary="Create a new rubric version")
    def post(self, request, project_id):
        data = s.RubricIn(data=request.data)
        data.is_valid(raise_exception=True)
        rubric = services.rubric_create(project=self.get_project(), **data.validated_data)
        return Response(s.RubricOut(rubric).data, status=status.HTTP_201_CREATED)


# --- batches -----------------------------------------------------------------------------------

class BatchListUpload(ProjectScopedMixin, generics.GenericAPIView):
    """Batches: admins and ML engineers list them; a project admin uploads a task file as a new batch.

    The file is JSONL (optionally gzipped). A file with any bad line is rejected whole, with every
    problem listed in `error.fields.file` as "file:line: field: problem".
    """

    read_roles = DATA_ROLES
    write_roles = MANAGE_ROLES
    serializer_class = s.BatchOut
    pagination_class = IdCursorPagination
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(responses=s.BatchOut(many=True), summary="Batches of the project")
    def get(self, request, project_id):
        batches = (Batch.objects.filter(project=self.get_project()).select_related("created_by")
                   .annotate(task_count=Count("tasks")))
        page = self.paginate_queryset(batches)
        return self.get_paginated_response(s.BatchOut(page, many=True).data)

    @extend_schema(request={"multipart/form-data": s.BatchUploadIn}, responses={201: s.BatchUploadOut},
                   summary="Upload a task file as a new batch (all or nothing)")
    def post(self, request, project_id):
        data = s.BatchUploadIn(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        try:
            result = import_tasks(project=self.get_project(), fileobj=upload, filename=upload.name,
                                  user=request.user, batch_name=data.validated_data.get("name"))
        except ImportFailed as failed:
            raise exceptions.ValidationError({"file": failed.errors})
        batch = Batch.objects.annotate(task_count=Count("tasks")).select_related("created_by").get(pk=result.batch.pk)
        body = {"batch": batch, "created": result.created, "duplicates": result.duplicates, "lines": result.lines}
        return Response(s.BatchUploadOut(body).data, status=status.HTTP_201_CREATED)


# --- tasks -------------------------------------------------------------------------------------

def _tasks(project: Project):
    slots = TaskSlot.objects.select_related("response").order_by("position")
    return (Task.objects.filter(project=project).select_related("prompt")
            .prefetch_related(Prefetch("slots", queryset=slots)))


class TaskList(ProjectScopedMixin, generics.GenericAPIView):
    """Tasks with prompt and responses, oldest first (project admins and ML engineers)."""

    read_roles = DATA_ROLES
    serializer_class = s.TaskOut
    pagination_class = IdCursorPagination

    @extend_schema(parameters=[s.TaskFilter], responses=s.TaskOut(many=True), summary="Tasks, filtered")
    def get(self, request, project_id):
        f = self.filters(s.TaskFilter)
        tasks = _tasks(self.get_project())
        if "status" in f:
            tasks = tasks.filter(status=f["status"])
        if "batch" in f:
            tasks = tasks.filter(batch_id=f["batch"])
        if "is_gold" in f:
            tasks = tasks.filter(is_gold=_yes(f["is_gold"]))
        if "min_priority" in f:
            tasks = tasks.filter(priority__gte=f["min_priority"])
        page = self.paginate_queryset(tasks)
        return self.get_paginated_response(s.TaskOut(page, many=True).data)


class TaskDetail(ProjectScopedMixin, generics.GenericAPIView):
    """One task; PATCH sets its priority (project admins and ML engineers; higher is served first)."""

    read_roles = DATA_ROLES
    write_roles = DATA_ROLES  # priority: admins by hand, ML engineers from active-learning scripts
    serializer_class = s.TaskOut

    def get_task(self) -> Task:
        try:
            return _tasks(self.get_project()).get(pk=self.kwargs["task_id"])
        except Task.DoesNotExist:
            raise exceptions.NotFound("No such task in this project.")

    @extend_schema(responses=s.TaskOut, summary="One task with its prompt and responses")
    def get(self, request, project_id, task_id):
        return Response(s.TaskOut(self.get_task()).data)

    @extend_schema(request=s.TaskPriorityIn, responses=s.TaskOut, summary="Set a task's priority")
    def patch(self, request, project_id, task_id):
        task = self.get_task()
        data = s.TaskPriorityIn(task, data=request.data)
        data.is_valid(raise_exception=True)
        data.save()
        return Response(s.TaskOut(self.get_task()).data)


# --- judgements and pairs ----------------------------------------------------------------------

def _date_range(qs, f: dict):
    if "since" in f:
        qs = qs.filter(created_at__date__gte=f["since"])
    if "until" in f:
        qs = qs.filter(created_at__date__lte=f["until"])
    return qs


class JudgementList(ProjectScopedMixin, generics.GenericAPIView):
    """Judgements, oldest first. Admins and ML engineers see all; an annotator sees only their own."""

    serializer_class = s.JudgementOut
    pagination_class = IdCursorPagination

    def judgements(self):
        project = self.get_project()
        qs = Judgement.objects.filter(task__project=project).select_related("annotator", "rubric")
        if not user_roles(user=self.request.user, project=project) & set(DATA_ROLES):
            qs = qs.filter(annotator=self.request.user)  # annotators see their own work only
        return qs

    @extend_schema(parameters=[s.JudgementFilter], responses=s.JudgementOut(many=True),
                   summary="Judgements (an annotator sees only their own)")
    def get(self, request, project_id):
        f = self.filters(s.JudgementFilter)
        qs = _date_range(self.judgements(), f)
        if "task" in f:
            qs = qs.filter(task_id=f["task"])
        if "annotator" in f:
            qs = qs.filter(annotator_id=f["annotator"])
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(s.JudgementOut(page, many=True).data)


class JudgementDetail(JudgementList):
    pagination_class = None

    @extend_schema(responses=s.JudgementOut, summary="One judgement")
    def get(self, request, project_id, judgement_id):
        judgement = self.judgements().filter(pk=judgement_id).first()
        if judgement is None:
            raise exceptions.NotFound("No such judgement.")
        return Response(s.JudgementOut(judgement).data)


class PairList(ProjectScopedMixin, generics.GenericAPIView):
    """Preference pairs (human and imported), oldest first (project admins and ML engineers)."""

    read_roles = DATA_ROLES
    serializer_class = s.PairOut
    pagination_class = IdCursorPagination

    @extend_schema(parameters=[s.PairFilter], responses=s.PairOut(many=True), summary="Preference pairs, filtered")
    def get(self, request, project_id):
        f = self.filters(s.PairFilter)
        qs = _date_range(PreferencePair.objects.filter(project=self.get_project())
                         .select_related("prompt", "chosen", "rejected"), f)
        if "source" in f:
            qs = qs.filter(source=f["source"])
        if "criterion" in f:
            qs = qs.filter(criterion="" if f["criterion"] in ("", "overall") else f["criterion"])
        if "batch" in f:
            qs = qs.filter(Q(batch_id=f["batch"]) | Q(judgement__task__batch_id=f["batch"]))
        if "judgement" in f:
            qs = qs.filter(judgement_id=f["judgement"])
        if "is_tie" in f:
            qs = qs.filter(is_tie=_yes(f["is_tie"]))
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(s.PairOut(page, many=True).data)


class PairDetail(ProjectScopedMixin, generics.GenericAPIView):
    """One preference pair (project admins and ML engineers)."""

    read_roles = DATA_ROLES
    serializer_class = s.PairOut

    @extend_schema(responses=s.PairOut, summary="One preference pair")
    def get(self, request, project_id, pair_id):
        pair = (PreferencePair.objects.filter(project=self.get_project(), pk=pair_id)
                .select_related("prompt", "chosen", "rejected").first())
        if pair is None:
            raise exceptions.NotFound("No such pair.")
        return Response(s.PairOut(pair).data)
