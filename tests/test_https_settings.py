"""HTTPS behind a setting: SSL redirect + HSTS, and X-Forwarded-Proto believed only from a trusted proxy."""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHECK = textwrap.dedent("""
    import django
    django.setup()
    from django.test import Client
    plain = Client().get("/accounts/login/")
    proxied = Client().get("/accounts/login/", HTTP_X_FORWARDED_PROTO="https")
    print(plain.status_code, plain.get("Location"), proxied.status_code, proxied.get("Strict-Transport-Security"))
""")


def run(**env) -> str:
    base = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECURE_SSL_REDIRECT", "VERDICT_TRUSTED_PROXIES"}}
    env = {**base, "DJANGO_SETTINGS_MODULE": "config.settings.test", "ALLOWED_HOSTS": "testserver", **env}
    return subprocess.run([sys.executable, "-c", CHECK], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=True).stdout.split()


def test_ssl_redirect_and_hsts_follow_the_settings_and_the_trusted_proxy():
    assert run() == ["200", "None", "200", "None"]  # off by default
    assert run(SECURE_SSL_REDIRECT="1", VERDICT_TRUSTED_PROXIES="1") == [
        "301", "https://testserver/accounts/login/", "200", "max-age=31536000"]
    # No trusted proxy: a client's own X-Forwarded-Proto does not make plain HTTP count as HTTPS.
    assert run(SECURE_SSL_REDIRECT="1")[:3] == ["301", "https://testserver/accounts/login/", "301"]
