"""Stripe speaks the person's language too (issue 18): Checkout is started in it (the session's
``locale``, which the sandbox records as Stripe does), and the Stripe customers the portal creates
or updates carry it in ``preferred_locales`` (Stripe's own emails and hosted invoice page)."""

from __future__ import annotations

import pytest

from portal.extensions import db
from portal.practices import members
from tests.practices.test_checkout_return import session_id_of, start_checkout
from tests.practices.test_views import csrf


@pytest.fixture
def bootstrapped(runner):
    assert runner.invoke(args=["billing", "bootstrap"]).exit_code == 0


@pytest.mark.parametrize("locale", ["vi", "en"])
def test_checkout_opens_in_the_persons_language(owner, owner_client, bootstrapped, sandbox, locale):
    owner.locale = locale
    db.session.commit()
    practice = members.create_practice(owner, "Nha khoa Bình An")
    session = sandbox.client().v1.checkout.sessions.retrieve(
        session_id_of(start_checkout(owner_client, practice))
    )
    assert session.locale == locale


def test_a_practice_created_in_vietnamese_is_a_vietnamese_speaking_customer(owner, bootstrapped, sandbox):
    owner.locale = "vi"
    db.session.commit()
    practice = members.create_practice(owner, "Nha khoa Bình An")
    customer = sandbox.client().v1.customers.retrieve(practice.stripe_customer_id)
    assert customer.preferred_locales == ["vi"]


def test_the_language_switch_reaches_the_persons_customer(owner, owner_client, sandbox):
    assert owner.stripe_customer_id
    answer = owner_client.post(
        "/locale", data={"locale": "vi", "next": "/account", "csrf_token": csrf(owner_client, "/account")}
    )
    assert answer.status_code == 303
    assert sandbox.client().v1.customers.retrieve(owner.stripe_customer_id).preferred_locales == ["vi"]
    owner_client.post(
        "/locale", data={"locale": "en", "next": "/account", "csrf_token": csrf(owner_client, "/account")}
    )
    assert sandbox.client().v1.customers.retrieve(owner.stripe_customer_id).preferred_locales == ["en"]
