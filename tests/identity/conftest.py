"""Helpers for the identity tests: an API account, its token, a live practice."""

from __future__ import annotations

import itertools

import pytest

from portal.extensions import db
from portal.practices import services as practices
from tests.factories import DEFAULT_PASSWORD

_people = itertools.count(1)


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def api_register(client, name: str | None = None, password: str = DEFAULT_PASSWORD) -> dict:
    """``POST /users``: the new user's JSON and its access token."""
    n = next(_people)
    body = {"name": name or f"Person {n}", "email": f"person{n}@example.com", "password": password}
    response = client.post("/users", json=body)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()["data"]


def make_live(practice) -> None:
    """The practice has a subscription that will bill again (as the webhooks would record it)."""
    practice.stripe_subscription_id = f"sub_live{practice.id}"
    practice.subscription_status = "active"
    practice.onboarding_paid_at = db.func.now()
    db.session.commit()
    practice.refresh_billing_status()
    db.session.commit()


@pytest.fixture
def password() -> str:
    return DEFAULT_PASSWORD


@pytest.fixture
def live_practice(owner):
    """A practice with a real sandbox customer and a live subscription."""
    practice = practices.create_practice(owner, "Harbour Dental")
    make_live(practice)
    return practice


@pytest.fixture
def owner(user_factory):
    return user_factory(name="Olive Owner")
