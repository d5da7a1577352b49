"""Registration through the real form."""

from __future__ import annotations

import sqlalchemy as sa

from portal.extensions import db
from portal.users.models import User
from tests.auth.conftest import submit
from tests.conftest import extract_csrf


def _register(client, buffered: bool = True, **overrides):
    token = extract_csrf(client.get("/register").get_data(as_text=True))
    data = {
        "name": "Ada Lovelace",
        "email": "Ada@Example.com",
        "password": "analytical-engine",
        "confirm": "analytical-engine",
        "csrf_token": token,
    }
    data.update(overrides)
    return client.post("/register", data=data, buffered=buffered)


def test_register_creates_account_and_asks_to_confirm(client, mailbox):
    response = _register(client)
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert "We sent a message to ada@example.com" in client.get("/login").get_data(as_text=True)
    user = db.session.scalar(sa.select(User))
    assert user.email == "ada@example.com"  # stored lower-cased
    assert user.password_hash.startswith("$argon2id$")
    assert mailbox.wait_for("ada@example.com", "Confirm your email")
    login = submit(client, "/login", {"email": "ada@example.com", "password": "analytical-engine"})
    assert login.status_code == 302
    page = client.get("/account").get_data(as_text=True)
    assert "Ada Lovelace" in page and "Not verified" in page


def test_register_with_a_taken_email_changes_nothing(client, user, mailbox):
    response = _register(client, email=user.email.upper(), name="Someone Else")
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == 1
    assert db.session.scalar(sa.select(User.name)) == user.name
    assert mailbox.wait_for(user.email, "Someone tried to register")


def test_register_creates_the_stripe_customer_once_the_answer_is_sent(client, sandbox):
    """The customer still follows registration, after the page: a new email answers as fast as a taken one."""
    response = _register(client, buffered=False)  # the page, not yet closed by the server
    user = db.session.scalar(sa.select(User))
    assert user.stripe_customer_id is None  # not while the answer is being made
    response.close()  # the WSGI server closes it once the page is sent
    db.session.expire_all()
    user = db.session.scalar(sa.select(User))
    customer = sandbox.client().v1.customers.retrieve(user.stripe_customer_id)
    assert customer.email == "ada@example.com"
    assert customer.metadata["source"] == "user_registration"


def test_a_taken_email_creates_no_second_customer(client, user, sandbox):
    before = user.stripe_customer_id
    _register(client, email=user.email).close()
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == 1
    assert db.session.get(User, user.id).stripe_customer_id == before


def test_registering_in_vietnamese_keeps_the_language_for_the_emails(client, mailbox):
    """A person who registers from a Vietnamese browser reads their confirmation email in Vietnamese,
    and the account keeps the language (its later emails, its pages from another browser)."""
    client.set_cookie("locale", "vi", domain="portal.test")
    assert _register(client).status_code == 302
    user = db.session.scalar(sa.select(User))
    assert user.locale == "vi"
    assert mailbox.wait_for("ada@example.com", "Xác nhận địa chỉ email của bạn")


def test_an_account_keeps_the_language_it_signed_up_in_unless_english(client, mailbox):
    """Its emails have no browser to ask: signed up in Vietnamese, the confirmation (and what
    follows) reads in Vietnamese; signed up in English, nothing is saved and the browser decides."""
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "vi-VN,vi;q=0.9"
    assert _register(client).status_code == 302
    assert db.session.scalar(sa.select(User.locale).where(User.email == "ada@example.com")) == "vi"
    assert mailbox.wait_for("ada@example.com", "Xác nhận")

    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en-US,en;q=0.9"
    assert _register(client, email="grace@example.com").status_code == 302
    assert db.session.scalar(sa.select(User.locale).where(User.email == "grace@example.com")) is None
    assert mailbox.wait_for("grace@example.com", "Confirm your email")
