"""API tokens: a password change revokes them, owners list and revoke their own, optional expiry."""
from datetime import timedelta

from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests import factories


def token_for(user) -> str:
    response = APIClient().post("/api/v1/auth/token/", {"username": user.username, "password": factories.PASSWORD},
                                format="json")
    assert response.status_code == 200, response.content
    return response.json()["token"]


def with_token(key) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_a_password_change_revokes_the_token(db, client):
    user = factories.UserFactory()
    key = token_for(user)
    assert with_token(key).get("/api/v1/projects/").status_code == 200
    user.set_password("a-new-password-1")
    user.save()
    assert with_token(key).get("/api/v1/projects/").status_code == 401
    user.last_name = "unrelated"
    user.save()  # saving without a new password leaves the next token alone
    other = factories.UserFactory()
    other_key = token_for(other)
    other.save(update_fields=["last_login"])
    assert with_token(other_key).get("/api/v1/projects/").status_code == 200


def test_owners_list_and_revoke_their_own_tokens(db):
    user = factories.UserFactory()
    key = token_for(user)
    listed = with_token(key).get("/api/v1/auth/tokens/").json()
    assert [t["prefix"] for t in listed] == [key[:6]] and key not in str(listed)
    assert listed[0]["expires_at"] is None
    assert with_token(key).delete("/api/v1/auth/tokens/").status_code == 204
    assert with_token(key).get("/api/v1/projects/").status_code == 401
    assert token_for(user) != key  # logging in again gives a new one


def test_tokens_expire_when_a_lifetime_is_set(db, settings):
    settings.VERDICT_TOKEN_TTL_DAYS = 30
    user = factories.UserFactory()
    key = token_for(user)
    assert with_token(key).get("/api/v1/auth/tokens/").json()[0]["expires_at"] is not None
    Token.objects.filter(key=key).update(created=timezone.now() - timedelta(days=31))
    expired = with_token(key).get("/api/v1/projects/")
    assert expired.status_code == 401 and "expired" in expired.json()["error"]["message"]
    fresh = token_for(user)
    assert fresh != key and with_token(fresh).get("/api/v1/projects/").status_code == 200
