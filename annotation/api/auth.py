"""API tokens: POST username + password, get the token for the `Authorization: Token ...` header."""
from rest_framework import exceptions
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.throttling import ScopedRateThrottle


class TokenApi(ObtainAuthToken):
    """POST username + password → {"token": ...} for the `Authorization: Token ...` header.

    The same token every time (it is created on first use); throttled per client address
    (scope "token"), and locked out like the login pages after repeated failures (django-axes).
    """

    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "token"

    def post(self, request, *args, **kwargs):
        try:
            return super().post(request, *args, **kwargs)
        except exceptions.ValidationError:
            # axes marks the DRF request it was given; its middleware only sees Django's request.
            if getattr(request, "axes_locked_out", False):
                raise exceptions.Throttled(detail="Too many failed logins: try again later.")
            raise
