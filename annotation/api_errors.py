"""One JSON error shape for the whole API: {"error": {"code", "message", "fields"?}}."""
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions
from rest_framework.views import exception_handler as drf_exception_handler

from .judging import AssignmentConflict, JudgementInvalid


class InvalidInput(exceptions.APIException):
    status_code = 400
    default_code = "invalid"


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
