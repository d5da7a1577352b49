"""One counter per limit, whatever route spends it; current-password checks and email changes throttled."""

from __future__ import annotations

import sqlalchemy as sa

from portal.extensions import db
from portal.mail.models import OutboundEmail
from tests.auth.conftest import submit
from tests.factories import DEFAULT_PASSWORD, api_register

NEW_PASSWORD = "another-long-password"


def _web_register(client, n: int):
    data = {"name": f"Web {n}", "email": f"web{n}@example.com", "password": DEFAULT_PASSWORD}
    return submit(client, "/register", {**data, "confirm": DEFAULT_PASSWORD})


def test_registrations_per_address_are_counted_across_web_and_api(client):
    assert client.application.config["REGISTER_THROTTLE"] == "10 per hour"
    answers = [_web_register(client, n).status_code for n in range(6)]
    body = {"name": "Api", "password": DEFAULT_PASSWORD}
    for n in range(8):
        answers.append(client.post("/users", json={**body, "email": f"api{n}@example.com"}).status_code)
    answers += [_web_register(client, n).status_code for n in range(6, 10)]
    assert len([code for code in answers if code != 429]) == 10
    assert answers[10:] == [429] * 8


def test_failed_web_logins_throttle_api_logins_from_the_same_address(client, user):
    for _ in range(5):
        assert submit(client, "/login", {"email": user.email, "password": "wrong-1"}).status_code == 422
    response = client.post("/auth/login", json={"email": user.email, "password": DEFAULT_PASSWORD})
    assert response.status_code == 429


def test_failed_logins_per_email_are_counted_across_web_and_api(app, client, user):
    app.config.update(LOGIN_THROTTLE="1000 per minute", LOGIN_EMAIL_THROTTLE="4 per hour")
    for _ in range(2):
        assert submit(client, "/login", {"email": user.email, "password": "wrong-1"}).status_code == 422
    for _ in range(2):
        assert client.post("/auth/login", json={"email": user.email, "password": "wrong"}).status_code == 401
    assert client.post("/auth/login", json={"email": user.email, "password": "wrong"}).status_code == 429


def _api_account(client):
    data = api_register(client, "Api User", "api@example.com")
    return data["user"]["id"], {"Authorization": f"Bearer {data['access_token']}"}


def test_wrong_current_passwords_on_the_api_are_throttled(app, client):
    assert app.config["CURRENT_PASSWORD_THROTTLE"] == "5 per 15 minutes"
    uid, headers = _api_account(client)
    for n in range(5):
        body = {"email": "new@example.com", "currentPassword": f"wrong{n}"}
        assert client.patch(f"/users/{uid}", json=body, headers=headers).status_code == 403
    body = {"email": "new@example.com", "currentPassword": DEFAULT_PASSWORD}
    response = client.patch(f"/users/{uid}", json=body, headers=headers)
    assert response.status_code == 429
    assert "Too many wrong current passwords" in response.get_json()["error"]["message"]


def test_wrong_current_passwords_count_across_every_form_of_the_account(app, client, logged_in):
    """Password change, profile email change and account deletion share one per-account count."""
    change = {"current_password": "wrong", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    for _ in range(2):
        assert submit(client, "/account/password", change).status_code == 422
    profile = {"name": "Someone", "email": "new@example.com", "current_password": "wrong"}
    for _ in range(2):
        assert submit(client, "/account/profile", profile).status_code == 422
    assert submit(client, "/account/delete", {"password": "wrong"}).status_code == 422
    right = {**change, "current_password": DEFAULT_PASSWORD}
    response = submit(client, "/account/password", right)
    assert response.status_code == 429
    assert "Too many wrong current passwords" in response.get_data(as_text=True)


def test_a_right_current_password_does_not_count(app, client):
    uid, headers = _api_account(client)
    for n in range(8):
        body = {"name": f"Name {n}", "email": "api@example.com", "currentPassword": DEFAULT_PASSWORD}
        assert client.patch(f"/users/{uid}", json=body, headers=headers).status_code == 200


def _emails_to(address: str) -> int:
    return db.session.scalar(sa.select(sa.func.count()).where(OutboundEmail.recipient == address))


def test_email_change_requests_to_one_address_are_throttled(app, client):
    assert app.config["EMAIL_CHANGE_THROTTLE"] == "3 per hour"
    uid, headers = _api_account(client)
    body = {"email": "victim@example.com", "currentPassword": DEFAULT_PASSWORD}
    answers = [client.patch(f"/users/{uid}", json=body, headers=headers).status_code for _ in range(25)]
    assert answers[:3] == [200] * 3 and set(answers[3:]) == {429}
    assert _emails_to("victim@example.com") == 3


def test_email_change_requests_per_target_are_shared_by_every_account(app, client, logged_in):
    uid, headers = _api_account(client)
    body = {"email": "victim@example.com", "currentPassword": DEFAULT_PASSWORD}
    for _ in range(2):
        assert client.patch(f"/users/{uid}", json=body, headers=headers).status_code == 200
    profile = {"name": "Someone", "email": "victim@example.com", "current_password": DEFAULT_PASSWORD}
    assert submit(client, "/account/profile", profile).status_code == 302
    response = submit(client, "/account/profile", profile)
    assert response.status_code == 429
    assert _emails_to("victim@example.com") == 3
