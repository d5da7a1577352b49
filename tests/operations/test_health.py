"""/healthz (the process answers) and /readyz (it can serve pages: database, Redis when configured)."""

from __future__ import annotations

import os

import pytest

from portal import create_app
from tests.conftest import both_engines
from tests.smtp import free_port

REDIS_URL = os.environ.get("TEST_OPERATIONS_REDIS_URL", "redis://127.0.0.1:6379/15")


def test_healthz_answers_without_a_session(client):
    response = client.get("/healthz")
    assert (response.status_code, response.json) == (200, {"status": "ok"})
    assert "Set-Cookie" not in response.headers


@both_engines
def test_readyz_is_ready_when_the_database_answers(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json == {"status": "ready", "checks": {"database": "ok"}}
    assert "Set-Cookie" not in response.headers


@pytest.mark.parametrize(
    "database_url",
    [
        "sqlite:////nonexistent-directory/closed/portal.sqlite",
        "postgresql://postgres@127.0.0.1:{port}/portal",  # nothing listens there
    ],
)
def test_readyz_is_503_naming_the_database_when_it_cannot_be_reached(database_url, sandbox):
    app = create_app(
        "testing", SQLALCHEMY_DATABASE_URI=database_url.format(port=free_port()), STRIPE_API_BASE=sandbox.url
    )
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["status"] == "not_ready"
    assert response.json["checks"]["database"].startswith("failed: ")


def test_redis_is_a_condition_when_the_throttles_count_there(app_factory):
    response = app_factory(RATELIMIT_STORAGE_URI=REDIS_URL).test_client().get("/readyz")
    assert (response.status_code, response.json["checks"]) == (200, {"database": "ok", "redis": "ok"})


def test_readyz_is_503_naming_redis_when_it_is_down(app_factory):
    down = f"redis://127.0.0.1:{free_port()}/15"
    response = app_factory(RATELIMIT_STORAGE_URI=down).test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"]["database"] == "ok"
    assert response.json["checks"]["redis"].startswith("failed: ")
    assert "127.0.0.1" not in response.get_data(as_text=True)  # no address, no password, only what failed


def test_stripe_down_is_not_a_readiness_condition(app_factory):
    app = app_factory(STRIPE_API_BASE=f"http://127.0.0.1:{free_port()}")
    assert app.test_client().get("/readyz").status_code == 200


def test_a_database_that_does_not_answer_in_time_is_503_within_the_timeout(app_factory, monkeypatch):
    import time

    from portal.main import readiness

    monkeypatch.setattr(readiness, "_database", lambda engine, timeout: time.sleep(3))
    app = app_factory(READINESS_TIMEOUT_SECONDS=0.3)
    started = time.monotonic()
    response = app.test_client().get("/readyz")
    assert time.monotonic() - started < 2
    assert (response.status_code, response.json["checks"]["database"]) == (503, "no answer within 0.3 s")


def test_probes_are_never_throttled(app_factory, monkeypatch):
    """Even under a limit on every route, which the landing page soon hits."""
    from portal.extensions import limiter

    # The limiter is one object for every app of the process: the limit ends with this test.
    monkeypatch.setattr(limiter.limit_manager, "_application_limits", [])
    app = app_factory(RATELIMIT_APPLICATION="2 per minute", RATELIMIT_STORAGE_URI="memory://")
    client = app.test_client()
    assert [client.get("/").status_code for _ in range(3)] == [200, 200, 429]
    assert {
        client.get(path).status_code for path in ("/healthz", "/readyz", "/metrics") for _ in range(5)
    } == {200}
