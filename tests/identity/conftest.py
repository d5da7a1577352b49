"""Helpers for the identity tests: an API account, its token, a live practice."""

from __future__ import annotations

import itertools

import pytest

from portal.extensions import db
from portal.practices import members
from tests.factories import DEFAULT_PASSWORD
from tests.factories import api_register as register_through_api

_people = itertools.count(1)


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def api_register(client, name: str | None = None, password: str = DEFAULT_PASSWORD) -> dict:
    """``POST /users`` then ``POST /auth/login``: the new user's JSON and its access token."""
    n = next(_people)
    return register_through_api(client, name or f"Person {n}", f"person{n}@example.com", password)


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
    practice = members.create_practice(owner, "Harbour Dental")
    make_live(practice)
    return practice


@pytest.fixture
def owner(user_factory):
    return user_factory(name="Olive Owner")
