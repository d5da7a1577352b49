"""Registration through the real form."""

from __future__ import annotations

import sqlalchemy as sa

from portal.auth.models import User
from portal.extensions import db
from tests.conftest import extract_csrf


def _register(client, **overrides):
    token = extract_csrf(client.get("/register").get_data(as_text=True))
    data = {
        "name": "Ada Lovelace",
        "email": "Ada@Example.com",
        "password": "analytical-engine",
        "confirm": "analytical-engine",
        "csrf_token": token,
    }
    data.update(overrides)
    return client.post("/register", data=data)


def test_register_creates_account_and_logs_in(client, mailbox):
    response = _register(client)
    assert response.status_code == 302
    user = db.session.scalar(sa.select(User))
    assert user.email == "ada@example.com"  # stored lower-cased
    assert user.password_hash.startswith("$argon2id$")
    page = client.get("/account").get_data(as_text=True)
    assert "Ada Lovelace" in page and "Not verified" in page
    assert mailbox.wait_for("ada@example.com", "Confirm your email")


def test_register_rejects_duplicate_email_case_insensitively(client, user):
    response = _register(client, email=user.email.upper(), name="Someone Else")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "already exists" in page
    assert 'value="Someone Else"' in page  # what was typed is kept
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == 1
