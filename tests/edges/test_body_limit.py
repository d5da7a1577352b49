"""Request size limit: a body over MAX_CONTENT_LENGTH is refused (413) without being read (finding 8).

The real-server measurement (a 300 MB body, the worker's memory) is the reliability figure in
tests/reliability/test_body_limit.py; these tests read the same rule through the test client.
"""

from __future__ import annotations

import pytest

from tests.auth.conftest import submit
from tests.edges.bodies import MB, GeneratedBody

#: (path, content type) of the routes the finding names, and a page behind a login.
ROUTES = [
    ("/webhooks/stripe", "application/json"),
    ("/login", "application/x-www-form-urlencoded"),
    ("/users", "application/json"),
    ("/register", "application/x-www-form-urlencoded"),
    ("/account/profile", "application/x-www-form-urlencoded"),
]


@pytest.mark.parametrize(("path", "content_type"), ROUTES)
def test_a_declared_oversized_body_is_refused_before_it_is_read(logged_in, app, path, content_type):
    body = GeneratedBody(20 * MB)
    response = logged_in.post(path, input_stream=body, content_type=content_type)
    assert response.status_code == 413
    assert body.read_bytes == 0
    text = response.get_data(as_text=True)
    assert "too large" in text and "Nothing was saved" in text


@pytest.mark.parametrize(("path", "content_type"), ROUTES)
def test_a_chunked_oversized_body_is_read_only_up_to_the_limit(logged_in, app, path, content_type):
    body = GeneratedBody(20 * MB)
    response = logged_in.post(
        path,
        input_stream=body,
        content_type=content_type,
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},  # as servers set it for chunked bodies
    )
    assert response.status_code == 413
    assert body.read_bytes <= app.config["MAX_CONTENT_LENGTH"]


def test_machines_get_json_and_people_get_a_page(client):
    declared = {"CONTENT_LENGTH": str(2 * MB)}
    webhook = client.post("/webhooks/stripe", json={}, environ_overrides=declared)
    assert webhook.status_code == 413
    assert "too large" in webhook.get_json()["error"]["message"]
    api = client.post("/users", json={}, environ_overrides=declared)
    assert api.status_code == 413 and api.get_json()["success"] is False
    page = client.post("/login", data={"email": "x"}, environ_overrides=declared)
    assert page.status_code == 413 and page.mimetype == "text/html"
    assert "That request is too large" in page.get_data(as_text=True)


def test_one_multipart_field_over_the_field_limit_is_refused(logged_in, app):
    too_long = "a" * (app.config["MAX_FORM_MEMORY_SIZE"] + 1)
    form = {"name": too_long, "email": "x@example.com"}
    response = logged_in.post("/account/profile", data=form, content_type="multipart/form-data")
    assert response.status_code == 413
    assert "too large" in response.get_data(as_text=True)


def test_bodies_within_the_limit_still_work(logged_in, user):
    response = submit(logged_in, "/account/profile", {"name": "Nguyễn Văn An", "email": user.email})
    assert response.status_code == 302
