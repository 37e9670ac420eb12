"""Password guessing is limited per client address and per account on every login path, in the shared
cache, and X-Forwarded-For counts only when VERDICT_TRUSTED_PROXIES says a proxy sets it."""
import pytest
from django.conf import settings
from django.core.cache import caches
from django.test import Client, override_settings
from rest_framework.settings import api_settings

from tests import factories

LIMIT = settings.AXES_FAILURE_LIMIT
PATHS = ["/accounts/login/", "/admin/login/", "/api/v1/auth/token/"]


def attempt(path, username, password, *, addr="203.0.113.7", forwarded=None):
    headers = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {}
    return Client(REMOTE_ADDR=addr, **headers).post(path, {"username": username, "password": password})


def test_the_cache_is_shared_redis():
    assert settings.CACHES["default"]["BACKEND"].endswith("RedisCache")


@pytest.mark.parametrize("path", PATHS)
def test_one_address_is_locked_out_even_when_it_changes_x_forwarded_for(db, path):
    user = factories.UserFactory(is_staff=True)
    for n in range(LIMIT):
        attempt(path, f"guess{n}", "wrong", forwarded=f"10.0.0.{n}")
    locked = attempt(path, user.username, factories.PASSWORD, forwarded="10.9.9.9")
    assert locked.status_code == 429
    assert attempt(path, user.username, factories.PASSWORD, addr="198.51.100.1").status_code in (200, 302)


@pytest.mark.parametrize("path", PATHS)
def test_one_account_is_locked_out_whatever_the_address(db, path):
    user = factories.UserFactory(is_staff=True)
    for n in range(LIMIT):
        attempt(path, user.username, "wrong", addr=f"192.0.2.{n + 1}")
    assert attempt(path, user.username, factories.PASSWORD, addr="198.51.100.2").status_code == 429


def test_a_trusted_proxy_makes_the_forwarded_address_count(db):
    from config.security import client_ip
    from django.test import RequestFactory

    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="1.2.3.4, 5.6.7.8")
    assert api_settings.NUM_PROXIES == settings.VERDICT_TRUSTED_PROXIES == 0
    assert client_ip(request) == "10.0.0.1"
    with override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}):
        assert client_ip(request) == "5.6.7.8"


def test_logging_in_to_your_own_account_does_not_reset_the_address_count(db):
    own, target = factories.UserFactory(), factories.UserFactory()
    path = "/accounts/login/"
    for n in range(LIMIT):
        if n % 3 == 0:
            attempt(path, own.username, factories.PASSWORD)
        attempt(path, f"{target.username}{n}", "wrong")
    assert attempt(path, target.username, factories.PASSWORD).status_code == 429


def test_without_redis_the_lockout_is_counted_in_the_database(db, settings):
    """The embedded default (a file cache) keeps lockouts in the database that every process shares."""
    settings.AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
    user = factories.UserFactory()
    for n in range(LIMIT):
        attempt("/accounts/login/", user.username, "wrong", addr=f"192.0.2.{n + 1}", forwarded="not-an-address")
    assert attempt("/accounts/login/", user.username, factories.PASSWORD, addr="198.51.100.3").status_code == 429
