"""Factories for test data, written through the same services the app uses."""

from __future__ import annotations

import itertools

from portal.auth import services as accounts
from portal.auth.models import Role, User

_sequence = itertools.count(1)
DEFAULT_PASSWORD = "correct-horse-battery"


def make_user(
    name: str | None = None,
    email: str | None = None,
    password: str = DEFAULT_PASSWORD,
    role: Role = Role.USER,
) -> User:
    n = next(_sequence)
    return accounts.register_user(
        name or f"Test User {n}", email or f"user{n}@example.com", password, role=role
    )


def api_register(client, name: str, email: str, password: str = DEFAULT_PASSWORD) -> dict:
    """``POST /users`` then ``POST /auth/login`` (registration hands out no token): the login's
    data, ``{"user": ..., "access_token": ...}``."""
    body = {"name": name, "email": email, "password": password}
    registered = client.post("/users", json=body)
    assert registered.status_code == 202, registered.get_data(as_text=True)
    registered.close()  # the WSGI server closes it once sent: the Stripe customer is created then
    login = client.post("/auth/login", json={"email": email, "password": password})
    assert login.status_code == 200, login.get_data(as_text=True)
    return login.get_json()["data"]
