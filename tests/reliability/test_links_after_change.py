"""Figure: emailed account links alive after a credential change (0).

For each credential change (a confirmed email change, a password change, a password reset,
and an email changed away and back) an account holds a password-reset link and an
email-change link sent before it; after the change each link is tried for real (the reset
sets a password, the email change is followed). None may work.
"""

from __future__ import annotations

import itertools

import sqlalchemy as sa

from portal.extensions import db
from portal.users.models import User
from tests.auth.conftest import cookie_client, submit
from tests.auth.test_link_lifetimes import (
    NEW_PASSWORD,
    _email_change_link,
    _email_of,
    _logged_in,
    _reset_link,
    _reset_works,
)
from tests.factories import DEFAULT_PASSWORD, make_user

_people = itertools.count(1)


def _confirm(app, link: str) -> None:
    assert cookie_client(app).get(link).status_code == 302


def _change_password(app, mailbox, user: User) -> None:
    form = {"current_password": DEFAULT_PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    assert submit(_logged_in(app, user.email), "/account/password", form).status_code == 302


def _reset(app, mailbox, user: User) -> None:
    link = _reset_link(app, mailbox, user.email)
    assert (
        submit(cookie_client(app), link, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}).status_code
        == 302
    )


def _email_change(app, mailbox, user: User) -> None:
    _confirm(app, _email_change_link(app, mailbox, user.email, f"changed.{user.email}"))


def _email_away_and_back(app, mailbox, user: User) -> None:
    first = user.email
    _confirm(app, _email_change_link(app, mailbox, first, f"away.{first}"))
    _confirm(app, _email_change_link(app, mailbox, f"away.{first}", first))


CHANGES = {
    "email change": _email_change,
    "password change": _change_password,
    "password reset": _reset,
    "email away and back": _email_away_and_back,
}


def test_no_emailed_link_outlives_a_credential_change(app, mailbox, figure):
    alive, tried = [], 0
    for change, make_change in CHANGES.items():
        user = make_user(email=f"links{next(_people)}@example.com")
        reset = _reset_link(app, mailbox, user.email)
        email_change = _email_change_link(app, mailbox, user.email, f"pending.{user.email}")
        make_change(app, mailbox, db.session.get(User, user.id))
        db.session.expire_all()
        email_before = _email_of(user.id)
        cookie_client(app).get(email_change)
        if _email_of(user.id) != email_before:
            alive.append(f"{change}: email-change link")
        if _reset_works(app, reset):
            alive.append(f"{change}: reset link")
        tried += 2
    assert alive == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == len(CHANGES)
    figure(
        "links_after_credential_change",
        len(alive),
        f"of {tried} emailed reset and email-change links alive after a credential change "
        "(email change confirmed, password change, password reset, email changed away and back)",
    )
