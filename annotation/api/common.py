"""What every API module shares: the one error shape and its 400/409 classes, the exception handler
(settings.REST_FRAMEWORK["EXCEPTION_HANDLER"]), id-ordered cursor pagination, id fields, the
project-scope mixin and the "validate or 400 with a specific message" helper.

rewardtrain's API imports these from here, never from a resource module.

Errors: {"error": {"code", "message", "fields"?}}.
"""
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions, serializers
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import JSONParser as DrfJSONParser
from rest_framework.permissions import SAFE_METHODS, IsAuthenticated
from rest_framework.views import exception_handler as drf_exception_handler

from annotation.parsing import ascii_int
from annotation.permissions import DATA_ROLES, MANAGE_ROLES, HasProjectRole, ProjectFromUrl, Role, project_for_user
from annotation.services.judgements import AssignmentConflict, JudgementInvalid


class InvalidInput(exceptions.APIException):
    """The one 400 of the API: the input is wrong, and the message says how."""

    status_code = 400
    default_code = "invalid"
    default_detail = "Invalid input."


class Conflict(exceptions.APIException):
    status_code = 409
    default_code = "conflict"


def _message(detail) -> str:
    if isinstance(detail, dict):
        return "Invalid input."
    if isinstance(detail, list):
        return "; ".join(str(d) for d in detail)
    return str(detail)


def exception_handler(exc, context):
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "Not found.")
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or "Permission denied.")
    elif isinstance(exc, JudgementInvalid):  # the answer itself is wrong
        exc = InvalidInput(str(exc))
    elif isinstance(exc, AssignmentConflict):  # the lease's state forbids the action
        exc = Conflict(str(exc))
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    detail = response.data
    code = getattr(exc, "default_code", "error")
    if isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        if isinstance(codes, str):
            code = codes
    body = {"error": {"code": code, "message": _message(detail.get("detail", detail) if isinstance(detail, dict) else detail)}}
    if isinstance(detail, (dict, list)) and not (isinstance(detail, dict) and set(detail) == {"detail"}):
        body["error"]["fields"] = detail
    response.data = body
    return response


class JSONParser(DrfJSONParser):
    """DRF's JSON parser (settings.REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]), with nesting too deep for
    Python's decoder reported as the malformed input it is, not a 500."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError("JSON parse error - nested too deeply.")


MAX_ID = 2**63 - 1  # PostgreSQL bigint: larger ids cannot exist, and must not reach the database
YES_NO = ["true", "false"]


def yes_no(value: str | None) -> bool | None:
    """A YES_NO query parameter as a bool; None when it was not given."""
    return None if value is None else value == "true"


def id_field(**kwargs) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, **kwargs)


class DateRangeIn(serializers.Serializer):
    since = serializers.DateField(required=False, help_text="Recorded on or after this date.")
    until = serializers.DateField(required=False, help_text="Recorded on or before this date.")


ANY_ROLE = tuple(Role.values)


class IdCursorPagination(CursorPagination):
    """Stable for scripts that page through millions of rows: by id, oldest first. A cursor that this
    class did not write (bad encoding, a position that is no id) is a 400, never a database error."""

    ordering = "id"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000

    def decode_cursor(self, request):
        try:
            cursor = super().decode_cursor(request)
        except exceptions.NotFound:
            raise InvalidInput(self.invalid_cursor_message)
        if cursor is not None and cursor.position is not None and ascii_int(cursor.position) is None:
            raise InvalidInput(self.invalid_cursor_message)
        return cursor


class ProjectScopedMixin(ProjectFromUrl):
    """A view under /projects/{project_id}/: 404 for non-members, then the role check of the method."""

    permission_classes = [IsAuthenticated, HasProjectRole]
    read_roles: tuple = ANY_ROLE
    write_roles: tuple = MANAGE_ROLES

    def check_permissions(self, request):
        # An operation the endpoint does not have is 405 for everyone signed in, before the role check
        # (which would otherwise tell an ML engineer "needs Project admin" for a PATCH no one can make).
        method = request.method.lower()
        if request.user.is_authenticated and (method not in self.http_method_names or not hasattr(self, method)):
            self.http_method_not_allowed(request)
        super().check_permissions(request)

    @property
    def project_roles(self) -> tuple:
        return self.read_roles if self.request.method in SAFE_METHODS else self.write_roles

    def filters(self, serializer_class) -> dict:
        params = serializer_class(data=self.request.query_params)
        params.is_valid(raise_exception=True)
        return params.validated_data


class ObjectProjectMixin:
    """A view of one row outside /projects/ (a job, a run, a model): the row's project decides (404 for
    non-members, then the role check of the method). Set `model` and `lookup_kwarg`."""

    permission_classes = [IsAuthenticated, HasProjectRole]
    read_roles: tuple = DATA_ROLES
    write_roles: tuple = (Role.ML,)
    model = None
    lookup_kwarg = ""

    @property
    def project_roles(self) -> tuple:
        return self.read_roles if self.request.method in SAFE_METHODS else self.write_roles

    def get_object(self):
        if not hasattr(self, "_object"):
            obj = self.model.objects.filter(pk=self.kwargs[self.lookup_kwarg]).first()
            if obj is None:
                raise exceptions.NotFound(f"No such {self.model._meta.verbose_name}.")
            self._project = project_for_user(user=self.request.user, project_id=obj.project_id)
            self._object = obj
        return self._object

    def get_project(self):
        self.get_object()
        return self._project


class PiiMaskedReads:
    """Views that return stored prompt and response text: under the mask-export PII policy, callers who
    are not project admins get it masked (annotation.pii.services.reads_masked_for)."""

    def out(self, data):
        from annotation.pii.services import masked_out, reads_masked_for

        return masked_out(data) if reads_masked_for(project=self.get_project(), user=self.request.user) else data


def ranking_field(**kwargs) -> serializers.ListField:
    group = serializers.ListField(child=serializers.IntegerField(), allow_empty=False)
    return serializers.ListField(child=group, **kwargs)


def errors_flatten(errors, prefix="") -> str:
    """The first serializer error as "field[0]: message", so clients get a specific message."""
    if isinstance(errors, dict):
        key, value = next(iter(errors.items()))
        name = f"{prefix}[{key}]" if isinstance(key, int) else (f"{prefix}.{key}" if prefix else str(key))
        return errors_flatten(value, name)
    if isinstance(errors, list) and errors:
        return errors_flatten(errors[0], prefix)
    return f"{prefix}: {errors}" if prefix else str(errors)


def validated(serializer_class, data) -> dict:
    """The serializer's validated data, or InvalidInput naming the first bad field."""
    serializer = serializer_class(data=data)
    if not serializer.is_valid():
        raise InvalidInput(errors_flatten(serializer.errors))
    return serializer.validated_data
