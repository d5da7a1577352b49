"""A practice is its own Stripe customer, created later when Stripe is down."""

from __future__ import annotations

from portal.gateway import customers as stripe_customers
from portal.practices import members
from portal.users.models import StripeSyncState


def test_practice_customer_carries_metadata(owner):
    practice = members.create_practice(owner, "Lakeside Physio")
    customer = stripe_customers.retrieve_customer(practice.stripe_customer_id)
    assert customer.metadata["practiceId"] == str(practice.id)
    assert customer.description == f"Customer for practice ID: {practice.id}"
    assert customer.email == owner.email and customer.name == "Lakeside Physio"


def test_outage_defers_the_customer_and_retry_creates_exactly_one(owner, sandbox, runner):
    with sandbox.outage():
        practice = members.create_practice(owner, "Hilltop Vets")
    assert practice.stripe_customer_id is None
    assert practice.stripe_sync == StripeSyncState.PENDING
    result = runner.invoke(args=["billing", "retry"])
    assert result.exit_code == 0, result.output
    assert "practices synced 1" in result.output
    assert practice.stripe_customer_id
    result = runner.invoke(args=["billing", "retry"])
    assert "practices synced 0" in result.output
    found = stripe_customers.find_customer_by_metadata("practiceRef", practice.stripe_ref)
    assert found.id == practice.stripe_customer_id


def test_seed_demo_makes_a_practice_once(runner):
    from portal.auth.services import find_user_by_email
    from portal.practices.demo import DEMO_PRACTICE

    for _ in range(2):
        result = runner.invoke(args=["seed-demo"])
        assert result.exit_code == 0, result.output
    owner = find_user_by_email("owner@example.com")
    [(practice, member)] = members.practices_for(owner)
    assert practice.name == DEMO_PRACTICE and member.role == "owner"
    assert len(practice.members) == 3
