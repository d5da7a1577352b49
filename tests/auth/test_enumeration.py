"""Finding 9: nothing an outsider can do tells them which emails have an account.

Login costs one password-hash verification whether the email is known or not;
registration with a taken email answers exactly like a new one (and tells the
owner by email); an email change never says an address is taken; and register,
forgot-password and login are throttled per client address and per target email.
"""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher

from portal.extensions import db
from portal.users.models import User
from tests.auth.conftest import cookie_client, submit
from tests.smtp import body_text

NEW_PASSWORD = "analytical-engine"
REGISTRATION = {"name": "N", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}


def _strip_tokens(html: str) -> str:
    return re.sub(r'(value="|"X-CSRFToken": ")[^"]+"', r'\1"', html)


@pytest.fixture
def hash_work(monkeypatch) -> dict[str, int]:
    """How many argon2 hashes and verifications ran (the costly operations of a login)."""
    counts = {"hash": 0, "verify": 0}
    real_hash, real_verify = PasswordHasher.hash, PasswordHasher.verify

    def counting_hash(self, *args, **kwargs):
        counts["hash"] += 1
        return real_hash(self, *args, **kwargs)

    def counting_verify(self, *args, **kwargs):
        counts["verify"] += 1
        return real_verify(self, *args, **kwargs)

    monkeypatch.setattr(PasswordHasher, "hash", counting_hash)
    monkeypatch.setattr(PasswordHasher, "verify", counting_verify)
    return counts


def test_unknown_and_known_email_logins_do_the_same_hash_work(app, user, hash_work):
    app.config["LOGIN_THROTTLE"] = "100 per minute"  # measure the work, not the throttle

    def login_work(email: str) -> dict[str, int]:
        submit(cookie_client(app), "/login", {"email": email, "password": "wrong-password-1"})
        work = dict(hash_work)
        hash_work.update(hash=0, verify=0)
        return work

    login_work("warm-up@example.com")  # the first miss in a process may prepare its dummy hash
    for _ in range(3):
        assert login_work("nobody@example.com") == {"hash": 0, "verify": 1}
        assert login_work(user.email) == {"hash": 0, "verify": 1}


def _register(client, email: str, name: str = "Ada Lovelace"):
    data = {"name": name, "email": email, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    return submit(client, "/register", data)


def _answer(app, client, response, email: str) -> tuple[int, str | None, str]:
    """Status, redirect and the page the person then sees, with their email and tokens blanked."""
    location = response.headers.get("Location")
    page = client.get(location).get_data(as_text=True) if location else response.get_data(as_text=True)
    return response.status_code, location, _strip_tokens(page).replace(email, "EMAIL")


def test_register_with_a_taken_email_answers_like_a_new_registration(app, user, mailbox):
    fresh_client, taken_client = cookie_client(app), cookie_client(app)
    fresh_email = "newcomer@example.com"
    fresh = _answer(app, fresh_client, _register(fresh_client, fresh_email), fresh_email)
    mailbox.clear()
    taken = _answer(app, taken_client, _register(taken_client, user.email.upper()), user.email)
    assert fresh == taken
    assert "already" not in taken[2]
    # The owner of the address hears about it, with the ways back into their account.
    message = mailbox.wait_for(user.email, "Someone tried to register")
    text = body_text(message)
    assert "http://portal.test/login" in text and "http://portal.test/forgot-password" in text
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 2
    assert db.session.scalar(sa.select(User.name).where(User.email == user.email)) == user.name


def test_email_change_never_says_an_address_is_taken(app, user_factory, mailbox):
    me, other = user_factory(), user_factory(email="taken@example.com")
    my_email = me.email
    answers = []
    for address in ("free@example.com", "taken@example.com"):
        client = cookie_client(app)
        login = submit(client, "/login", {"email": my_email, "password": "correct-horse-battery"})
        assert login.status_code == 302
        data = {"name": me.name, "email": address, "current_password": "correct-horse-battery"}
        response = submit(client, "/account/profile", data)
        answers.append(_answer(app, client, response, address))
    assert answers[0] == answers[1]
    assert "already" not in answers[1][2]
    # Nothing changes until the new address confirms; the taken one's owner is told instead.
    assert db.session.scalar(sa.select(User.email).where(User.id == me.id)) == my_email
    assert "Someone asked to use this address" in body_text(mailbox.wait_for(other.email, "Someone asked"))
    link = re.search(r"http://portal\.test(/\S+)", body_text(mailbox.wait_for("free@example.com", "Confirm")))
    assert cookie_client(app).get(link.group(1)).status_code == 302
    db.session.expire_all()
    changed = db.session.get(User, me.id)
    assert changed.email == "free@example.com" and changed.email_verified


@pytest.mark.parametrize(
    ("path", "setting", "data"),
    [
        ("/register", "REGISTER_THROTTLE", REGISTRATION),
        ("/forgot-password", "RESET_THROTTLE", {}),
    ],
)
def test_register_and_forgot_password_are_throttled_per_address(app, client, path, setting, data):
    limit = int(app.config[setting].split()[0])
    statuses = [
        submit(client, path, {**data, "email": f"probe{n}@example.com"}).status_code for n in range(limit + 1)
    ]
    assert 429 not in statuses[:limit] and statuses[limit] == 429


@pytest.mark.parametrize(
    ("path", "setting", "data"),
    [
        ("/register", "REGISTER_EMAIL_THROTTLE", REGISTRATION),
        ("/forgot-password", "RESET_EMAIL_THROTTLE", {}),
        ("/login", "LOGIN_EMAIL_THROTTLE", {"password": "wrong-password-1"}),
    ],
)
def test_register_forgot_and_login_are_throttled_per_target_email(app, path, setting, data):
    """From ever-new addresses (a botnet), one target email is still throttled."""
    limit = int(app.config[setting].split()[0])
    statuses = []
    for n in range(limit + 1):
        client = cookie_client(app)
        environ = {"REMOTE_ADDR": f"10.0.{n // 250}.{n % 250 + 1}"}
        token_page = client.get(path, environ_base=environ).get_data(as_text=True)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', token_page).group(1)
        form = {**data, "email": "target@example.com", "csrf_token": token}
        statuses.append(client.post(path, data=form, environ_base=environ).status_code)
    assert 429 not in statuses[:limit] and statuses[limit] == 429
