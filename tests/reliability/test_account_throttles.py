"""Figure: wrong current passwords tried per account before 429 (exactly CURRENT_PASSWORD_THROTTLE),
and emails one address receives from a flood of email-change requests (exactly EMAIL_CHANGE_THROTTLE).

Someone holding a logged-in session and an API token (not the password) guesses the current
password 30 times, spread over every check that asks for it: ``PATCH /users/{id}`` changing the
email, the profile page's email change, the password change and account deletion. Then five
accounts ask, 25 times in all, to move their email to one victim address through the API and
the profile page.
"""

from __future__ import annotations

import sqlalchemy as sa

from config import Config
from portal.extensions import db
from portal.mail.models import OutboundEmail
from tests.auth.conftest import submit
from tests.conftest import AuthActions
from tests.factories import DEFAULT_PASSWORD, api_register

GUESSES = 30
CHANGE_REQUESTS = 25


def _web_attempt(client, form: str, password: str):
    if form == "profile":
        data = {"name": "Guessed", "email": "moved@example.com", "current_password": password}
        return submit(client, "/account/profile", data)
    if form == "password":
        new = "another-long-password"
        return submit(
            client, "/account/password", {"current_password": password, "password": new, "confirm": new}
        )
    return submit(client, "/account/delete", {"password": password})


def test_current_password_and_email_change_throttles(app, client, figure):
    data = api_register(client, "Guessed", "guessed@example.com")
    uid, headers = data["user"]["id"], {"Authorization": f"Bearer {data['access_token']}"}
    AuthActions(client).login("guessed@example.com", DEFAULT_PASSWORD)
    routes = ["api", "profile", "password", "delete"]
    answers = []
    for n in range(GUESSES):
        route, guess = routes[n % len(routes)], f"wrong-guess-{n}"
        if route == "api":
            body = {"email": "moved@example.com", "currentPassword": guess}
            answers.append(client.patch(f"/users/{uid}", json=body, headers=headers).status_code)
        else:
            answers.append(_web_attempt(client, route, guess).status_code)
    tried = len([code for code in answers if code != 429])
    documented = int(Config.CURRENT_PASSWORD_THROTTLE.split()[0])
    assert tried == documented and set(answers[documented:]) == {429}, answers

    accounts = []
    for n in range(5):
        login = api_register(client, f"Asker {n}", f"asker{n}@example.com")
        accounts.append((login["user"]["id"], {"Authorization": f"Bearer {login['access_token']}"}))
    body = {"email": "victim@example.com", "currentPassword": DEFAULT_PASSWORD}
    statuses = [
        client.patch(f"/users/{uid}", json=body, headers=headers).status_code
        for uid, headers in (accounts[n % len(accounts)] for n in range(CHANGE_REQUESTS))
    ]
    emailed = db.session.scalar(
        sa.select(sa.func.count()).where(OutboundEmail.recipient == "victim@example.com")
    )
    allowed = int(Config.EMAIL_CHANGE_THROTTLE.split()[0])
    assert emailed == allowed and statuses.count(200) == allowed, statuses
    figure(
        "current_password_guesses",
        tried,
        f"of {GUESSES} wrong current passwords (API email change, profile, password change, deletion; "
        f"session and token, no password) checked before 429 (documented {documented}); "
        f"{emailed} of {CHANGE_REQUESTS} email-change requests to one address from 5 accounts emailed it "
        f"(documented {allowed})",
    )
