"""The admin's promotion-code list tells the truth: a second "Turn off" (after the code was turned
back on in Stripe's dashboard) turns it off at Stripe again (F23: each press its own key); the uses
are Stripe's count (F12: Stripe sends no event when a code is redeemed, so the page reads the codes
in one list call); an expired code says "Expired" (F13); a page past the last is 404 (F35)."""

# ruff: noqa: F811 (the fixtures are imported from the suites they extend)
from __future__ import annotations

import re
import time

from portal.extensions import db
from portal.promotions.codes import apply_code_event
from tests.admin.test_promotions import admin_client, codes, form, fresh_code  # noqa: F401
from tests.conftest import extract_csrf


def _row(page: str, code: str) -> str:
    match = re.search(rf'<tr data-code="{code}">(.*?)</tr>', page, re.S)
    assert match, page
    return match.group(1)


def _turn_off(client, row_id: int):
    page = client.get("/admin/promotions").get_data(as_text=True)
    attempt = re.search(
        rf'action="/admin/promotions/codes/{row_id}/disable".*?name="attempt" value="([^"]+)"', page, re.S
    )
    assert attempt, page
    data = {"csrf_token": extract_csrf(page), "attempt": attempt.group(1)}
    return client.post(f"/admin/promotions/codes/{row_id}/disable", data=data)


def test_a_second_turn_off_turns_the_code_off_at_stripe_again(admin_client, sandbox):
    code = fresh_code()
    admin_client.post("/admin/promotions/codes", data=form(admin_client, code=code))
    row = next(c for c in codes() if c.code == code)
    assert _turn_off(admin_client, row.id).status_code == 303
    assert sandbox.client().v1.promotion_codes.retrieve(row.stripe_id).active is False

    sandbox.client().v1.promotion_codes.update(row.stripe_id, {"active": True})  # Stripe's dashboard
    page = admin_client.get("/admin/promotions").get_data(as_text=True)
    assert 'data-status="Active"' in _row(page, code)
    assert _turn_off(admin_client, row.id).status_code == 303

    assert sandbox.client().v1.promotion_codes.retrieve(row.stripe_id).active is False
    page = admin_client.get("/admin/promotions").get_data(as_text=True)
    assert 'data-status="Off"' in _row(page, code)


def test_the_list_shows_stripes_uses_and_an_expired_code(admin_client, sandbox):
    client = sandbox.client()
    coupon = client.v1.coupons.create({"percent_off": 10, "duration": "once"})
    used = fresh_code()
    promo = client.v1.promotion_codes.create(
        {"promotion": {"type": "coupon", "coupon": coupon.id}, "code": used, "max_redemptions": 1}
    )
    expiring = fresh_code()
    client.v1.promotion_codes.create(
        {
            "promotion": {"type": "coupon", "coupon": coupon.id},
            "code": expiring,
            "expires_at": sandbox.now() + 2,
        }
    )
    for made in (promo, client.v1.promotion_codes.list({"code": expiring}).data[0]):  # their events
        apply_code_event(made.to_dict(), sandbox.now())
    db.session.commit()
    page = admin_client.get("/admin/promotions").get_data(as_text=True)
    assert 'data-times-redeemed="0">0 of 1' in _row(page, used)
    product = client.v1.products.create({"name": "Codes plan"})
    price = client.v1.prices.create(
        {"product": product.id, "unit_amount": 5000, "currency": "usd", "recurring": {"interval": "month"}}
    )
    customer = client.v1.customers.create({"email": "codes@clinic.test", "payment_method": "pm_card_visa"})
    card = client.v1.payment_methods.list({"customer": customer.id}).data[0].id
    client.v1.customers.update(customer.id, {"invoice_settings": {"default_payment_method": card}})
    client.v1.subscriptions.create(
        {"customer": customer.id, "items": [{"price": price.id}], "discounts": [{"promotion_code": promo.id}]}
    )
    time.sleep(2.5)

    page = admin_client.get("/admin/promotions").get_data(as_text=True)
    assert 'data-times-redeemed="1">1 of 1' in _row(page, used)
    assert 'data-status="Used up"' in _row(page, used)
    assert 'data-status="Expired"' in _row(page, expiring)
    db.session.rollback()
    assert admin_client.get("/admin/promotions?page=999").status_code == 404


def test_a_code_whose_coupon_can_no_longer_be_redeemed_is_listed_expired(admin_client, sandbox):
    """Third attack F13: a code whose coupon's ``redeem_by`` passed was listed "Active" while Stripe
    refuses every use of it."""
    client = sandbox.client()
    coupon = client.v1.coupons.create(
        {"percent_off": 100, "duration": "once", "redeem_by": sandbox.now() + 60}
    )
    code = fresh_code()
    made = client.v1.promotion_codes.create(
        {"promotion": {"type": "coupon", "coupon": coupon.id}, "code": code}
    )
    apply_code_event(made.to_dict(), sandbox.now())
    db.session.commit()
    page = admin_client.get("/admin/promotions").get_data(as_text=True)
    assert 'data-status="Active"' in _row(page, code)
    sandbox.advance(seconds=120)
    page = admin_client.get("/admin/promotions").get_data(as_text=True)
    assert 'data-status="Expired"' in _row(page, code), _row(page, code)
