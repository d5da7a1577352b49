"""Finding 4: a password change or reset, or a new email, ends every other credential.

And the API changes the email only with the current password.
"""

from __future__ import annotations

import re

from portal.extensions import db
from portal.users.models import User
from tests.auth.conftest import cookie_client, email_change_path, submit
from tests.conftest import both_engines
from tests.identity.conftest import api_register, bearer
from tests.smtp import body_text

NEW_PASSWORD = "a-better-password-7"


def _web_login(app, email: str, password: str, remember: bool = False):
    client = cookie_client(app)
    data = {"email": email, "password": password, **({"remember": "y"} if remember else {})}
    assert submit(client, "/login", data).status_code == 302
    return client


def _token_works(client, user_id: int, token: str) -> bool:
    return client.get(f"/users/{user_id}", headers=bearer(token)).status_code == 200


@both_engines
def test_a_password_change_ends_api_tokens_and_other_logins(app, client, password):
    person = api_register(client)
    uid, token, email = person["user"]["id"], person["access_token"], person["user"]["email"]
    here, elsewhere = _web_login(app, email, password), _web_login(app, email, password, remember=True)
    data = {"current_password": password, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    assert submit(here, "/account/password", data).status_code == 302
    assert here.get("/account").status_code == 200  # this login stays
    assert elsewhere.get("/account").status_code == 302
    assert not _token_works(client, uid, token)


def test_a_password_reset_ends_api_tokens(app, client, mailbox):
    person = api_register(client)
    uid, token, email = person["user"]["id"], person["access_token"], person["user"]["email"]
    assert submit(cookie_client(app), "/forgot-password", {"email": email}).status_code == 302
    link = re.search(r"http://portal\.test(/reset-password/\S+)", body_text(mailbox.wait_for(email, "Reset")))
    reset = submit(cookie_client(app), link.group(1), {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert reset.status_code == 302
    assert not _token_works(client, uid, token)


def test_an_email_change_on_the_profile_ends_api_tokens_and_other_logins(app, client, password, mailbox):
    person = api_register(client)
    uid, token, email = person["user"]["id"], person["access_token"], person["user"]["email"]
    here, elsewhere = _web_login(app, email, password), _web_login(app, email, password)
    data = {"name": "Same Name", "email": "moved@example.com", "current_password": password}
    assert submit(here, "/account/profile", data).status_code == 302
    assert elsewhere.get("/account").status_code == 200  # asked, not changed: nothing ends yet
    assert here.get(email_change_path(mailbox, "moved@example.com")).status_code == 302
    assert here.get("/account").status_code == 200
    assert elsewhere.get("/account").status_code == 302
    assert not _token_works(client, uid, token)


def test_the_api_changes_the_email_only_with_the_current_password(app, client, password, mailbox):
    person = api_register(client)
    uid, token = person["user"]["id"], person["access_token"]
    other_token = client.post(
        "/auth/login", json={"email": person["user"]["email"], "password": password}
    ).get_json()["data"]["access_token"]

    for body in ({"email": "thief@example.com"}, {"email": "thief@example.com", "currentPassword": "wrong"}):
        refused = client.patch(f"/users/{uid}", json=body, headers=bearer(token))
        assert refused.status_code == 403
        error = refused.get_json()["error"]
        assert error["code"] == "current_password_required"
        assert "currentPassword" in error["message"]
        db.session.expire_all()
        assert db.session.get(User, uid).email == person["user"]["email"]

    # A name alone needs no password.
    assert client.patch(f"/users/{uid}", json={"name": "Renamed"}, headers=bearer(token)).status_code == 200

    moved = client.patch(
        f"/users/{uid}",
        json={"email": "moved@example.com", "currentPassword": password},
        headers=bearer(token),
    )
    assert moved.status_code == 200 and moved.get_json()["data"]["emailChangePending"]
    assert _token_works(client, uid, other_token)  # asked, not changed: nothing ends yet
    assert cookie_client(app).get(email_change_path(mailbox, "moved@example.com")).status_code == 302
    db.session.expire_all()
    assert db.session.get(User, uid).email == "moved@example.com"
    # The new address is a new way in: every token ends with the change.
    assert not _token_works(client, uid, token)
    assert not _token_works(client, uid, other_token)
