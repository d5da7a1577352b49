"""Issue 17, the practice's side: a promotion code when subscribing (resolved here first, so this
page says what is wrong) and when switching plan; the discount on the billing page and the invoice
rows; the retention offer before a cancellation, once per subscription."""

from __future__ import annotations

import re
import secrets

import pytest
import sqlalchemy as sa
from flask import g

from portal.extensions import db
from portal.practices import audit, members
from portal.practices import checkout as practice_checkout
from portal.practices.models import MemberRole, Plan, RetentionOffer
from portal.promotions.models import RetentionCoupon
from tests.conftest import extract_csrf
from tests.practices.conftest import add_member, login
from tests.practices.sandbox_helpers import Inbox
from tests.practices.test_views import path_of, pay_checkout, version_of

HX = {"HX-Request": "true"}


@pytest.fixture
def live_practice(owner, plans):
    return members.create_practice(owner, "Harbour Dental")


@pytest.fixture
def paid_practice(owner, owner_client, live_practice):
    owner_client.get(
        path_of(pay_checkout(practice_checkout.start_checkout(live_practice, Plan.MONTHLY, owner)))
    )
    db.session.refresh(live_practice)
    assert live_practice.subscription_live
    return live_practice


def make_code(sandbox, percent: float = 30, **extra) -> str:
    client = sandbox.client()
    coupon = client.v1.coupons.create(
        {"percent_off": percent, "duration": "repeating", "duration_in_months": 3}
    )
    code = f"CLINIC-{secrets.token_hex(3).upper()}"
    client.v1.promotion_codes.create(
        {"promotion": {"type": "coupon", "coupon": coupon.id}, "code": code, **extra}
    )
    return code


def billing_form(client, practice) -> dict:
    page = client.get(f"/practices/{practice.id}/billing").get_data(as_text=True)
    return {
        "csrf_token": extract_csrf(page),
        "attempt": re.search(r'name="attempt" value="([^"]+)"', page).group(1),
        "billing_version": version_of(page),
    }


