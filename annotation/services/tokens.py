"""API tokens (DRF's one token per user): obtaining with optional expiry, revoking, and revocation when
the password changes (wired in apps.py), so a leaked token dies with the password it came from.

VERDICT_TOKEN_TTL_DAYS > 0 makes a token expire that many days after it was created; 0 (the default)
keeps tokens until revoked.
"""
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from rest_framework.authtoken.models import Token


def token_expires_at(*, token: Token):
    days = settings.VERDICT_TOKEN_TTL_DAYS
    return token.created + timedelta(days=days) if days > 0 else None


def token_expired(*, token: Token) -> bool:
    expires = token_expires_at(token=token)
    return expires is not None and expires <= timezone.now()


def token_obtain(*, user) -> Token:
    """The user's token, created on first use, and replaced by a new one once it has expired."""
    token, _ = Token.objects.get_or_create(user=user)
    if token_expired(token=token):
        token.delete()
        token = Token.objects.create(user=user)
    return token


def token_revoke(*, user) -> int:
    """Deletes the user's API token; the next login through the token endpoint gets a new one."""
    deleted, _ = Token.objects.filter(user=user).delete()
    return deleted


def revoke_on_password_change(sender, instance, update_fields=None, **kwargs) -> None:
    """pre_save of the user model: the stored password hash differs from the one being saved."""
    if instance.pk is None or (update_fields is not None and "password" not in update_fields):
        return
    stored = sender.objects.filter(pk=instance.pk).values_list("password", flat=True).first()
    if stored is not None and stored != instance.password:
        token_revoke(user=instance)
