"""Finding 1 (authfix): the JSON API's registration says nothing about which emails have accounts.

``POST /users`` answers a taken email exactly like a new one (202, the same body, no
token), emails the address's owner instead, and is throttled like the HTML form
(REGISTER_THROTTLE per client address, REGISTER_EMAIL_THROTTLE per email).
"""

from __future__ import annotations

import sqlalchemy as sa

from config import Config
from portal.extensions import db
from portal.users.models import User
from tests.smtp import body_text

PASSWORD = "long-enough-password"


def _register(client, email: str, address: str = "127.0.0.1", buffered: bool = True):
    body = {"name": "Api Person", "email": email, "password": PASSWORD}
    return client.post("/users", json=body, environ_base={"REMOTE_ADDR": address}, buffered=buffered)


def _answer(response, email: str) -> tuple[int, object]:
    """The status and the body an outsider sees, with the email and the timestamp blanked."""
    body = response.get_json()
    body.pop("timestamp", None)
    return response.status_code, _blank(body, email)


def _blank(value, email: str):
    if isinstance(value, dict):
        return {key: _blank(item, email) for key, item in value.items()}
    if isinstance(value, str):
        return value.replace(email, "EMAIL")
    return value


def test_a_taken_email_answers_like_a_new_one_and_its_owner_is_told(client, user, mailbox):
    fresh = _register(client, "newcomer@example.com")
    taken = _register(client, user.email.upper())
    assert _answer(fresh, "newcomer@example.com") == _answer(taken, user.email.upper().lower())
    assert fresh.status_code == 202
    data = fresh.get_json()["data"]
    assert data["email"] == "newcomer@example.com" and "access_token" not in data
    assert "We sent a message to newcomer@example.com" in data["message"]
    message = mailbox.wait_for(user.email, "Someone tried to register")
    assert "http://portal.test/forgot-password" in body_text(message)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 2
    assert db.session.scalar(sa.select(User.name).where(User.email == user.email)) == user.name


def test_the_new_account_logs_in_for_its_token(client):
    assert _register(client, "later@example.com").status_code == 202
    login = client.post("/auth/login", json={"email": "later@example.com", "password": PASSWORD})
    assert login.status_code == 200 and login.get_json()["data"]["access_token"]


def test_the_new_account_gets_its_stripe_customer_once_the_answer_is_sent(client, sandbox):
    response = _register(client, "customer@example.com", buffered=False)  # not yet closed by the server
    assert db.session.scalar(sa.select(User.stripe_customer_id)) is None  # not in the answer's time
    response.close()  # the WSGI server closes it once the answer is sent
    db.session.expire_all()
    customer_id = db.session.scalar(sa.select(User.stripe_customer_id))
    assert sandbox.client().v1.customers.retrieve(customer_id).email == "customer@example.com"


def test_registrations_per_address_hold_the_documented_limit(client):
    documented = int(Config.REGISTER_THROTTLE.split()[0])
    statuses = [_register(client, f"probe{n}@example.com").status_code for n in range(documented + 2)]
    assert statuses == [202] * documented + [429, 429]
    assert client.post("/users", json={}).get_json()["error"]["code"] == "too_many_requests"


def test_registrations_per_email_hold_the_documented_limit_from_any_address(client):
    documented = int(Config.REGISTER_EMAIL_THROTTLE.split()[0])
    statuses = [
        _register(client, "target@example.com", address=f"10.0.0.{n + 1}").status_code
        for n in range(documented + 1)
    ]
    assert statuses == [202] * documented + [429]


def test_bad_input_is_not_counted_as_a_registration(client):
    documented = int(Config.REGISTER_THROTTLE.split()[0])
    for _ in range(documented + 1):
        assert client.post("/users", json={"email": "nope"}).status_code == 400
    assert _register(client, "after-mistakes@example.com").status_code == 202
