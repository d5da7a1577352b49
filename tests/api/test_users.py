"""JSON API: users, tokens and the envelope."""

from __future__ import annotations

import pytest

from portal.extensions import db
from portal.users.models import User
from tests.factories import api_register

REGISTRATION = {"name": "Api User", "email": "api@example.com", "password": "long-enough-password"}


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def _register(client, **changes) -> dict:
    body = {**REGISTRATION, **changes}
    return api_register(client, body["name"], body["email"], body["password"])


@pytest.fixture
def registered(client):
    return _register(client)


def test_register_then_log_in_gives_user_token_and_customer(client, sandbox):
    response = client.post("/users", json=REGISTRATION)
    assert response.status_code == 202
    body = response.get_json()
    assert body["success"] is True and body["timestamp"].endswith("Z")
    assert body["data"]["email"] == "api@example.com" and "access_token" not in body["data"]
    response.close()  # once the answer is sent, the Stripe customer is created
    login = client.post(
        "/auth/login", json={"email": "api@example.com", "password": REGISTRATION["password"]}
    )
    user = login.get_json()["data"]["user"]
    assert user["email"] == "api@example.com" and user["stripeCustomerId"].startswith("cus_")
    assert login.get_json()["data"]["access_token"]


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({**REGISTRATION, "email": "nope"}, "email"),
        ({**REGISTRATION, "password": "short"}, "password"),
        ({**REGISTRATION, "name": ""}, "name"),
        ({"email": "x@example.com"}, "name"),
    ],
)
def test_register_bad_input_is_400_and_writes_nothing(client, payload, message):
    response = client.post("/users", json=payload)
    assert response.status_code == 400
    body = response.get_json()
    assert body["success"] is False and body["error"]["code"] == "validation_error"
    assert message in body["error"]["message"]
    assert db.session.query(User).count() == 0


def test_register_non_json_is_400(client):
    response = client.post("/users", data="name=x", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "invalid_json"


def test_register_duplicate_email_answers_like_a_new_one(client, registered):
    """See tests/api/test_registration_enumeration.py: nothing tells an outsider the email is taken."""
    response = client.post("/users", json={**REGISTRATION, "email": "API@example.com"})
    assert response.status_code == 202 and response.get_json()["data"]["email"] == "api@example.com"
    assert db.session.query(User).count() == 1


def test_get_self(client, registered):
    uid = registered["user"]["id"]
    response = client.get(f"/users/{uid}", headers=bearer(registered["access_token"]))
    assert response.status_code == 200 and response.get_json()["data"]["id"] == uid


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer nonsense", "Basic abc"])
def test_missing_or_bad_token_is_401(client, registered, header):
    headers = {"Authorization": header} if header else {}
    response = client.get(f"/users/{registered['user']['id']}", headers=headers)
    assert response.status_code == 401 and response.get_json()["success"] is False


def test_session_cookie_does_not_authenticate_the_api(client, auth, registered):
    assert auth.login("api@example.com", "long-enough-password").status_code == 302
    assert client.get(f"/users/{registered['user']['id']}").status_code == 401


def test_other_users_are_403_and_unknown_404(client, registered):
    other = _register(client, email="other@example.com")
    token = bearer(registered["access_token"])
    assert client.get(f"/users/{other['user']['id']}", headers=token).status_code == 403
    assert client.patch(f"/users/{other['user']['id']}", json={"name": "x"}, headers=token).status_code == 403
    assert client.delete(f"/users/{other['user']['id']}", headers=token).status_code == 403
    admin = db.session.get(User, registered["user"]["id"])
    admin.role = "admin"
    db.session.commit()
    assert client.get(f"/users/{other['user']['id']}", headers=token).status_code == 200
    assert client.get("/users/99999", headers=token).status_code == 404


def test_patch_syncs_to_stripe(client, sandbox, registered):
    uid = registered["user"]["id"]
    response = client.patch(
        f"/users/{uid}", json={"name": "Renamed"}, headers=bearer(registered["access_token"])
    )
    assert response.status_code == 200 and response.get_json()["data"]["stripeSynced"] is True
    customer = sandbox.client().v1.customers.retrieve(registered["user"]["stripeCustomerId"])
    assert customer.name == "Renamed"


def test_patch_bad_email_is_400(client, registered):
    uid = registered["user"]["id"]
    response = client.patch(
        f"/users/{uid}", json={"email": "bad"}, headers=bearer(registered["access_token"])
    )
    assert response.status_code == 400
    assert db.session.get(User, uid).email == "api@example.com"


def test_delete_removes_user_and_customer_and_token(client, sandbox, registered):
    uid, token = registered["user"]["id"], registered["access_token"]
    assert client.delete(f"/users/{uid}", headers=bearer(token)).status_code == 200
    assert db.session.get(User, uid) is None
    assert (
        sandbox.client()
        .v1.customers.retrieve(registered["user"]["stripeCustomerId"])
        .to_dict()
        .get("deleted")
        is True
    )
    assert client.get(f"/users/{uid}", headers=bearer(token)).status_code == 401


def test_revoked_and_expired_tokens_are_401(client, app, registered):
    token = registered["access_token"]
    assert client.post("/auth/logout", headers=bearer(token)).status_code == 200
    assert client.get(f"/users/{registered['user']['id']}", headers=bearer(token)).status_code == 401
    app.config["API_TOKEN_TTL_SECONDS"] = -1
    expired = client.post(
        "/auth/login", json={"email": "api@example.com", "password": "long-enough-password"}
    )
    token = expired.get_json()["data"]["access_token"]
    assert client.get(f"/users/{registered['user']['id']}", headers=bearer(token)).status_code == 401


def test_openapi_document_lists_every_endpoint(client):
    spec = client.get("/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    for path in (
        "/users",
        "/users/{id}",
        "/payments/customer/payment-methods",
        "/payments/customer/payment-methods/{paymentMethodId}",
        "/payments/customer/default-payment-method",
        "/payments/customer/setup-intent",
    ):
        assert path in spec["paths"]


def test_patch_email_never_says_an_address_is_taken(client, registered, mailbox):
    """Free or taken, the same answer; the email changes only when the new address confirms it."""
    _register(client, email="taken@example.com")
    uid, headers = registered["user"]["id"], bearer(registered["access_token"])
    answers = []
    for address in ("free@example.com", "taken@example.com"):
        body = {"email": address, "currentPassword": REGISTRATION["password"]}
        response = client.patch(f"/users/{uid}", json=body, headers=headers)
        answers.append((response.status_code, response.get_json()["data"]["emailChangePending"]))
        assert response.get_json()["data"]["email"] == "api@example.com"
    assert answers == [(200, True), (200, True)]
    assert mailbox.wait_for("free@example.com", "Confirm your new email address")
    assert mailbox.wait_for("taken@example.com", "Someone asked to use your email address")
