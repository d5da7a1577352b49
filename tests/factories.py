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
