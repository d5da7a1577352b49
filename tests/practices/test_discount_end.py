"""F17: a discount whose end has passed is never shown as current on the billing page."""

from __future__ import annotations

from portal.extensions import db
from portal.practices import members
from portal.practices.models import Plan
from portal.practices.subscriptions import apply_fresh_subscription
from tests.practices.conftest import login
from tests.practices.sandbox_helpers import Inbox, save_card, subscribe_directly


def test_an_ended_discount_leaves_the_billing_page(owner, plans, sandbox, auth):
    practice = members.create_practice(owner, "Harbour Dental")
    inbox = Inbox(sandbox, practice.stripe_customer_id)
    save_card(sandbox, practice)
    sub = subscribe_directly(sandbox, practice, Plan.MONTHLY)
    client = sandbox.client()
    coupon = client.v1.coupons.create({"percent_off": 25, "duration": "repeating", "duration_in_months": 1})
    client.v1.subscriptions.update(sub.id, {"discounts": [{"coupon": coupon.id}]})
    inbox.deliver()
    apply_fresh_subscription(client.v1.subscriptions.retrieve(sub.id))
    db.session.commit()
    browser = login(auth, owner)
    page = browser.get(f"/practices/{practice.id}/billing").get_data(as_text=True)
    assert "25% off until" in page

    sandbox.advance(days=62)  # past the discount's end and two renewals
    inbox.deliver()
    page = browser.get(f"/practices/{practice.id}/billing").get_data(as_text=True)
    assert "25% off" not in page.split('id="invoices"')[0]  # the invoice rows may say what it took
    db.session.refresh(practice)
    assert practice.discount_summary is None
