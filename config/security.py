"""Site-wide security pieces the settings point at: the client address behind trusted proxies, and the
login lockout backend (django-axes) that covers /accounts/login/, /admin/login/ and the API token.
"""
from axes.backends import AxesStandaloneBackend
from rest_framework.throttling import BaseThrottle


def client_ip(request) -> str | None:
    """The caller's address, as DRF's throttles see it (settings.VERDICT_TRUSTED_PROXIES → NUM_PROXIES):
    REMOTE_ADDR, or the X-Forwarded-For entry added by the outermost trusted proxy. With no trusted
    proxy the header is ignored, so changing it cannot reset a limit."""
    return BaseThrottle().get_ident(request)


class LockoutBackend(AxesStandaloneBackend):
    """django-axes' lockout check. Code that calls authenticate() without an HTTP request (commands,
    tests) has no client address to count, so it is let through to the next backend instead of failing."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
