"""Site-wide security pieces the settings point at: the client address behind trusted proxies, and the
login lockout backend (django-axes) that covers /accounts/login/, /admin/login/ and the API token.
"""
import ipaddress

from axes.backends import AxesStandaloneBackend
from rest_framework.throttling import BaseThrottle


def client_ip(request) -> str | None:
    """The caller's address, as DRF's throttles see it (settings.VERDICT_TRUSTED_PROXIES → NUM_PROXIES):
    REMOTE_ADDR, or the X-Forwarded-For entry added by the outermost trusted proxy. With no trusted
    proxy the header is ignored, so changing it cannot reset a limit. Not an address → REMOTE_ADDR."""
    ident = BaseThrottle().get_ident(request)
    try:
        return str(ipaddress.ip_address(ident))
    except ValueError:
        return request.META.get("REMOTE_ADDR")


class LockoutBackend(AxesStandaloneBackend):
    """django-axes' lockout check. Code that calls authenticate() without an HTTP request (commands,
    tests) has no client address to count, so it is let through to the next backend instead of failing."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


class BodyTooLarge(Exception):
    def __init__(self, limit: int, setting: str, size: int | None = None):
        self.limit, self.setting, self.size = limit, setting, size
        said = f"The request body is {size:,} bytes" if size is not None else "The request body is too large"
        super().__init__(f"{said}; the limit here is {limit:,} bytes ({setting}).")


class _CappedStream:
    """The request body stream, refusing to give more than `limit` bytes (a body without a
    Content-Length, e.g. chunked, is counted while it is read)."""

    def __init__(self, stream, error: BodyTooLarge):
        self.stream, self.error, self.left = stream, error, error.limit

    def _count(self, data: bytes) -> bytes:
        self.left -= len(data)
        if self.left < 0:
            raise self.error
        return data

    def read(self, *args):
        return self._count(self.stream.read(*args))

    def readline(self, *args):
        return self._count(self.stream.readline(*args))

    def __iter__(self):
        return iter(self.readline, b"")

    def close(self):
        if hasattr(self.stream, "close"):
            self.stream.close()


class BodyLimitMiddleware:
    """413 for a request body over VERDICT_REQUEST_MAX_BYTES, or VERDICT_UPLOAD_MAX_BYTES for views that
    take file uploads (they say so with `max_body_setting = "VERDICT_UPLOAD_MAX_BYTES"`). Decided from
    Content-Length before a byte is read, and enforced again while reading. Listed before
    CsrfViewMiddleware, whose process_view would read the body of every POST first."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        from django.conf import settings

        setting = (getattr(view_func, "max_body_setting", None)
                   or getattr(getattr(view_func, "view_class", None), "max_body_setting", None)
                   or "VERDICT_REQUEST_MAX_BYTES")
        limit = getattr(settings, setting)
        try:
            size = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            size = 0
        if size > limit:
            return self.too_large(request, BodyTooLarge(limit, setting, size))
        request._stream = _CappedStream(request._stream, BodyTooLarge(limit, setting))
        return None

    def process_exception(self, request, exception):
        if isinstance(exception, BodyTooLarge):
            return self.too_large(request, exception)
        return None

    @staticmethod
    def too_large(request, error: BodyTooLarge):
        from django.http import HttpResponse, JsonResponse

        if request.path.startswith("/api/"):
            response = JsonResponse({"error": {"code": "too_large", "message": str(error)}}, status=413)
        else:
            response = HttpResponse(str(error), status=413, content_type="text/plain; charset=utf-8")
        return response
