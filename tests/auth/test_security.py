"""CSRF on every unsafe request (form field or htmx header) and security headers on every response."""

from __future__ import annotations

import itertools
import re
import time

import itsdangerous
import pytest

from portal.auth import tokens
from portal.security import content_security_policy
from tests.auth.conftest import db_state, submit

#: Every route that changes something, and whether it needs a login.
UNSAFE_ROUTES = [
    ("/register", False),
    ("/login", False),
    ("/forgot-password", False),
    ("/reset-password/{reset_token}", False),
    ("/logout", True),
    ("/account/profile", True),
    ("/account/password", True),
    ("/account/verify-email", True),
    ("/account/delete", True),
]


def _hx_token(html: str) -> str:
    """The token the base layout hands htmx through ``hx-headers`` on <body>."""
    match = re.search(r"<body hx-headers='\{\"X-CSRFToken\": \"([^\"]+)\"\}'>", html)
    assert match, "the layout carries no hx-headers CSRF token"
    return match.group(1)


@pytest.mark.parametrize(("path", "needs_login"), UNSAFE_ROUTES)
def test_post_without_csrf_token_is_refused(client, user, password, mailbox, path, needs_login):
    if needs_login:
        assert submit(client, "/login", {"email": user.email, "password": password}).status_code == 302
    path = path.format(reset_token=tokens.make_reset_token(user))
    mailbox.clear()
    before = db_state()
    data = {
        "name": "Mallory",
        "email": "mallory@example.com",
        "password": "a-new-password-1",
        "confirm": "a-new-password-1",
        "current_password": password,
    }
    response = client.post(path, data=data)
    assert response.status_code == 400
    assert "Your form expired or was sent from elsewhere" in response.get_data(as_text=True)
    # A wrong token is refused the same way.
    assert client.post(path, data={**data, "csrf_token": "forged"}).status_code == 400
    assert db_state() == before
    assert mailbox.messages == []


def test_htmx_request_with_csrf_header_is_accepted(logged_in, user, mailbox):
    mailbox.clear()
    token = _hx_token(logged_in.get("/account").get_data(as_text=True))
    response = logged_in.post("/account/verify-email", headers={"X-CSRFToken": token, "HX-Request": "true"})
    assert response.status_code == 302
    assert mailbox.wait_for(user.email, "Confirm your email")


def test_htmx_header_without_token_is_refused(logged_in, mailbox):
    """Refused, and said in the page's messages (htmx swaps only a 200 there: ``fragment_status``)."""
    mailbox.clear()
    response = logged_in.post("/account/verify-email", headers={"HX-Request": "true"})
    assert response.status_code == 200 and response.headers["HX-Retarget"] == "#flashes"
    assert "Your form expired" in response.get_data(as_text=True)
    assert mailbox.messages == []


def test_one_session_draws_one_csrf_token_on_every_page(logged_in, user, mailbox, monkeypatch):
    """Signed once per session (tokens never expire), not afresh on every page."""
    # Every signature gets a new timestamp, so a token signed afresh would differ even within a second.
    clock = itertools.count(int(time.time()) + 1)
    monkeypatch.setattr(itsdangerous.TimestampSigner, "get_timestamp", lambda signer: next(clock))
    tokens_drawn = {
        _hx_token(logged_in.get(path).get_data(as_text=True)) for path in ("/account", "/practices/")
    }
    assert len(tokens_drawn) == 1
    mailbox.clear()
    response = logged_in.post("/account/verify-email", headers={"X-CSRFToken": tokens_drawn.pop()})
    assert response.status_code == 302 and mailbox.wait_for(user.email, "Confirm your email")


def test_pages_leave_a_settled_session_cookie_alone(logged_in):
    """After the first page a login leads to, loading pages again sends no new session cookie:
    nothing per request (the user loader, the CSRF token, session protection) rewrites the session."""
    logged_in.get("/account")  # the first page adds the session's CSRF token
    for path in ("/account", "/practices/", "/account", "/shop/"):
        response = logged_in.get(path)
        assert response.status_code == 200, path
        assert "Set-Cookie" not in response.headers, f"{path} rewrote the session cookie"


