"""The API's token authentication (settings.REST_FRAMEWORK; kept apart from the views, which DRF's
settings must not import): DRF's tokens, refused past their expiry (VERDICT_TOKEN_TTL_DAYS)."""
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from annotation.services import tokens


class ExpiringTokenAuthentication(TokenAuthentication):
    """DRF's token authentication (settings.REST_FRAMEWORK), refusing tokens past their expiry."""

    def authenticate_credentials(self, key):
        user, token = super().authenticate_credentials(key)
        if tokens.token_expired(token=token):
            raise exceptions.AuthenticationFailed("Token expired: get a new one from /api/v1/auth/token/.")
        return user, token
