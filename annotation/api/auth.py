"""API tokens: POST username + password, get the token for the `Authorization: Token ...` header; see and
revoke your own token; optional expiry (VERDICT_TOKEN_TTL_DAYS, see annotation/services/tokens.py)."""
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from annotation.services import tokens


class TokenApi(ObtainAuthToken):
    """POST username + password → {"token": ...} for the `Authorization: Token ...` header.

    The same token every time until it is revoked (a password change revokes it) or expires; throttled
    per client address (scope "token"), and locked out like the login pages after repeated failures
    (django-axes).
    """

    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "token"

    def post(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        try:
            serializer.is_valid(raise_exception=True)
        except exceptions.ValidationError:
            # axes marks the DRF request it was given; its middleware only sees Django's request.
            if getattr(request, "axes_locked_out", False):
                raise exceptions.Throttled(detail="Too many failed logins: try again later.")
            raise
        token = tokens.token_obtain(user=serializer.validated_data["user"])
        return Response({"token": token.key})


class TokenOut(serializers.Serializer):
    prefix = serializers.SerializerMethodField(help_text="The first characters of the key, to recognise it.")
    created = serializers.DateTimeField()
    expires_at = serializers.SerializerMethodField()

    def get_prefix(self, token) -> str:
        return token.key[:6]

    def get_expires_at(self, token) -> str | None:
        expires = tokens.token_expires_at(token=token)
        return serializers.DateTimeField().to_representation(expires) if expires else None


class TokenMineApi(APIView):
    """Your own API tokens: list them (never the key itself) or revoke them."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=TokenOut(many=True), summary="Your API tokens")
    def get(self, request):
        return Response(TokenOut(Token.objects.filter(user=request.user), many=True).data)

    @extend_schema(request=None, responses={204: None}, summary="Revoke your API tokens")
    def delete(self, request):
        tokens.token_revoke(user=request.user)
        return Response(status=204)
