"""Finding 2 (authfix): on the web, an email change needs the current password and the OLD
address hears about it, when it is asked for and when it is confirmed."""

from __future__ import annotations

import re

import sqlalchemy as sa

from portal.extensions import db
from portal.users.models import User
from tests.auth.conftest import cookie_client, field_errors, submit
from tests.factories import DEFAULT_PASSWORD
from tests.smtp import body_text


def _logged_in(app, user):
    browser = cookie_client(app)
    assert submit(browser, "/login", {"email": user.email, "password": DEFAULT_PASSWORD}).status_code == 302
    return browser


def _email_of(user_id: int) -> str:
    db.session.expire_all()
    return db.session.scalar(sa.select(User.email).where(User.id == user_id))


def test_an_email_change_without_the_current_password_is_refused(app, user, mailbox):
    browser, old = _logged_in(app, user), user.email
    for password in (None, "not-my-password"):
        form = {"name": user.name, "email": "thief@example.com"}
        if password:
            form["current_password"] = password
        response = submit(browser, "/account/profile", form)
        assert response.status_code == 422
        html = response.get_data(as_text=True)
        assert field_errors(html, "current_password"), html
        assert 'value="thief@example.com"' in html  # what was typed is kept
    assert _email_of(user.id) == old
    assert mailbox.to("thief@example.com") == []


def test_a_name_only_change_needs_no_password(app, user):
    browser = _logged_in(app, user)
    response = submit(browser, "/account/profile", {"name": "New Name", "email": user.email})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(User, user.id).name == "New Name"


def test_the_old_address_hears_of_a_requested_and_a_confirmed_change(app, user, mailbox):
    browser, old = _logged_in(app, user), user.email
    form = {"name": user.name, "email": "moved@example.com", "current_password": DEFAULT_PASSWORD}
    assert submit(browser, "/account/profile", form).status_code == 302
    asked = body_text(mailbox.wait_for(old, "is being changed"))
    assert "moved@example.com" in asked and "http://portal.test/forgot-password" in asked
    link = re.search(
        r"http://portal\.test(/\S+)", body_text(mailbox.wait_for("moved@example.com", "Confirm"))
    )
    mailbox.clear()
    assert browser.get(link.group(1)).status_code == 302
    assert _email_of(user.id) == "moved@example.com"
    done = body_text(mailbox.wait_for(old, "was changed"))
    assert "moved@example.com" in done and "reset your password" in done
