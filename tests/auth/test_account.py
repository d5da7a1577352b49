"""The account page: profile, email verification, change password, delete account."""

from __future__ import annotations

import re

import sqlalchemy as sa

from portal.auth import tokens
from portal.extensions import db
from portal.users.models import User
from tests.auth.conftest import cookie_client, db_state, session_cookie, submit
from tests.conftest import both_engines
from tests.factories import DEFAULT_PASSWORD
from tests.smtp import body_text


def _verify_path(mailbox, email: str) -> str:
    message = mailbox.wait_for(email, "Confirm your email")
    match = re.search(r"http://portal\.test(/verify-email/\S+)", body_text(message))
    assert match, body_text(message)
    return match.group(1)


def _badge(html: str) -> str:
    match = re.search(r'<span class="badge badge-(?:ok|warn)">([^<]+)</span>', html)
    assert match, "the account page shows no verification badge"
    return match.group(1)


def _fresh_user(email: str) -> User:
    db.session.expire_all()
    return db.session.scalar(sa.select(User).where(User.email == email))


def test_account_page_needs_login(client):
    response = client.get("/account")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=")


def test_verification_link_flips_the_badge(mailbox, user, logged_in):
    assert _badge(logged_in.get("/account").get_data(as_text=True)) == "Not verified"
    response = logged_in.get(_verify_path(mailbox, user.email))
    assert response.status_code == 302 and response.headers["Location"] == "/account"
    page = logged_in.get("/account").get_data(as_text=True)
    assert _badge(page) == "Verified" and "email address is confirmed" in page
    assert "Resend confirmation email" not in page
    assert _fresh_user(user.email).email_verified_at is not None


def test_verification_link_works_when_logged_out(mailbox, client, user):
    response = client.get(_verify_path(mailbox, user.email))
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert _fresh_user(user.email).email_verified


def test_tampered_verification_link_is_refused(client, user):
    token = tokens.make_verify_token(user)
    response = client.get(f"/verify-email/{token[:-3]}abc")
    assert response.status_code == 302
    assert "invalid or expired" in client.get("/login").get_data(as_text=True)
    assert not _fresh_user(user.email).email_verified


def test_resend_verification_email(user, logged_in, mailbox):
    mailbox.clear()
    assert submit(logged_in, "/account/verify-email", form_page="/account").status_code == 302
    assert logged_in.get(_verify_path(mailbox, user.email)).status_code == 302
    assert _fresh_user(user.email).email_verified


def test_edit_profile_saves_and_shows_name(user, logged_in):
    form = logged_in.get("/account/profile").get_data(as_text=True)
    assert f'value="{user.name}"' in form and f'value="{user.email}"' in form
    response = submit(logged_in, "/account/profile", {"name": "  Renamed Person ", "email": user.email})
    assert response.status_code == 302 and response.headers["Location"] == "/account"
    assert "Renamed Person" in logged_in.get("/account").get_data(as_text=True)
    assert _fresh_user(user.email).name == "Renamed Person"


@both_engines
def test_email_change_waits_for_the_new_address_to_confirm(mailbox, user, logged_in):
    old_link = _verify_path(mailbox, user.email)
    data = {"name": user.name, "email": "New.Address@Example.com", "current_password": DEFAULT_PASSWORD}
    response = submit(logged_in, "/account/profile", data)
    assert response.status_code == 302
    page = logged_in.get("/account").get_data(as_text=True)
    assert "We sent a message to new.address@example.com" in page
    assert user.email in page and "new.address@example.com</dd>" not in page  # unchanged for now
    message = mailbox.wait_for("new.address@example.com", "Confirm your new email address")
    change_link = re.search(r"http://portal\.test(/account/email/\S+)", body_text(message)).group(1)
    assert logged_in.get(change_link).status_code == 302
    page = logged_in.get("/account").get_data(as_text=True)
    assert "new.address@example.com" in page and _badge(page) == "Verified"
    # The link works once, and the old address's confirmation link no longer applies.
    logged_in.get(change_link)
    assert "invalid, used or expired" in logged_in.get("/account").get_data(as_text=True)
    logged_in.get(old_link)
    assert _fresh_user("new.address@example.com").email_verified


def test_change_password_keeps_this_login_and_ends_others(app, user, password, logged_in):
    other = cookie_client(app)
    assert submit(other, "/login", {"email": user.email, "password": password}).status_code == 302
    new = "a-better-password-7"
    data = {"current_password": password, "password": new, "confirm": new}
    response = submit(logged_in, "/account/password", data)
    assert response.status_code == 302 and response.headers["Location"] == "/account"
    assert logged_in.get("/account").status_code == 200
    assert other.get("/account").status_code == 302
    fresh = cookie_client(app)
    assert submit(fresh, "/login", {"email": user.email, "password": password}).status_code == 422
    assert submit(fresh, "/login", {"email": user.email, "password": new}).status_code == 302


@both_engines
def test_delete_account_asks_for_password_and_removes_user(app, user, password, logged_in):
    page = logged_in.get("/account/delete").get_data(as_text=True)
    assert 'type="password"' in page and 'name="password"' in page
    captured = session_cookie(logged_in)
    response = submit(logged_in, "/account/delete", {"password": password})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert "Your account was deleted." in logged_in.get("/login").get_data(as_text=True)
    users, sessions = db_state()
    assert users == [] and sessions == []
    assert cookie_client(app, session=captured).get("/account").status_code == 302
    relogin = submit(cookie_client(app), "/login", {"email": user.email, "password": password})
    assert relogin.status_code == 422