def test_subscribing_with_a_code_charges_the_discounted_first_invoice_and_history_says_it_once(
    owner_client, live_practice, sandbox
):
    code = make_code(sandbox)
    response = owner_client.post(
        f"/practices/{live_practice.id}/billing/subscribe",
        data={**billing_form(owner_client, live_practice), "plan": "monthly", "promotion_code": code.lower()},
    )
    assert response.status_code == 303 and "/checkout/cs_test_" in response.location
    session_id = response.location.rsplit("/", 1)[1]
    session = sandbox.client().v1.checkout.sessions.retrieve(session_id)
    assert session.total_details.amount_discount > 0
    abandoned = owner_client.post(
        f"/practices/{live_practice.id}/billing/subscribe",
        data={**billing_form(owner_client, live_practice), "plan": "monthly", "promotion_code": code},
    )
    assert abandoned.status_code == 303
    history = owner_client.get(f"/practices/{live_practice.id}/history").get_data(as_text=True)
    assert "Promotion code" not in history  # started twice, not used yet
    response = owner_client.post(
        f"/practices/{live_practice.id}/billing/subscribe",
        data={**billing_form(owner_client, live_practice), "plan": "monthly", "promotion_code": code},
    )
    owner_client.get(path_of(pay_checkout(response.location)))
    db.session.refresh(live_practice)
    page = owner_client.get(f"/practices/{live_practice.id}/billing").get_data(as_text=True)
    assert "data-discount" in page and "30% off until" in page
    assert "data-invoice-discount" in page
    history = owner_client.get(f"/practices/{live_practice.id}/history").get_data(as_text=True)
    assert history.count(f"Promotion code {code} at Checkout") == 1  # the one Checkout paid


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("NOSUCH-CODE", "NOSUCH-CODE is not a promotion code we know."),
        ("bad code;<script>", "is not a promotion code we know."),
        ("X" * 5000, "is not a promotion code we know."),
    ],
)
def test_an_unknown_code_is_refused_on_the_portals_page_with_the_form_kept(
    owner_client, live_practice, sandbox, typed, message
):
    seen = len(
        sandbox.client().v1.checkout.sessions.list({"customer": live_practice.stripe_customer_id}).data
    )
    response = owner_client.post(
        f"/practices/{live_practice.id}/billing/subscribe",
        data={**billing_form(owner_client, live_practice), "plan": "monthly", "promotion_code": typed},
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and message in page
    assert "<script>" not in page and 'id="promotion_code"' in page
    assert 'aria-invalid="true"' in page
    after = sandbox.client().v1.checkout.sessions.list({"customer": live_practice.stripe_customer_id}).data
    assert len(after) == seen  # no Checkout was started


def test_an_expired_or_turned_off_code_says_so(owner_client, live_practice, sandbox):
    code = make_code(sandbox)
    promo = sandbox.client().v1.promotion_codes.list({"code": code}).data[0]
    sandbox.client().v1.promotion_codes.update(promo.id, {"active": False})
    response = owner_client.post(
        f"/practices/{live_practice.id}/billing/subscribe",
        data={**billing_form(owner_client, live_practice), "plan": "monthly", "promotion_code": code},
    )
    assert response.status_code == 422 and "is no longer offered" in response.get_data(as_text=True)
    expiring = make_code(sandbox, expires_at=sandbox.now() + 60)
    sandbox.advance(seconds=120)
    response = owner_client.post(
        f"/practices/{live_practice.id}/billing/subscribe",
        data={**billing_form(owner_client, live_practice), "plan": "monthly", "promotion_code": expiring},
    )
    assert response.status_code == 422 and "has expired" in response.get_data(as_text=True)


def test_members_cannot_use_codes_and_other_practices_are_404(
    client, auth, live_practice, user_factory, owner
):
    member = user_factory(email="member@example.com")
    add_member(live_practice, member, MemberRole.MEMBER)
    login(auth, member)
    page = client.get(f"/practices/{live_practice.id}/billing").get_data(as_text=True)
    token = extract_csrf(page)
    refused = client.post(
        f"/practices/{live_practice.id}/billing/subscribe",
        data={"csrf_token": token, "plan": "monthly", "promotion_code": "ANY-CODE"},
    )
    assert refused.status_code == 403
    other = members.create_practice(owner, "Someone Else's")
    assert (
        client.post(f"/practices/{other.id}/billing/retention/accept", data={"csrf_token": token}).status_code
        == 404
    )


def test_plan_switch_preview_with_a_code_then_confirm(owner_client, paid_practice, sandbox):
    code = make_code(sandbox, percent=50)
    token = billing_form(owner_client, paid_practice)["csrf_token"]
    plain = owner_client.post(
        f"/practices/{paid_practice.id}/billing/plan/preview",
        data={"plan": "semiannual", "csrf_token": token},
        headers=HX,
    ).get_data(as_text=True)
    preview = owner_client.post(
        f"/practices/{paid_practice.id}/billing/plan/preview",
        data={"plan": "semiannual", "csrf_token": token, "promotion_code": code},
        headers=HX,
    ).get_data(as_text=True)
    amount = lambda html: int(re.search(r'data-preview-amount="(-?\d+)"', html).group(1))  # noqa: E731
    assert "data-preview-discount" in preview and amount(preview) < amount(plain)
    wrong = owner_client.post(
        f"/practices/{paid_practice.id}/billing/plan/preview",
        data={"plan": "semiannual", "csrf_token": token, "promotion_code": "NOPE-NOPE"},
        headers=HX,
    )
    assert wrong.status_code == 422 and "NOPE-NOPE is not a promotion code we know." in wrong.get_data(
        as_text=True
    )
    response = owner_client.post(
        f"/practices/{paid_practice.id}/billing/plan",
        data={
            "plan": "semiannual",
            "proration_date": re.search(r'name="proration_date" value="([^"]+)"', preview).group(1),
            "promotion_code": code,
            "csrf_token": token,
            "billing_version": version_of(preview),
        },
        headers=HX,
    )
    assert f"Promotion code {code} applies." in response.get_data(as_text=True)
    db.session.refresh(paid_practice)
    assert paid_practice.plan == Plan.SEMIANNUAL and paid_practice.discount_summary == "50% off"

    # Second attack (N3): the same code again at the next switch would stack its discount once more.
    again = owner_client.post(
        f"/practices/{paid_practice.id}/billing/plan/preview",
        data={"plan": "monthly", "csrf_token": token, "promotion_code": code},
        headers=HX,
    )
    assert f"{code} was already used by this practice." in again.get_data(as_text=True)
    subscription = sandbox.client().v1.subscriptions.retrieve(paid_practice.stripe_subscription_id)
    assert len(subscription.discounts) == 1


@pytest.fixture
def retention_coupon(sandbox, app):
    coupon = sandbox.client().v1.coupons.create(
        {"percent_off": 30, "duration": "repeating", "duration_in_months": 3}
    )
    row = RetentionCoupon(coupon_id=coupon.id, percent_off=30, duration="repeating", duration_in_months=3)
    db.session.add(row)
    db.session.commit()
    return row


def offers(practice) -> list[RetentionOffer]:
    db.session.rollback()
    return list(
        db.session.scalars(sa.select(RetentionOffer).where(RetentionOffer.practice_id == practice.id))
    )


def test_retention_offer_accepted_once_from_two_tabs(owner_client, paid_practice, retention_coupon, sandbox):
    page = owner_client.get(f"/practices/{paid_practice.id}/billing").get_data(as_text=True)
    assert "data-retention-offer" in page and "30% off for 3 months" in page
    first, second = billing_form(owner_client, paid_practice), billing_form(owner_client, paid_practice)
    first["coupon"] = second["coupon"] = retention_coupon.coupon_id  # as the offer's form carries it
    accepted = owner_client.post(
        f"/practices/{paid_practice.id}/billing/retention/accept", data=first, headers=HX
    )
    assert "Thank you for staying: 30% off for 3 months" in accepted.get_data(as_text=True)
    again = owner_client.post(
        f"/practices/{paid_practice.id}/billing/retention/accept", data=second, headers=HX
    )
    assert "Billing changed in another tab or window" in again.get_data(as_text=True)
    # The same tab's form posted again (a double click): the first answer, nothing more.
    repeat = owner_client.post(
        f"/practices/{paid_practice.id}/billing/retention/accept", data=first, headers=HX
    )
    assert "Thank you for staying" in repeat.get_data(as_text=True)
    assert [o.outcome for o in offers(paid_practice)] == ["accepted"]
    assert sandbox.client().v1.coupons.retrieve(retention_coupon.coupon_id).times_redeemed == 1
    sub = sandbox.client().v1.subscriptions.retrieve(paid_practice.stripe_subscription_id)
    assert len(sub.discounts) == 1
    page = owner_client.get(f"/practices/{paid_practice.id}/billing").get_data(as_text=True)
    assert "data-retention-offer" not in page and "30% off until" in page
    assert "Cancel at period end" in page  # the cancellation form, no second offer
    history = owner_client.get(f"/practices/{paid_practice.id}/history").get_data(as_text=True)
    assert "Accepted the retention offer: 30% off for 3 months" in history and "Olive Owner" in history


def test_retention_offer_declined_goes_on_to_the_cancellation_form(
    owner_client, paid_practice, retention_coupon
):
    declined = owner_client.post(
        f"/practices/{paid_practice.id}/billing/retention/decline",
        data=billing_form(owner_client, paid_practice),
        headers=HX,
    )
    fragment = declined.get_data(as_text=True)
    assert "Cancel at period end" in fragment and "data-retention-offer" not in fragment
    assert '<details class="cancel" open>' in fragment
    assert [o.outcome for o in offers(paid_practice)] == ["declined"]
    page = owner_client.get(f"/practices/{paid_practice.id}/billing").get_data(as_text=True)
    assert "data-retention-offer" not in page
    refused = owner_client.post(
        f"/practices/{paid_practice.id}/billing/retention/accept",
        data=billing_form(owner_client, paid_practice),
    )
    assert refused.status_code == 303  # plain post: back to the page, told there is no offer
    assert [o.outcome for o in offers(paid_practice)] == ["declined"]


def test_no_offer_without_a_retention_coupon(owner_client, paid_practice):
    page = owner_client.get(f"/practices/{paid_practice.id}/billing").get_data(as_text=True)
    assert "data-retention-offer" not in page and "Cancel at period end" in page
    g.pop("csrf_token", None)


def test_accepting_twice_through_the_service_applies_the_coupon_once(
    paid_practice, owner, retention_coupon, sandbox
):
    from portal.practices import retention
    from portal.practices.errors import PracticeError

    with pytest.raises(PracticeError, match="Reload the page to see the offer"):
        retention.accept_offer(paid_practice, owner, None)  # a form that names no coupon accepts nothing
    retention.accept_offer(paid_practice, owner, retention_coupon.coupon_id)
    with pytest.raises(PracticeError, match="already accepted"):
        retention.accept_offer(paid_practice, owner, retention_coupon.coupon_id)
    assert sandbox.client().v1.coupons.retrieve(retention_coupon.coupon_id).times_redeemed == 1


def test_a_subscription_event_with_new_discounts_reads_them_fresh(paid_practice, sandbox):
    from portal.webhooks.handlers import subscription as subscription_events

    coupon = sandbox.client().v1.coupons.create({"percent_off": 15, "duration": "forever"})
    updated = sandbox.client().v1.subscriptions.update(
        paid_practice.stripe_subscription_id, {"discounts": [{"coupon": coupon.id}]}
    )
    event = {
        "type": "customer.subscription.updated",
        "created": sandbox.now(),
        "data": {"object": updated.to_dict()},
    }
    subscription_events.changed(event)
    db.session.commit()
    assert paid_practice.discount_summary == "15% off" and paid_practice.discount_duration == "forever"
    stale = {
        **event,
        "data": {"object": {**updated.to_dict(), "discounts": []}},
        "created": event["created"] - 100,
    }
    subscription_events.changed(stale)  # an older event without it: read fresh, the discount stays
    db.session.commit()
    assert paid_practice.discount_summary == "15% off"


def _stack(practice, sandbox, *coupons: dict) -> None:
    """Coupons on the practice's subscription at Stripe, mirrored as a person's action would."""
    from portal.gateway import discounts as stripe_discounts
    from portal.practices import discounts

    made = [sandbox.client().v1.coupons.create(terms) for terms in coupons]
    sandbox.client().v1.subscriptions.update(
        practice.stripe_subscription_id, {"discounts": [{"coupon": coupon.id} for coupon in made]}
    )
    discounts.mirror_discounts(
        practice, stripe_discounts.subscription_discounts(practice.stripe_subscription_id)
    )
    db.session.commit()


RETENTION = {"percent_off": 30, "duration": "repeating", "duration_in_months": 3}
TEN_OFF = {"amount_off": 1000, "currency": "usd", "duration": "forever"}


def test_the_billing_page_shows_each_of_the_stacked_discounts(owner_client, paid_practice, sandbox):
    _stack(paid_practice, sandbox, RETENTION, TEN_OFF)
    page = owner_client.get(f"/practices/{paid_practice.id}/billing").get_data(as_text=True)
    said = re.findall(r"<dd data-discount>([^<]+)</dd>", page)
    assert len(said) == 2 and said[0].startswith("30% off until "), said
    assert said[1] == "$10.00 off every invoice"


def test_the_switch_preview_says_what_the_code_and_the_own_discount_each_take_off(
    owner_client, paid_practice, sandbox
):
    _stack(paid_practice, sandbox, RETENTION)
    coupon = sandbox.client().v1.coupons.create(TEN_OFF)
    code = f"AMT-{secrets.token_hex(3).upper()}"
    sandbox.client().v1.promotion_codes.create(
        {"promotion": {"type": "coupon", "coupon": coupon.id}, "code": code}
    )
    token = billing_form(owner_client, paid_practice)["csrf_token"]
    preview = owner_client.post(
        f"/practices/{paid_practice.id}/billing/plan/preview",
        data={"plan": "semiannual", "csrf_token": token, "promotion_code": code},
        headers=HX,
    ).get_data(as_text=True)
    assert f"Promotion code {code} takes $10.00 off this invoice." in preview, preview
    assert re.search(r"Your discount \(30% off\) takes \$[\d,.]+ off this invoice\.", preview), preview


def test_a_discount_shrinking_the_unused_time_credit_is_not_called_a_discount_taken_off(
    owner, owner_client, live_practice, sandbox
):
    owner_client.get(
        path_of(pay_checkout(practice_checkout.start_checkout(live_practice, Plan.SEMIANNUAL, owner)))
    )
    db.session.refresh(live_practice)
    _stack(live_practice, sandbox, {"percent_off": 25, "duration": "forever"})
    token = billing_form(owner_client, live_practice)["csrf_token"]
    preview = owner_client.post(
        f"/practices/{live_practice.id}/billing/plan/preview",
        data={"plan": "monthly", "csrf_token": token},
        headers=HX,
    ).get_data(as_text=True)
    assert "None" not in preview and "takes -" not in preview, preview
    assert re.search(
        r"Your discount \(25% off\) applies to the unused-time credit too: the credit is \$[\d,.]+ smaller\.",
        preview,
    ), preview
    owner_client.post(
        f"/practices/{live_practice.id}/billing/plan",
        data={
            "plan": "monthly",
            "proration_date": re.search(r'name="proration_date" value="([^"]+)"', preview).group(1),
            "csrf_token": token,
            "billing_version": version_of(preview),
        },
        headers=HX,
    )
    page = owner_client.get(f"/practices/{live_practice.id}/billing").get_data(as_text=True)
    assert "after a -" not in page, page
    assert re.search(r"the discount made the unused-time credit \$[\d,.]+ smaller", page), page


def _code_of(sandbox, coupon_terms: dict) -> str:
    coupon = sandbox.client().v1.coupons.create(coupon_terms)
    code = f"ODD-{secrets.token_hex(3).upper()}"
    sandbox.client().v1.promotion_codes.create(
        {"promotion": {"type": "coupon", "coupon": coupon.id}, "code": code}
    )
    return code


def _preview(client, practice, token: str, code: str):
    return client.post(
        f"/practices/{practice.id}/billing/plan/preview",
        data={"plan": "semiannual", "csrf_token": token, "promotion_code": code},
        headers=HX,
    )


def test_a_refused_code_in_the_switch_preview_is_said_in_words_under_the_field_the_preview_kept(
    owner_client, paid_practice, sandbox
):
    """Third attack F3: another currency, a coupon past its ``redeem_by``, a code already used: each
    under the code field, in words, the preview shown without the code (never Stripe's ids)."""
    euro = _code_of(sandbox, {"amount_off": 1000, "currency": "eur", "duration": "forever"})
    expiring = _code_of(sandbox, {"percent_off": 100, "duration": "once", "redeem_by": sandbox.now() + 60})
    sandbox.advance(seconds=120)
    token = billing_form(owner_client, paid_practice)["csrf_token"]
    used = make_code(sandbox, percent=10)
    audit.record(paid_practice, "promotion_code_used", f"{used} with the switch")  # as a switch writes it
    db.session.commit()
    for code, words in (
        (euro, f"{euro} is an amount off in EUR"),
        (expiring, f"{expiring} has expired."),
        (used, f"{used} was already used by this practice."),
    ):
        response = _preview(owner_client, paid_practice, token, code)
        page = response.get_data(as_text=True)
        assert response.status_code == 422, page
        errors = re.search(r'<ul class="errors" id="promotion_code-errors">(.*?)</ul>', page, re.S).group(1)
        assert words in errors, page
        assert "data-preview-amount" in page and "Confirm switch" in page  # the preview, without the code
        assert f'name="promotion_code" value="{code}"' not in page  # the confirm form carries no code
        assert "coupon" not in page.lower().replace("promotion code", "")


def test_a_code_is_taken_once_per_practice_at_checkout_too(owner_client, live_practice, sandbox):
    """Third attack F16: a practice whose subscription ended could subscribe again with the code it
    already redeemed at Checkout, and again, keeping the discount for ever."""
    code = make_code(sandbox, percent=50)
    response = owner_client.post(
        f"/practices/{live_practice.id}/billing/subscribe",
        data={**billing_form(owner_client, live_practice), "plan": "monthly", "promotion_code": code},
    )
    owner_client.get(path_of(pay_checkout(response.location)))
    db.session.refresh(live_practice)
    assert live_practice.subscription_live
    # The subscription ends (cancelled at Stripe; the practice told by its event).
    inbox = Inbox(sandbox, live_practice.stripe_customer_id)
    sandbox.client().v1.subscriptions.cancel(live_practice.stripe_subscription_id)
    inbox.deliver()
    db.session.refresh(live_practice)
    assert not live_practice.subscription_live
    sessions = len(
        sandbox.client().v1.checkout.sessions.list({"customer": live_practice.stripe_customer_id}).data
    )
    again = owner_client.post(
        f"/practices/{live_practice.id}/billing/subscribe",
        data={**billing_form(owner_client, live_practice), "plan": "monthly", "promotion_code": code.lower()},
    )
    page = again.get_data(as_text=True)
    assert again.status_code == 422, page
    errors = re.search(r'<ul class="errors" id="promotion_code-errors">(.*?)</ul>', page, re.S).group(1)
    assert f"{code} was already used by this practice." in errors
    assert f'value="{code.lower()}"' in page  # the code kept as typed
    after = sandbox.client().v1.checkout.sessions.list({"customer": live_practice.stripe_customer_id}).data
    assert len(after) == sessions  # no Checkout started


def test_a_cancelling_practice_is_told_its_credit_is_used_by_no_invoice(owner_client, paid_practice, sandbox):
    """Third attack F14: with the subscription set to end, "Credit $10.00, used by your next invoices"
    was said though no invoice will come; the cancel form did not say the credit is left unused."""
    from portal.practices import balance

    sandbox.client().v1.customers.update(paid_practice.stripe_customer_id, {"balance": -1000})
    balance.refresh_balance(paid_practice)
    db.session.commit()
    page = owner_client.get(f"/practices/{paid_practice.id}/billing").get_data(as_text=True)
    warned = re.search(r"<p class=\"hint\" data-cancel-credit>(.*?)</p>", page, re.S).group(1)
    assert "Your credit of $10.00 is not used by any invoice once the subscription ends" in warned
    assert "$10.00, used by your next invoices" in page  # still true while it continues
    form = billing_form(owner_client, paid_practice)
    owner_client.post(
        f"/practices/{paid_practice.id}/billing/cancel",
        data={**form, "reason": "Closing the clinic"},
        headers=HX,
    )
    db.session.refresh(paid_practice)
    assert paid_practice.cancel_at_period_end
    page = owner_client.get(f"/practices/{paid_practice.id}/billing").get_data(as_text=True)
    assert "used by your next invoices" not in page
    said = re.search(r"<span data-credit-unused>(.*?)</span>", page, re.S).group(1)
    assert said.startswith("$10.00, not used by any invoice: the subscription is set to end.")
    assert "ask the platform" in said


def test_the_switch_preview_says_the_price_after_the_switch_with_its_discounts(
    owner_client, paid_practice, sandbox
):
    """Third attack F8: "You will be charged $390.00 now, then $499.00 every 6 months" with a code of
    $10.00 off forever: every renewal is $489.00."""
    code = _code_of(sandbox, TEN_OFF)
    token = billing_form(owner_client, paid_practice)["csrf_token"]
    preview = _preview(owner_client, paid_practice, token, code).get_data(as_text=True)
    assert re.search(r"now, then \$489\.00 every 6 months\.", preview), preview
    _stack(paid_practice, sandbox, RETENTION)  # 30% off for 3 months of its own, and the code
    preview = _preview(owner_client, paid_practice, token, code).get_data(as_text=True)
    ends = re.search(
        r"30% off until (\d\d \w+ \d{4})",
        owner_client.get(f"/practices/{paid_practice.id}/billing").get_data(as_text=True),
    ).group(1)
    assert re.search(rf"now, then \$489\.00 every 6 months, \$\d+\.\d\d until {ends}\.", preview), preview