def test_a_session_seen_from_another_browser_is_marked_once_then_left_alone(logged_in):
    """Flask-Login's session protection marks the session stale when the browser changes; a browser
    keeps the marked cookie, so only that first page rewrites it."""
    logged_in.get("/account")
    elsewhere = {"User-Agent": "another browser"}
    assert "Set-Cookie" in logged_in.get("/account", headers=elsewhere).headers
    assert "Set-Cookie" not in logged_in.get("/account", headers=elsewhere).headers


def test_login_draws_a_new_csrf_token_and_refuses_the_old_one(client, user, password):
    before_login = _hx_token(client.get("/login").get_data(as_text=True))
    assert submit(client, "/login", {"email": user.email, "password": password}).status_code == 302
    after_login = _hx_token(client.get("/account").get_data(as_text=True))
    assert after_login != before_login
    assert client.post("/account/verify-email", headers={"X-CSRFToken": before_login}).status_code == 400


def test_csrf_header_works_for_form_posts_too(logged_in, user):
    token = _hx_token(logged_in.get("/account/profile").get_data(as_text=True))
    response = logged_in.post(
        "/account/profile",
        data={"name": "Header Person", "email": user.email},
        headers={"X-CSRFToken": token, "HX-Request": "true"},
    )
    assert response.status_code == 302
    assert "Header Person" in logged_in.get("/account").get_data(as_text=True)


def _stripe_js_origin(app) -> str:
    url = app.config["STRIPE_JS_URL"]
    return url.split("/v3/")[0]


@pytest.mark.parametrize("path", ["/", "/login", "/register", "/no-such-page"])
def test_security_headers_on_html_responses(client, app, path):
    response = client.get(path)
    assert response.mimetype == "text/html"
    csp = response.headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'self'"
    assert "'self'" in directives["script-src"].split()
    assert _stripe_js_origin(app) in directives["script-src"].split()
    assert _stripe_js_origin(app) in directives["frame-src"].split()
    assert directives["frame-ancestors"] == "'none'"
    assert "'unsafe-inline'" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert "Strict-Transport-Security" not in response.headers  # plain HTTP


def test_csp_with_real_stripe_allows_exactly_stripe_js():
    csp = content_security_policy("https://js.stripe.com/v3/", "https://api.stripe.com")
    assert "script-src 'self' https://js.stripe.com;" in csp
    assert "frame-src https://js.stripe.com https://hooks.stripe.com" in csp
    assert "connect-src 'self' https://api.stripe.com https://js.stripe.com" in csp
    assert "frame-ancestors 'none'" in csp


def test_hsts_only_on_https(client):
    assert "Strict-Transport-Security" not in client.get("/login").headers
    secure = client.get("/login", base_url="https://portal.test")
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=")
    # Without TRUSTED_PROXIES a forwarded header is not believed.
    forged = client.get("/login", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" not in forged.headers


@pytest.mark.parametrize("app_overrides", [{"TRUSTED_PROXIES": 1}])
def test_hsts_behind_a_trusted_tls_proxy(client):
    proxied = client.get("/login", headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"})
    assert proxied.headers["Strict-Transport-Security"].startswith("max-age=")
    assert "Strict-Transport-Security" not in client.get("/login").headers


@pytest.mark.parametrize("app_overrides", [{"TRUSTED_PROXIES": 1}])
def test_throttle_keys_on_the_forwarded_client_address(client, user):
    def attempt(ip: str):
        return submit(
            client,
            "/login",
            {"email": user.email, "password": "wrong-password-1"},
            headers={"X-Forwarded-For": ip},
        )

    for _ in range(5):
        assert attempt("203.0.113.1").status_code == 422
    assert attempt("203.0.113.1").status_code == 429
    assert attempt("203.0.113.2").status_code == 422  # another client is not locked out
