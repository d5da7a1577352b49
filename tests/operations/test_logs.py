"""LOG_FORMAT=json: one JSON line per request and per log record, each carrying the request's id."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging

import pytest

from tests.conftest import extract_csrf

REQUEST_ID = "req-0123456789abcdef"


@pytest.fixture
def app_overrides() -> dict:
    # Behind a proxy, which sends the request's id: the id is the proxy's (see the last tests).
    return {"LOG_FORMAT": "json", "TRUSTED_PROXIES": 1}


@pytest.fixture
def log_lines(app):
    """What the JSON handler the app installed writes, line by line (parsed: each must be JSON)."""
    root = logging.getLogger()
    handler = next(h for h in root.handlers if getattr(h, "_portal_handler", False))
    stream = io.StringIO()
    handler.setStream(stream)
    level = root.level

    def lines() -> list[dict]:
        return [json.loads(line) for line in stream.getvalue().splitlines()]

    yield lines
    root.removeHandler(handler)
    root.setLevel(level)


def _request_lines(lines: list[dict]) -> list[dict]:
    return [line for line in lines if line["logger"] == "portal.access"]


def test_each_request_writes_one_json_line_with_its_id(client, log_lines):
    response = client.get("/login", headers={"X-Request-ID": REQUEST_ID})
    assert response.headers["X-Request-ID"] == REQUEST_ID
    [line] = _request_lines(log_lines())
    assert line["request_id"] == REQUEST_ID
    assert (line["method"], line["route"], line["path"], line["status"]) == ("GET", "/login", "/login", 200)
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["user_id"] is None and line["level"] == "INFO" and "time" in line


def test_an_unsafe_request_id_is_replaced_by_a_new_one(client, log_lines):
    response = client.get("/login", headers={"X-Request-ID": 'x" injected=1'})
    generated = response.headers["X-Request-ID"]
    assert generated != 'x" injected=1' and len(generated) == 32
    assert _request_lines(log_lines())[0]["request_id"] == generated
    assert client.get("/login").headers["X-Request-ID"] != generated  # none sent: a fresh one each time


def test_the_stripe_call_logs_of_a_request_carry_its_id_and_the_user(logged_in, user, log_lines):
    csrf = extract_csrf(logged_in.get("/account").get_data(as_text=True))
    logged_in.post(
        "/account/cards/setup-intent",
        headers={"HX-Request": "true", "X-CSRFToken": csrf, "X-Request-ID": REQUEST_ID},
    )
    lines = log_lines()
    [stripe_line] = [line for line in lines if line["logger"] == "portal.gateway"]
    assert stripe_line["request_id"] == REQUEST_ID
    assert "op=setup_intent.create" in stripe_line["message"]
    [request_line] = [line for line in _request_lines(lines) if line["request_id"] == REQUEST_ID]
    assert (request_line["route"], request_line["user_id"]) == ("/account/cards/setup-intent", user.id)


def test_a_link_token_in_the_path_is_redacted_in_the_request_line(client, log_lines):
    client.get("/reset-password/eyJ1c2VyIjo0Mn0.aBcDeF.sIgNaTuReSiGnAtUrE012345")
    [line] = _request_lines(log_lines())
    assert line["path"] == "/reset-password/[redacted]"
    assert "sIgNaTuRe" not in json.dumps(log_lines())


def test_probes_and_scrapes_write_no_request_line(client, log_lines):
    for path in ("/healthz", "/readyz", "/metrics"):
        assert client.get(path).status_code == 200
    assert _request_lines(log_lines()) == []


def test_other_records_are_json_lines_too(app, log_lines):
    with app.test_request_context(headers={"X-Request-ID": REQUEST_ID}):
        app.preprocess_request()
        logging.getLogger("portal.webhooks").warning("something %s", "happened", extra={"event_id": "evt_1"})
    [line] = [line for line in log_lines() if line["logger"] == "portal.webhooks"]
    assert (line["message"], line["level"], line["event_id"], line["request_id"]) == (
        "something happened",
        "WARNING",
        "evt_1",
        REQUEST_ID,
    )


def test_the_default_format_stays_readable_and_still_returns_a_request_id(app_factory):
    app = app_factory()
    assert app.config["LOG_FORMAT"] == "text"
    assert not [h for h in logging.getLogger().handlers if getattr(h, "_portal_handler", False)]
    assert len(app.test_client().get("/healthz").headers["X-Request-ID"]) == 32


def test_gunicorn_access_log_skips_the_probes_and_scrapes(capsys):
    """The default (text) format keeps gunicorn's access log, without a line per probe."""
    from types import SimpleNamespace

    from gunicorn.config import Config

    from portal.access_log import TokenRedactingLogger

    config = Config()
    config.set("accesslog", "-")
    logger = TokenRedactingLogger(config)
    response = SimpleNamespace(status="200 OK", headers=[], sent=2, response_length=2)
    for path in ("/healthz", "/readyz", "/metrics", "/login"):
        environ = {
            "PATH_INFO": path,
            "QUERY_STRING": "",
            "REQUEST_METHOD": "GET",
            "RAW_URI": path,
            "SERVER_PROTOCOL": "HTTP/1.1",
        }
        request = SimpleNamespace(headers=[], method="GET", path=path, query="", uri=path, version=(1, 1))
        logger.access(response, request, environ, dt.timedelta(seconds=0.01))
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and "GET /login" in lines[0]


def test_a_request_refused_before_any_view_still_has_its_id_and_line(client, log_lines):
    response = client.post(
        "/login",
        data=b"x" * (2 * 1024 * 1024),
        content_type="text/plain",
        headers={"X-Request-ID": REQUEST_ID},
    )
    assert (response.status_code, response.headers["X-Request-ID"]) == (413, REQUEST_ID)
    [line] = _request_lines(log_lines())
    assert (line["status"], line["request_id"], line["route"]) == (413, REQUEST_ID, "/login")


def test_without_a_trusted_proxy_a_client_cannot_choose_the_request_id(app, client, log_lines, monkeypatch):
    """Attack 19 A17: a client sent an id the portal had given another request, and its requests
    blended into that one's trail. Its id is kept beside a fresh one, for its own correlation."""
    monkeypatch.setitem(app.config, "TRUSTED_PROXIES", 0)  # clients straight in, no proxy
    response = client.get("/login", headers={"X-Request-ID": REQUEST_ID})
    given = response.headers["X-Request-ID"]
    assert given != REQUEST_ID and len(given) == 32
    [line] = [line for line in _request_lines(log_lines()) if line["request_id"] == given]
    assert line["client_request_id"] == REQUEST_ID
