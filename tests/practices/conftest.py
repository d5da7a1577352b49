"""Practice fixtures: a practice with an owner, linked to a (made-up) Stripe customer."""

from __future__ import annotations

import itertools

import pytest
from flask import g

from portal.extensions import db
from portal.practices.models import MemberRole, Practice, PracticeMember

_customers = itertools.count(1)


def make_practice(owner, name: str = "Riverside Clinic", customer_id: str | None = None) -> Practice:
    """Without Stripe: the customer id is set directly (the sync tests need no Stripe at all)."""
    practice = Practice(name=name, stripe_customer_id=customer_id or f"cus_practice{next(_customers)}")
    practice.members.append(PracticeMember(user_id=owner.id, role=MemberRole.OWNER))
    db.session.add(practice)
    db.session.commit()
    return practice


@pytest.fixture
def owner(user_factory):
    return user_factory(name="Olive Owner")


@pytest.fixture
def practice(owner):
    return make_practice(owner)


def add_member(practice: Practice, user, role: MemberRole) -> PracticeMember:
    member = PracticeMember(practice_id=practice.id, user_id=user.id, role=role)
    db.session.add(member)
    db.session.commit()
    return member


def login(auth, user):
    assert auth.login(user.email).status_code == 302
    # Flask-WTF caches the old session's token in ``g``, which the test's app context keeps
    # across requests.
    g.pop("csrf_token", None)
    return auth.client


@pytest.fixture
def owner_client(auth, owner):
    return login(auth, owner)
