"""Request bodies are capped for every endpoint (413 naming the limit and its setting), uploads get
their own larger cap, and an oversized body is refused from its Content-Length before it is read."""
import io
import socket

import pytest
from django.test import Client

from tests import factories
from tests.annotation.api.test_resources import client_for


@pytest.fixture
def small_limits(settings):
    settings.VERDICT_REQUEST_MAX_BYTES = 10_000
    settings.VERDICT_UPLOAD_MAX_BYTES = 50_000


def test_an_anonymous_login_post_over_the_limit_is_413(db, small_limits):
    response = Client().post("/accounts/login/", {"username": "x", "password": "y" * 20_000})
    assert response.status_code == 413
    assert "10,000 bytes (VERDICT_REQUEST_MAX_BYTES)" in response.content.decode()


def test_api_bodies_over_the_limit_are_413_in_the_error_shape(project, annotator, small_limits):
    response = client_for(annotator).post("/api/v1/auth/token/", {"username": "x" * 20_000}, format="json")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"


def test_uploads_have_their_own_cap_on_the_api_and_the_page(client, project, project_admin, small_limits):
    rows = factories.jsonl([{"prompt": f"Q{i}?" + "x" * 100, "responses": ["a", "b"]} for i in range(100)])
    assert 10_000 < len(rows) < 50_000
    upload = io.BytesIO(rows)
    upload.name = "ok.jsonl"
    assert client_for(project_admin).post(f"/api/v1/projects/{project.pk}/batches/", {"file": upload},
                                          format="multipart").status_code == 201
    big = io.BytesIO(rows * 5)
    big.name = "big.jsonl"
    response = client_for(project_admin).post(f"/api/v1/projects/{project.pk}/batches/", {"file": big},
                                              format="multipart")
    assert response.status_code == 413 and "VERDICT_UPLOAD_MAX_BYTES" in response.json()["error"]["message"]
    client.force_login(project_admin)
    big.seek(0)
    page = client.post(f"/projects/{project.pk}/import/", {"kind": "tasks", "file": big})
    assert page.status_code == 413 and "50,000 bytes (VERDICT_UPLOAD_MAX_BYTES)" in page.content.decode()


def test_a_huge_content_length_is_refused_before_the_body_is_sent(live_server):
    host, port = live_server.thread.host, live_server.thread.port
    with socket.create_connection((host, port), timeout=20) as sock:
        sock.sendall(b"POST /accounts/login/ HTTP/1.1\r\nHost: localhost\r\n"
                     b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 200000000\r\n\r\nusername=x")
        answer = ""
        while "MAX_BYTES" not in answer and (part := sock.recv(4096)):
            answer += part.decode("latin-1")
    assert answer.startswith("HTTP/1.1 413"), answer[:200]
    assert "VERDICT_REQUEST_MAX_BYTES" in answer
