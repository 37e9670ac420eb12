"""API tokens: POST username + password, get the token for the `Authorization: Token ...` header."""
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.throttling import ScopedRateThrottle


class TokenApi(ObtainAuthToken):
    """POST username + password → {"token": ...} for the `Authorization: Token ...` header.

    The same token every time (it is created on first use); throttled per client address
    (scope "token") against password guessing.
    """

    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "token"
