"""Logging in and out: no account enumeration, throttling, session renewal, remember me."""

from __future__ import annotations

import re

from tests.auth.conftest import cookie_client, db_state, session_cookie, submit
from tests.conftest import both_engines


def _login(client, email: str, password: str, **extra):
    return submit(client, "/login", {"email": email, "password": password, **extra})


def _strip_tokens(html: str) -> str:
    return re.sub(r'(value="|"X-CSRFToken": ")[^"]+"', r'\1"', html)


def test_login_and_land_on_account(client, user, password):
    response = _login(client, user.email.upper(), password)
    assert response.status_code == 302 and response.headers["Location"] == "/account"
    assert user.name in client.get("/account").get_data(as_text=True)


def test_login_follows_only_local_next(client, user, password):
    response = submit(client, "/login?next=/account/profile", {"email": user.email, "password": password})
    assert response.headers["Location"] == "/account/profile"
    for evil in ("//evil.example/x", "https://evil.example/x"):
        other = cookie_client(client.application)
        response = submit(other, f"/login?next={evil}", {"email": user.email, "password": password})
        assert response.headers["Location"] == "/account"


def test_unknown_email_and_wrong_password_look_the_same(client, user):
    unknown = _login(client, "nobody@example.com", "some-password-1")
    wrong = _login(client, user.email, "some-password-1")
    assert unknown.status_code == wrong.status_code == 422
    unknown_html = _strip_tokens(unknown.get_data(as_text=True)).replace("nobody@example.com", "EMAIL")
    wrong_html = _strip_tokens(wrong.get_data(as_text=True)).replace(user.email, "EMAIL")
    assert unknown_html == wrong_html
    assert "That email and password do not match an account." in wrong_html


@both_engines
def test_sixth_failed_login_within_a_minute_is_throttled(client, user, password):
    assert client.application.config["LOGIN_THROTTLE"] == "5 per minute"
    for _ in range(5):
        assert _login(client, user.email, "wrong-password-1").status_code == 422
    before = db_state()
    response = _login(client, user.email, password)  # even the right password waits
    html = response.get_data(as_text=True)
    assert response.status_code == 429
    assert "Too many failed login attempts" in html
    assert f'value="{user.email}"' in html  # the form keeps the email
    assert password not in html
    assert "Retry-After" in response.headers
    assert db_state() == before
    assert client.get("/account").status_code == 302


def test_successful_logins_do_not_count_towards_the_throttle(client, user, password):
    for _ in range(6):
        assert _login(client, user.email, password).status_code == 302
        assert submit(client, "/logout", form_page="/account").status_code == 302
    assert _login(client, user.email, "wrong-password-1").status_code == 422


def test_session_is_renewed_at_login(app, client, user, password):
    client.get("/login")
    anonymous = session_cookie(client)
    assert _login(client, user.email, password).status_code == 302
    authenticated = session_cookie(client)
    assert authenticated != anonymous
    assert cookie_client(app, session=anonymous).get("/account").status_code == 302
    assert cookie_client(app, session=authenticated).get("/account").status_code == 200


@both_engines
def test_session_is_dead_after_logout(app, client, user, password):
    _login(client, user.email, password)
    captured = session_cookie(client)
    response = submit(client, "/logout", form_page="/account")
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    replay = cookie_client(app, session=captured).get("/account")
    assert replay.status_code == 302 and replay.headers["Location"].startswith("/login")
    assert db_state()[1] == []  # the server-side session row is gone


def test_logout_needs_post(logged_in):
    assert logged_in.get("/logout").status_code == 405


def test_remember_me_sets_a_cookie_that_logs_in(app, client, user, password):
    response = _login(client, user.email, password, remember="y")
    assert any(c.startswith("remember_token=") for c in response.headers.getlist("Set-Cookie"))
    remember = client.get_cookie("remember_token", domain="portal.test").value
    # No session cookie at all, just the remember cookie: still logged in.
    assert cookie_client(app, remember_token=remember).get("/account").status_code == 200
    submit(client, "/logout", form_page="/account")
    assert cookie_client(app, remember_token=remember).get("/account").status_code == 302


def test_without_remember_me_no_remember_cookie(client, user, password):
    response = _login(client, user.email, password)
    assert not any(c.startswith("remember_token=") for c in response.headers.getlist("Set-Cookie"))
