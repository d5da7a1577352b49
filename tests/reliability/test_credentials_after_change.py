"""Figure: credentials still alive after an account deletion or a credential change (0).

For each change, a person has two API tokens, a login session on another device and a
remember-me cookie (alone, in a browser whose session cookie is gone); after the change each is
tried. The login or token that made the change is not counted: it stays, as the page says.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable

from tests.auth.conftest import cookie_client, email_change_path, submit
from tests.conftest import IsolatedClient
from tests.factories import DEFAULT_PASSWORD, api_register
from tests.smtp import body_text

NEW_PASSWORD = "a-better-password-7"
_people = itertools.count(1)


class Person:
    """One account and every kind of credential to it."""

    def __init__(self, app, client) -> None:
        n = next(_people)
        self.app, self.client, self.email = app, client, f"cred{n}@example.com"
        data = api_register(client, f"Cred {n}", self.email)
        self.id, self.acting_token = data["user"]["id"], data["access_token"]
        login = client.post("/auth/login", json={"email": self.email, "password": DEFAULT_PASSWORD})
        self.other_token = login.get_json()["data"]["access_token"]
        self.acting_browser = self._browser()
        self.other_browser = self._browser()
        remembering = self._browser(remember=True)
        self.remember_cookie = remembering.get_cookie("remember_token", domain="portal.test").value

    def _browser(self, remember: bool = False) -> IsolatedClient:
        browser = cookie_client(self.app)
        data = {"email": self.email, "password": DEFAULT_PASSWORD, **({"remember": "y"} if remember else {})}
        assert submit(browser, "/login", data).status_code == 302
        return browser

    def alive(self, *, keep_token: bool = False) -> dict[str, bool]:
        """Which of the other credentials still open the account."""

        def api(token: str) -> bool:
            auth = {"Authorization": f"Bearer {token}"}
            return self.client.get(f"/users/{self.id}", headers=auth).status_code == 200

        remembered = cookie_client(self.app, remember_token=self.remember_cookie)
        found = {
            "session on another device": self.other_browser.get("/account").status_code == 200,
            "remember-me cookie": remembered.get("/account").status_code == 200,
            "API token": api(self.other_token),
        }
        if not keep_token:
            found["API token used elsewhere"] = api(self.acting_token)
        return found


def _delete(person: Person, mailbox) -> None:
    assert submit(person.acting_browser, "/account/delete", {"password": DEFAULT_PASSWORD}).status_code == 302


def _change_password(person: Person, mailbox) -> None:
    data = {"current_password": DEFAULT_PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    assert submit(person.acting_browser, "/account/password", data).status_code == 302
    assert person.acting_browser.get("/account").status_code == 200  # this device stays logged in


def _reset_password(person: Person, mailbox) -> None:
    assert submit(cookie_client(person.app), "/forgot-password", {"email": person.email}).status_code == 302
    link = re.search(
        r"http://portal\.test(/reset-password/\S+)", body_text(mailbox.wait_for(person.email, "Reset"))
    )
    data = {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    assert submit(cookie_client(person.app), link.group(1), data).status_code == 302


def _change_email_on_the_profile(person: Person, mailbox) -> None:
    new_email = f"moved.{person.email}"
    data = {"name": "Moved", "email": new_email, "current_password": DEFAULT_PASSWORD}
    assert submit(person.acting_browser, "/account/profile", data).status_code == 302
    assert person.acting_browser.get(email_change_path(mailbox, new_email)).status_code == 302
    assert person.acting_browser.get("/account").status_code == 200  # the confirming browser stays


def _change_email_through_the_api(person: Person, mailbox) -> None:
    new_email = f"api.{person.email}"
    response = person.client.patch(
        f"/users/{person.id}",
        json={"email": new_email, "currentPassword": DEFAULT_PASSWORD},
        headers={"Authorization": f"Bearer {person.acting_token}"},
    )
    assert response.status_code == 200 and response.get_json()["data"]["emailChangePending"]
    assert cookie_client(person.app).get(email_change_path(mailbox, new_email)).status_code == 302


CHANGES: dict[str, tuple[Callable, bool]] = {
    "account deletion": (_delete, False),
    "password change": (_change_password, False),
    "password reset": (_reset_password, False),
    "email change (profile)": (_change_email_on_the_profile, False),
    "email change (API, confirmed by the link)": (_change_email_through_the_api, False),
}


def test_no_credential_outlives_a_deletion_or_a_credential_change(app, client, mailbox, figure):
    tried, survivors = 0, []
    for change, (make_change, keeps_token) in CHANGES.items():
        person = Person(app, client)
        assert all(person.alive().values()), "every credential works before the change"
        make_change(person, mailbox)
        after = person.alive(keep_token=keeps_token)
        tried += len(after)
        survivors += [f"{what} after {change}" for what, alive in after.items() if alive]
    assert survivors == []
    figure(
        "credentials_after_change",
        len(survivors),
        f"of {tried} credentials alive after account deletion, password change, password reset or "
        "email change (login sessions, remember-me cookies, API tokens)",
    )
