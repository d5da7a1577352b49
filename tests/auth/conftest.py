"""Helpers for the account tests: submit a form the way a browser does, read the database directly."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.users.models import User, UserSession
from tests.conftest import IsolatedClient, extract_csrf
from tests.factories import DEFAULT_PASSWORD

HOST = "portal.test"


def submit(client, path: str, data: dict | None = None, form_page: str | None = None, **kwargs):
    """GET the form page (for its CSRF token), then POST ``data`` to ``path``."""
    token = extract_csrf(client.get(form_page or path).get_data(as_text=True))
    return client.post(path, data={**(data or {}), "csrf_token": token}, **kwargs)


def db_state() -> tuple[list, list]:
    """Every committed users and user_sessions row, read on a separate connection."""
    with db.engine.connect() as conn:
        users = conn.execute(sa.select(User.__table__).order_by(User.id)).all()
        sessions = conn.execute(sa.select(UserSession.__table__).order_by(UserSession.key)).all()
    return users, sessions


def field_errors(html: str, field_id: str) -> list[str]:
    """The messages listed under one field (see templates/macros/forms.html)."""
    match = re.search(rf'<ul class="errors" id="{field_id}-errors">(.*?)</ul>', html, re.S)
    assert match, f"no error list for field {field_id}"
    return re.findall(r"<li>(.*?)</li>", match.group(1), re.S)


def session_cookie(client) -> str:
    cookie = client.get_cookie("session", domain=HOST)
    assert cookie is not None, "no session cookie"
    return cookie.value


def cookie_client(app, **cookies: str):
    """A fresh client that sends exactly these cookies (e.g. one captured earlier)."""
    client = IsolatedClient(app, app.response_class, use_cookies=True)
    for name, value in cookies.items():
        client.set_cookie(name, value, domain=HOST)
    return client


@pytest.fixture
def password() -> str:
    return DEFAULT_PASSWORD


def email_change_path(mailbox, new_email: str) -> str:
    """The confirmation link a new address is sent (the email changes only when it is followed)."""
    from tests.smtp import body_text

    message = body_text(mailbox.wait_for(new_email, "Confirm your new email"))
    return re.search(r"http://portal\.test(/account/email/\S+)", message).group(1)
