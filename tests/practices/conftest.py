"""Practice fixtures: a practice with an owner, linked to a (made-up) Stripe customer; and, for the
tests whose ``practice`` has a real sandbox customer, the plans, its inbox of Stripe events and an
active subscription."""

from __future__ import annotations

import pytest
from flask import g

from portal.practices.models import MemberRole, Practice, PracticeMember
from portal.practices.status import BillingStatus
from tests.factories import PracticeFactory, PracticeMemberFactory
from tests.practices.sandbox_helpers import Inbox, save_card, subscribe_directly


def make_practice(owner, name: str = "Riverside Clinic", customer_id: str | None = None) -> Practice:
    """Without Stripe: the customer id is set directly (the sync tests need no Stripe at all)."""
    if customer_id is None:
        return PracticeFactory(name=name, owner=owner)
    return PracticeFactory(name=name, owner=owner, stripe_customer_id=customer_id)


@pytest.fixture
def owner(user_factory):
    return user_factory(name="Olive Owner")


@pytest.fixture
def practice(owner):
    return make_practice(owner)


def add_member(practice: Practice, user, role: MemberRole) -> PracticeMember:
    return PracticeMemberFactory(practice=practice, user=user, role=role)


def login(auth, user):
    assert auth.login(user.email).status_code == 302
    # Flask-WTF caches the old session's token in ``g``, which the test's app context keeps
    # across requests.
    g.pop("csrf_token", None)
    return auth.client


@pytest.fixture
def owner_client(auth, owner):
    return login(auth, owner)


@pytest.fixture
def plans(runner):
    """The plans and the onboarding fee, at the sandbox as ``flask billing bootstrap`` makes them."""
    result = runner.invoke(args=["billing", "bootstrap"])
    assert result.exit_code == 0, result.output


@pytest.fixture
def inbox(sandbox, practice):
    """The Stripe events about the practice's customer, delivered when the test says."""
    return Inbox(sandbox, practice.stripe_customer_id)


@pytest.fixture
def active(sandbox, practice, inbox):
    """Card saved, subscribed monthly with the onboarding fee, events applied: DONE."""
    save_card(sandbox, practice)
    subscribe_directly(sandbox, practice)
    inbox.deliver()
    assert practice.billing_status == BillingStatus.DONE
    return practice
