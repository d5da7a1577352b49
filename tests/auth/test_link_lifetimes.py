"""Finding 3 (authfix): emailed links die with the credentials they were sent for.

A confirmed email change, a password change and a password reset end every outstanding
reset link and email-change link of the account.
"""

from __future__ import annotations

import re
import uuid

import pytest
import sqlalchemy as sa

from portal.auth.passwords import verify_password
from portal.extensions import db
from portal.users.models import User
from tests.auth.conftest import cookie_client, submit
from tests.factories import DEFAULT_PASSWORD
from tests.smtp import body_text

NEW_PASSWORD = "another-long-password-9"


def _link(mailbox, address: str, subject: str) -> str:
    return re.search(r"http://portal\.test(/\S+)", body_text(mailbox.wait_for(address, subject))).group(1)


def _logged_in(app, email: str, password: str = DEFAULT_PASSWORD):
    browser = cookie_client(app)
    assert submit(browser, "/login", {"email": email, "password": password}).status_code == 302
    return browser


def _reset_link(app, mailbox, email: str) -> str:
    mailbox.clear()
    assert submit(cookie_client(app), "/forgot-password", {"email": email}).status_code == 302
    return _link(mailbox, email, "Reset your password")


def _email_change_link(
    app, mailbox, user_email: str, new_email: str, password: str = DEFAULT_PASSWORD
) -> str:
    mailbox.clear()
    browser = _logged_in(app, user_email, password)
    form = {"name": "Same Name", "email": new_email, "current_password": password}
    assert submit(browser, "/account/profile", form).status_code == 302
    return _link(mailbox, new_email, "Confirm your new email")


def _reset_works(app, link: str) -> bool:
    """Whether following the link lets anyone choose a password (tried, not just looked at)."""
    browser = cookie_client(app)
    page = browser.get(link)
    if page.status_code != 200:
        return False
    chosen = f"taken-over-{uuid.uuid4().hex[:12]}"
    answer = submit(browser, link, {"password": chosen, "confirm": chosen})
    return answer.headers.get("Location") == "/login" and _password_is(chosen)


def _password_is(password: str) -> bool:
    """Whether some account now has this password."""
    db.session.expire_all()
    return any(verify_password(h, password) for h in db.session.scalars(sa.select(User.password_hash)))


def _email_of(user_id: int) -> str:
    db.session.expire_all()
    return db.session.scalar(sa.select(User.email).where(User.id == user_id))


def test_a_reset_link_dies_when_an_email_change_is_confirmed(app, user, mailbox):
    old_reset = _reset_link(app, mailbox, user.email)
    change = _email_change_link(app, mailbox, user.email, "mine@example.com")
    assert cookie_client(app).get(change).status_code == 302
    assert _email_of(user.id) == "mine@example.com"
    assert not _reset_works(app, old_reset)


def test_a_reset_link_dies_when_the_email_goes_away_and_comes_back(app, user, mailbox):
    first = user.email
    old_reset = _reset_link(app, mailbox, first)
    cookie_client(app).get(_email_change_link(app, mailbox, first, "away@example.com"))
    cookie_client(app).get(_email_change_link(app, mailbox, "away@example.com", first))
    assert _email_of(user.id) == first
    assert not _reset_works(app, old_reset)


def test_other_email_change_links_die_when_one_is_confirmed(app, user, mailbox):
    first = _email_change_link(app, mailbox, user.email, "first@example.com")
    second = _email_change_link(app, mailbox, user.email, "second@example.com")
    assert cookie_client(app).get(second).status_code == 302
    cookie_client(app).get(first)
    assert _email_of(user.id) == "second@example.com"


@pytest.mark.parametrize("how", ["change", "reset"])
def test_a_password_change_or_reset_kills_reset_and_email_change_links(app, user, mailbox, how):
    old_reset = _reset_link(app, mailbox, user.email)
    change = _email_change_link(app, mailbox, user.email, "elsewhere@example.com")
    if how == "change":
        form = {"current_password": DEFAULT_PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
        assert submit(_logged_in(app, user.email), "/account/password", form).status_code == 302
    else:
        link = _reset_link(app, mailbox, user.email)
        browser = cookie_client(app)
        assert submit(browser, link, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}).status_code == 302
    assert _password_is(NEW_PASSWORD)
    email = user.email
    confirmed = cookie_client(app).get(change, follow_redirects=True).get_data(as_text=True)
    assert _email_of(user.id) == email, confirmed
    assert "This link is invalid, used or expired" in confirmed
    assert not _reset_works(app, old_reset)
