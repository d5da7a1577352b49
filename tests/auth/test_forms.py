"""Every bad input on every account form: a message under the field, what was typed kept
(never a password), and nothing written to the database."""

from __future__ import annotations

import pytest

from portal.auth import tokens
from tests.auth.conftest import db_state, field_errors, submit
from tests.conftest import both_engines

TYPED_PASSWORD = "typed-secret-9876"
LONG_EMAIL = "a" * 64 + "@" + "b" * 190 + ".com"

REGISTER_OK = {
    "name": "Grace Hopper",
    "email": "grace@example.com",
    "password": TYPED_PASSWORD,
    "confirm": TYPED_PASSWORD,
}


def assert_rejected(response, before, field: str, message: str, kept: dict[str, str] | None = None) -> str:
    """422, the message under ``field``, typed values kept, no password echoed, database untouched."""
    html = response.get_data(as_text=True)
    assert response.status_code == 422, html
    assert any(message in error for error in field_errors(html, field)), field_errors(html, field)
    assert f'id="{field}"' in html and 'aria-invalid="true"' in html
    for name, value in (kept or {}).items():
        assert f'name="{name}"' in html and f'value="{value}"' in html, f"{name} not kept"
    assert TYPED_PASSWORD not in html
    assert db_state() == before
    return html


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"name": ""}, "name", "Enter your name."),
        ({"name": "x" * 121}, "name", "Keep your name under 120 characters."),
        ({"email": ""}, "email", "Enter your email address."),
        ({"email": "not-an-email"}, "email", "Enter a valid email address"),
        ({"email": LONG_EMAIL}, "email", "That email address is too long."),
        ({"password": "", "confirm": ""}, "password", "Choose a password."),
        ({"password": "short1", "confirm": "short1"}, "password", "Use between 10 and 128 characters."),
        ({"password": "p" * 129, "confirm": "p" * 129}, "password", "Use between 10 and 128 characters."),
        ({"confirm": ""}, "confirm", "Repeat the password."),
        ({"confirm": "something-else-entirely"}, "confirm", "The passwords do not match."),
    ],
)
def test_register_bad_input(client, mailbox, changes, field, message):
    before = db_state()
    data = {**REGISTER_OK, **changes}
    response = submit(client, "/register", data)
    kept = {name: data[name] for name in ("name", "email") if name not in changes and data[name]}
    html = assert_rejected(response, before, field, message, kept)
    assert "p" * 129 not in html and "short1" not in html
    assert mailbox.messages == []


@pytest.mark.parametrize("typed", ["{}", "{}  ", "  {}"])
@both_engines
def test_register_duplicate_email_any_case_changes_nothing_and_tells_the_owner(client, user, typed, mailbox):
    users_before = db_state()[0]
    email = typed.format(user.email.upper())
    response = submit(client, "/register", {**REGISTER_OK, "email": email})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert db_state()[0] == users_before
    assert mailbox.wait_for(user.email, "Someone tried to register")


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"email": "", "password": TYPED_PASSWORD}, "email", "Enter your email address."),
        ({"email": "nope", "password": TYPED_PASSWORD}, "email", "Enter a valid email address"),
        ({"email": "who@example.com", "password": ""}, "password", "Enter your password."),
        ({"email": "who@example.com", "password": TYPED_PASSWORD}, "password", "do not match an account"),
    ],
)
def test_login_bad_input(client, user, data, field, message):
    before = db_state()
    response = submit(client, "/login", data)
    kept = {"email": data["email"]} if data["email"] else {}
    assert_rejected(response, before, field, message, kept)
    assert client.get("/account").status_code == 302  # still logged out


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"name": "", "email": "new@example.com"}, "name", "Enter your name."),
        ({"name": "N" * 121, "email": "new@example.com"}, "name", "Keep your name under 120 characters."),
        ({"name": "New Name", "email": ""}, "email", "Enter your email address."),
        ({"name": "New Name", "email": "broken@"}, "email", "Enter a valid email address"),
    ],
)
def test_profile_bad_input(logged_in, user_factory, mailbox, data, field, message):
    user_factory(email="taken@example.com")
    mailbox.clear()
    before = db_state()
    response = submit(logged_in, "/account/profile", data)
    kept = {name: value for name, value in data.items() if value and name != field}
    if field == "email" and data["email"]:
        kept["email"] = data["email"]
    assert_rejected(response, before, field, message, kept)
    assert mailbox.messages == []


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"current_password": ""}, "current_password", "Enter your current password."),
        ({"current_password": "wrong-password-1"}, "current_password", "current password is not correct"),
        ({"password": "", "confirm": ""}, "password", "Choose a password."),
        ({"password": "tooshort", "confirm": "tooshort"}, "password", "Use between 10 and 128 characters."),
        ({"confirm": ""}, "confirm", "Repeat the new password."),
        ({"confirm": "not-the-same-password"}, "confirm", "The passwords do not match."),
    ],
)
def test_change_password_bad_input(logged_in, password, data, field, message):
    before = db_state()
    form = {"current_password": password, "password": TYPED_PASSWORD, "confirm": TYPED_PASSWORD, **data}
    response = submit(logged_in, "/account/password", form)
    html = assert_rejected(response, before, field, message)
    assert password not in html and "tooshort" not in html
    assert logged_in.get("/account").status_code == 200  # this login survives


@pytest.mark.parametrize(
    ("email", "message"),
    [("", "Enter your email address."), ("at-nowhere", "Enter a valid email address")],
)
def test_forgot_password_bad_input(client, user, mailbox, email, message):
    before = db_state()
    response = submit(client, "/forgot-password", {"email": email})
    assert_rejected(response, before, "email", message, {"email": email} if email else {})
    assert mailbox.messages == []


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"password": "", "confirm": ""}, "password", "Choose a password."),
        ({"password": "tiny", "confirm": "tiny"}, "password", "Use between 10 and 128 characters."),
        ({"password": TYPED_PASSWORD, "confirm": ""}, "confirm", "Repeat the new password."),
        ({"password": TYPED_PASSWORD, "confirm": "different-password"}, "confirm", "do not match"),
    ],
)
def test_reset_password_bad_input(client, user, data, field, message):
    path = f"/reset-password/{tokens.make_reset_token(user)}"
    before = db_state()
    response = submit(client, path, data)
    assert_rejected(response, before, field, message)
    assert client.get(path).status_code == 200  # the link still works after a typo


@pytest.mark.parametrize(
    ("typed", "message"),
    [("", "Enter your password to confirm."), ("not-my-password", "Your password is not correct.")],
)
def test_delete_account_bad_input(logged_in, typed, message):
    before = db_state()
    response = submit(logged_in, "/account/delete", {"password": typed})
    html = assert_rejected(response, before, "password", message)
    assert typed == "" or typed not in html
    assert logged_in.get("/account").status_code == 200
