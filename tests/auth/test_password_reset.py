"""Forgot password: an emailed, signed, single-use link that expires."""

from __future__ import annotations

import re
import time

import itsdangerous
import pytest

from portal.auth import tokens
from tests.auth.conftest import cookie_client, db_state, submit
from tests.conftest import both_engines
from tests.smtp import body_text

NEW_PASSWORD = "brand-new-password-42"
SAME_ANSWER = "If an account uses that address, we sent it a link to reset the password."


def _request_link(client, mailbox, email: str) -> str:
    response = submit(client, "/forgot-password", {"email": email})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    message = mailbox.wait_for(email.strip().lower(), "Reset your password")
    match = re.search(r"http://portal\.test(/reset-password/\S+)", body_text(message))
    assert match, body_text(message)
    return match.group(1)


def _reset(client, path: str, password: str = NEW_PASSWORD, form_page: str | None = None):
    """POST a new password; ``form_page`` supplies the CSRF token when the link itself redirects."""
    return submit(client, path, {"password": password, "confirm": password}, form_page=form_page)


def _can_log_in(app, email: str, password: str) -> bool:
    return submit(cookie_client(app), "/login", {"email": email, "password": password}).status_code == 302


@both_engines
def test_reset_link_from_email_works_once(app, client, user, password, mailbox):
    path = _request_link(client, mailbox, user.email.upper())
    assert client.get(path).status_code == 200
    response = _reset(client, path)
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert SAME_ANSWER not in client.get("/login").get_data(as_text=True)
    assert _can_log_in(app, user.email, NEW_PASSWORD)
    assert not _can_log_in(app, user.email, password)

    # Used once: the same link is refused, by GET and by POST.
    again = client.get(path)
    assert again.status_code == 302 and again.headers["Location"] == "/forgot-password"
    assert "invalid, used or expired" in client.get("/forgot-password").get_data(as_text=True)
    before = db_state()
    refused = _reset(client, path, "yet-another-password", form_page="/login")
    assert refused.status_code == 302 and refused.headers["Location"] == "/forgot-password"
    assert db_state() == before


def test_reset_logs_out_other_sessions(app, logged_in, user, mailbox):
    path = _request_link(cookie_client(app), mailbox, user.email)
    assert _reset(cookie_client(app), path).status_code == 302
    assert logged_in.get("/account").status_code == 302


def test_unknown_email_gets_the_same_answer_and_no_mail(client, user, mailbox):
    response = submit(client, "/forgot-password", {"email": "stranger@example.com"})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert SAME_ANSWER in client.get("/login").get_data(as_text=True)
    time.sleep(0.2)
    assert mailbox.messages == []


def _aged_token(monkeypatch, user, seconds: int) -> str:
    """A reset token signed ``seconds`` ago (itsdangerous reads the clock through get_timestamp)."""
    signed_at = int(time.time()) - seconds
    with monkeypatch.context() as patch:
        patch.setattr(itsdangerous.timed.TimestampSigner, "get_timestamp", lambda self: signed_at)
        return tokens.make_reset_token(user)


def test_reset_link_expires_after_configured_max_age(app, client, user, monkeypatch):
    token = _aged_token(monkeypatch, user, 120)
    app.config["PASSWORD_RESET_MAX_AGE"] = 3600
    assert client.get(f"/reset-password/{token}").status_code == 200
    app.config["PASSWORD_RESET_MAX_AGE"] = 60
    response = client.get(f"/reset-password/{token}")
    assert response.status_code == 302 and response.headers["Location"] == "/forgot-password"
    before = db_state()
    refused = _reset(client, f"/reset-password/{token}", form_page="/login")
    assert refused.status_code == 302 and refused.headers["Location"] == "/forgot-password"
    assert db_state() == before


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t[:-2] + ("AA" if t[-2:] != "AA" else "BB"),  # signature changed
        lambda t: "x" + t[1:],  # payload changed
        lambda t: t.split(".")[0],  # signature dropped
        lambda t: "not-a-token",
    ],
)
def test_tampered_reset_token_is_refused(app, client, user, password, tamper):
    token = tamper(tokens.make_reset_token(user))
    response = client.get(f"/reset-password/{token}")
    assert response.status_code == 302 and response.headers["Location"] == "/forgot-password"
    assert tokens.load_reset_token(token) is None
    assert _can_log_in(app, user.email, password)


def test_reset_token_for_another_purpose_is_refused(user):
    assert tokens.load_reset_token(tokens.make_verify_token(user)) is None


def test_forgot_password_is_throttled_and_keeps_the_email(client, mailbox):
    for n in range(5):  # RESET_THROTTLE: 5 a minute from one address, whatever the emails
        assert submit(client, "/forgot-password", {"email": f"someone{n}@example.com"}).status_code == 302
    response = submit(client, "/forgot-password", {"email": "someone@example.com"})
    html = response.get_data(as_text=True)
    assert response.status_code == 429
    assert "Too many requests" in html and 'value="someone@example.com"' in html
