"""The retention offer tells the truth: Accept applies the coupon the page showed, and an offer the
admin changed or withdrew meanwhile is refused in words (F22); an Accept whose answer Stripe lost is
neither "try again" nor forgotten: History says it was accepted, the offer is not shown again, and the
portal learns Stripe's outcome with the same call and key (F18)."""

# ruff: noqa: F811 (the fixtures are imported from the suites they extend)
from __future__ import annotations

import time

import pytest

from portal.extensions import db
from portal.practices import unconfirmed
from portal.promotions.models import RetentionCoupon
from tests.practices.test_promotion_codes import (  # noqa: F401
    HX,
    billing_form,
    live_practice,
    offers,
    paid_practice,
    retention_coupon,
)


@pytest.fixture
def app_overrides() -> dict:
    return {
        "STRIPE_CONNECT_TIMEOUT_SECONDS": 1,
        "STRIPE_READ_TIMEOUT_SECONDS": 0.5,
        "STRIPE_ACTION_BUDGET_SECONDS": 4,
    }


def _accept_form(client, practice) -> dict:
    form = billing_form(client, practice)
    page = client.get(f"/practices/{practice.id}/billing").get_data(as_text=True)
    import re

    form["coupon"] = re.search(r'name="coupon" value="([^"]+)"', page).group(1)
    return form


def test_accept_applies_the_coupon_shown_not_the_one_configured_since(
    owner_client, paid_practice, retention_coupon, sandbox
):
    form = _accept_form(owner_client, paid_practice)  # shows 30% off for 3 months
    forever = sandbox.client().v1.coupons.create(
        {"amount_off": 9900, "currency": "usd", "duration": "forever"}
    )
    db.session.add(RetentionCoupon(coupon_id=forever.id, amount_off=9900, currency="usd", duration="forever"))
    db.session.commit()

    answer = owner_client.post(
        f"/practices/{paid_practice.id}/billing/retention/accept", data=form, headers=HX
    )
    text = answer.get_data(as_text=True)
    assert "The offer changed since this page was loaded; here is the current one." in text
    assert "$99.00 off" in text  # the current offer, drawn for the person to decide on
    sub = sandbox.client().v1.subscriptions.retrieve(paid_practice.stripe_subscription_id)
    assert not sub.discounts
    assert [o.outcome for o in offers(paid_practice)] == []


def test_an_accept_that_names_no_coupon_applies_none(owner_client, paid_practice, retention_coupon, sandbox):
    """A crafted Accept without the offer's coupon must not take whatever coupon is configured now."""
    form = _accept_form(owner_client, paid_practice)
    del form["coupon"]

    answer = owner_client.post(
        f"/practices/{paid_practice.id}/billing/retention/accept", data=form, headers=HX
    )

    assert "Reload the page to see the offer before accepting it; nothing was applied." in answer.get_data(
        as_text=True
    )
    sub = sandbox.client().v1.subscriptions.retrieve(paid_practice.stripe_subscription_id)
    assert not sub.discounts
    assert [o.outcome for o in offers(paid_practice)] in ([], ["offered"])


def test_accept_of_an_offer_withdrawn_meanwhile_is_refused(
    owner_client, paid_practice, retention_coupon, sandbox
):
    form = _accept_form(owner_client, paid_practice)
    retention_coupon.enabled = False
    db.session.commit()
    answer = owner_client.post(
        f"/practices/{paid_practice.id}/billing/retention/accept", data=form, headers=HX
    )
    assert "The platform has withdrawn this offer" in answer.get_data(as_text=True)
    assert not sandbox.client().v1.subscriptions.retrieve(paid_practice.stripe_subscription_id).discounts


def test_an_accept_whose_answer_was_lost_is_kept_and_confirmed(
    owner_client, paid_practice, retention_coupon, sandbox
):
    form = _accept_form(owner_client, paid_practice)
    sandbox.set_latency(1500)
    try:
        answer = owner_client.post(
            f"/practices/{paid_practice.id}/billing/retention/accept", data=form, headers=HX
        )
    finally:
        sandbox.set_latency(0)
    text = answer.get_data(as_text=True)
    assert answer.status_code == 202
    assert unconfirmed.UNCONFIRMED in text and "try again" not in text.lower()
    assert "data-retention-offer" not in text  # not offered again, nor "No thanks, cancel"
    assert [o.outcome for o in offers(paid_practice)] == ["accepted"]
    history = owner_client.get(f"/practices/{paid_practice.id}/history").get_data(as_text=True)
    assert "Accepted the retention offer: 30% off for 3 months" in history

    deadline = time.monotonic() + 10
    while not sandbox.client().v1.subscriptions.retrieve(paid_practice.stripe_subscription_id).discounts:
        assert time.monotonic() < deadline, "the sandbox never applied the coupon"
        time.sleep(0.1)
    db.session.refresh(paid_practice)
    assert unconfirmed.confirm(paid_practice)  # the same call, the same key: Stripe's answer
    sub = sandbox.client().v1.subscriptions.retrieve(paid_practice.stripe_subscription_id)
    assert len(sub.discounts) == 1  # applied once
    assert sandbox.client().v1.coupons.retrieve(retention_coupon.coupon_id).times_redeemed == 1


def test_a_code_made_for_another_customer_is_refused_in_words(owner_client, live_practice, sandbox):
    """F25: said by its code and the practice, never Stripe's "promo_..." id."""
    from tests.practices.test_promotion_codes import make_code

    other = sandbox.client().v1.customers.create({"email": "other@clinic.test"})
    code = make_code(sandbox, customer=other.id)
    response = owner_client.post(
        f"/practices/{live_practice.id}/billing/subscribe",
        data={**billing_form(owner_client, live_practice), "plan": "monthly", "promotion_code": code},
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f"{code} cannot be used by this practice." in page and "promo_" not in page


def test_the_code_field_is_styled_like_every_other_input(owner_client, live_practice):
    """F21: the stylesheet styles ``input[type=text]``; the code's input says its type."""
    page = owner_client.get(f"/practices/{live_practice.id}/billing").get_data(as_text=True)
    assert '<input type="text" id="promotion_code"' in page
