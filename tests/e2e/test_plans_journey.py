"""Issue 17's journey in Chromium, Stripe's webhooks delivered to the portal as they happen:

a platform admin makes a promotion code (SPRING20, 20% off once) and sets a retention offer; the
owner subscribes Monthly with the code (the first invoice discounted); upgrades to every 6 months (the
prorated preview, charged now); schedules the switch back to Monthly at the period's end and undoes it
(Stripe's schedule released); switches down now (the unused time becomes credit on the customer's
balance) and the renewal uses that credit; starts cancelling, accepts the retention offer, and is not
offered it twice. In the shop, a buyer's order of 3 units is refunded 2 units by the admin: the order
says so, the stock is back, one email, and Stripe's charge has the amount refunded.

Each step checks what the person sees and what Stripe (the sandbox) holds.
"""

from __future__ import annotations

import datetime as dt
import re
import time
import zoneinfo

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from portal.auth import services as accounts
from portal.extensions import db
from portal.shop import catalog
from portal.users.models import Role
from tests.conftest import both_engines
from tests.e2e.steps import (
    add_card,
    assert_fits,
    create_practice,
    eventually,
    log_in,
    log_out,
    pay_in_checkout,
    register,
    shows,
)
from tests.smtp import body_text

pytestmark = pytest.mark.e2e

#: The clinic's Checkout address is in Vietnam, so its pages write days in Ho Chi Minh City's time.
CLINIC_ZONE = zoneinfo.ZoneInfo("Asia/Ho_Chi_Minh")


def clinic_day(seconds: int) -> str:
    """A Stripe timestamp as the clinic's pages write the day: ``30 May 2027``."""
    return f"{dt.datetime.fromtimestamp(seconds, CLINIC_ZONE):%d %b %Y}"


OWNER, ADMIN, PASSWORD = "mai@example.com", "ada@example.com", "plans-journey-pw"
MONTHLY, SIX_MONTHS = "Monthly", "Every 6 months"


@pytest.fixture
def portal_overrides(engine, database_url):
    """SQLite, or (``both_engines``, with TEST_DATABASE_URL) a PostgreSQL database emptied first."""
    if engine == "postgresql":
        _empty(database_url)
    yield {"SQLALCHEMY_DATABASE_URI": database_url} if engine == "postgresql" else {}
    if engine == "postgresql":
        _empty(database_url)


def _empty(database_url: str) -> None:
    server = sa.create_engine(database_url)
    with server.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    server.dispose()


@pytest.fixture
def plans_portal(webhook_portal):
    with webhook_portal.portal.app.test_request_context():
        from portal.practices.plans import bootstrap_plans

        accounts.register_user("Mai Tran", OWNER, PASSWORD)
        accounts.register_user("Ada Admin", ADMIN, PASSWORD, role=Role.ADMIN)
        bootstrap_plans()
    return webhook_portal


def money(cents: int) -> str:
    return f"${cents / 100:,.2f}"


class Stripe:
    """What the journey reads at Stripe (this sandbox holds only this clinic's subscription)."""

    def __init__(self, sandbox) -> None:
        self.sandbox = sandbox
        self.client = sandbox.client().v1

    def subscription(self):
        return self.client.subscriptions.list({"status": "all", "limit": 1}).data[0]

    def period_end(self) -> int:
        return self.subscription()["items"]["data"][0]["current_period_end"]

    def price_interval(self) -> tuple[str, int]:
        recurring = self.subscription()["items"]["data"][0]["price"]["recurring"]
        return recurring["interval"], recurring["interval_count"]

    def invoices(self) -> list:
        """The subscription's invoices, oldest first."""
        listed = self.client.invoices.list({"subscription": self.subscription().id, "limit": 100}).data
        return sorted(listed, key=lambda i: (i.created, i.number or ""))

    def balance(self) -> int:
        return self.client.customers.retrieve(self.subscription().customer).balance


def admin_makes_the_code_and_the_offer(page, base: str, stripe: Stripe) -> str:
    """SPRING20 (20% off the first invoice) and the retention offer (30% off for 3 months): its coupon."""
    log_in(page, base, ADMIN, PASSWORD)
    page.goto(f"{base}/admin/promotions")
    new_code = page.locator("form", has=page.get_by_role("button", name="Create code"))
    new_code.get_by_label("Code").fill("SPRING20")
    new_code.get_by_label("Discount").select_option(label="Percent off")
    new_code.get_by_label("Percent off").fill("20")
    new_code.get_by_label("For how long").select_option(label="The first invoice")
    new_code.get_by_role("button", name="Create code").click()
    row = page.locator('#promotion-codes tr[data-code="SPRING20"]')
    expect(row).to_contain_text("20% off")
    expect(row).to_contain_text("Active")
    (code,) = stripe.client.promotion_codes.list(
        {"code": "SPRING20", "expand": ["data.promotion.coupon"]}
    ).data
    assert (
        code.active and code.promotion.coupon.percent_off == 20 and code.promotion.coupon.duration == "once"
    )

    offer = page.locator("#retention")
    offer.get_by_label("Discount").select_option(label="Percent off")
    offer.get_by_label("Percent off").fill("30")
    offer.get_by_label("For how long").select_option(label="A number of months")
    offer.get_by_label("Months").fill("3")
    offer.get_by_role("button", name="Offer it").click()
    expect(page.locator("#retention [data-retention]")).to_contain_text("30% off")
    coupon_id = page.locator("#retention [data-retention]").get_attribute("data-retention")
    coupon = stripe.client.coupons.retrieve(coupon_id)
    assert (coupon.percent_off, coupon.duration, coupon.duration_in_months) == (30, "repeating", 3)
    log_out(page, base)
    return coupon_id


@both_engines
def test_a_clinics_plan_journey(page, plans_portal):
    base, sandbox = plans_portal.url, plans_portal.sandbox
    stripe = Stripe(sandbox)
    page.set_viewport_size({"width": 1280, "height": 800})
    retention_coupon = admin_makes_the_code_and_the_offer(page, base, stripe)

    log_in(page, base, OWNER, PASSWORD)
    expect(page).to_have_url(f"{base}/account")
    create_practice(page, base, "Lotus Clinic")
    billing_url = page.url
    billing, invoices = page.locator("#practice-billing"), page.locator("#practice-invoices")

    # Monthly with SPRING20 typed on the billing page: Checkout gets it, the first invoice is 20% off.
    page.get_by_label("Promotion code (optional)").fill("spring20")
    pay_in_checkout(page, plan=MONTHLY, name="Mai Tran")
    expect(page.locator('[data-billing-status="DONE"]')).to_be_visible()
    (first,) = stripe.invoices()
    assert first.status == "paid"
    assert first.subtotal == 49900 + 9900
    discount = first.total_discount_amounts[0].amount
    assert discount == (49900 + 9900) // 5 and first.amount_paid == first.subtotal - discount
    shows(page, billing_url, invoices.locator(f'tr[data-invoice="{first.id}"]'), money(first.amount_paid))
    row = invoices.locator(f'tr[data-invoice="{first.id}"]')
    expect(row.locator("[data-invoice-discount]")).to_have_text(f"after a {money(discount)} discount")
    assert stripe.client.promotion_codes.list({"code": "SPRING20"}).data[0].times_redeemed == 1
    expect(billing).to_contain_text(MONTHLY)

    # Upgrade to every 6 months: the preview's prorated amount is what Stripe charges now.
    billing.get_by_role("button", name=re.compile(r"Switch to Every 6 months")).click()
    preview = page.locator("[data-preview-amount]")
    expect(preview).to_be_visible()
    previewed = int(preview.get_attribute("data-preview-amount"))
    assert 49900 - 9900 <= previewed < 49900
    page.get_by_role("button", name="Confirm switch").click()
    expect(billing).to_contain_text("The practice is now on the Every 6 months plan.")
    assert stripe.price_interval() == ("month", 6)
    proration = eventually(lambda: len(stripe.invoices()) == 2 and stripe.invoices()[1])
    assert (proration.status, proration.amount_paid) == ("paid", previewed)
    shows(page, billing_url, invoices.locator(f'tr[data-invoice="{proration.id}"]'), money(previewed))

    # Back to Monthly at the end of the paid period: a schedule at Stripe; then undone (released).
    period_end = stripe.period_end()
    billing.get_by_role("button", name=re.compile(r"Switch to Monthly")).click()
    expect(page.locator("[data-switch-later]")).to_contain_text(clinic_day(period_end))
    page.get_by_role("button", name=f"Switch on {clinic_day(period_end)}").click()
    pending = billing.locator("[data-pending-plan]")
    expect(pending).to_contain_text(f"Switches to Monthly on {clinic_day(period_end)}")
    schedule_id = stripe.subscription().schedule
    assert schedule_id
    schedule = stripe.client.subscription_schedules.retrieve(schedule_id)
    assert schedule.status == "active" and schedule.end_behavior == "release"
    assert_fits(page, 390)  # the billing page with a pending switch
    billing.get_by_role("button", name="Undo: stay on Every 6 months").click()
    expect(billing).to_contain_text("The switch is undone: the practice stays on the Every 6 months plan.")
    expect(pending).to_have_count(0)
    assert stripe.subscription().schedule is None
    assert stripe.client.subscription_schedules.retrieve(schedule_id).status == "released"
    page.reload()
    expect(billing.locator("[data-pending-plan]")).to_have_count(0)

    # A second switch now within 30 days of the first is not offered (round trips would turn an
    # amount-off discount into credit), the switch at the period's end is.
    billing.get_by_role("button", name=re.compile(r"Switch to Monthly")).click()
    expect(page.locator("[data-switch-now-from]")).to_contain_text("the next switch now is possible from")
    expect(page.get_by_role("button", name="Switch now")).to_have_count(0)
    expect(page.get_by_role("button", name=f"Switch on {clinic_day(period_end)}")).to_be_visible()
    sandbox.advance(days=31)
    page.goto(billing_url)

    # Switch down now: the unused time becomes credit on the customer's balance.
    billing.get_by_role("button", name=re.compile(r"Switch to Monthly")).click()
    left_over_line = page.locator("[data-left-over]")
    expect(left_over_line).to_contain_text("left over becomes credit used by your next invoices")
    left_over = int(left_over_line.get_attribute("data-left-over"))
    assert 9900 < left_over < 49900  # more than the next renewal, so some credit outlives it
    expect(left_over_line).to_contain_text(money(left_over))
    page.get_by_role("button", name="Switch now").click()
    expect(billing).to_contain_text("The practice is now on the Monthly plan.")
    assert stripe.price_interval() == ("month", 1)
    assert stripe.balance() == -left_over
    credit = billing.locator("[data-credit]")
    shows(page, billing_url, credit, f"{money(left_over)}, used by your next invoices")
    assert_fits(page, 390)  # the billing page with the credit

    # The renewal a month on: its $99.00 comes out of the credit, so Stripe charges nothing.
    sandbox.advance(seconds=stripe.period_end() - sandbox.now() + 2 * 3600)
    renewal = eventually(
        lambda: (newest := stripe.invoices()[-1]).status == "paid" and newest.subtotal == 9900 and newest
    )
    assert not renewal.total_discount_amounts  # SPRING20 was for the first invoice only
    assert renewal.amount_due == 0 and renewal.amount_paid == 0
    assert stripe.balance() == -(left_over - 9900)
    shows(
        page,
        billing_url,
        invoices.locator(f'tr[data-invoice="{renewal.id}"]'),
        f"after {money(9900)} of credit",
    )
    expect(credit).to_contain_text(f"{money(left_over - 9900)}, used by your next invoices")

    # Start cancelling: the retention offer comes first; accepted, the subscription stays, discounted.
    billing.locator("details.cancel summary").click()
    offer = page.locator("#retention-offer")
    expect(offer).to_contain_text("Before you go: stay and get 30% off")
    offer.get_by_role("button", name="Accept the offer").click()
    expect(billing).to_contain_text("Thank you for staying: 30% off")
    expect(page.locator('[data-billing-status="DONE"]')).to_be_visible()
    expect(page.locator('[data-banner="cancellation_scheduled"]')).to_have_count(0)
    expect(billing.locator("[data-discount]")).to_contain_text(
        re.compile(r"^30% off until \d\d \w{3} \d{4}$")
    )
    subscription = stripe.client.subscriptions.retrieve(
        stripe.subscription().id, {"expand": ["discounts.source.coupon"]}
    )
    assert subscription.status == "active" and not subscription.cancel_at_period_end
    (kept,) = subscription.discounts
    assert kept.source.coupon.id == retention_coupon
    page.goto(billing_url.replace("/billing", "/history"))
    expect(page.locator("main")).to_contain_text("Accepted the retention offer: 30% off")

    # Starting again: no second offer, the cancellation form at once.
    page.goto(billing_url)
    billing.locator("details.cancel summary").click()
    expect(page.locator("#retention-offer")).to_have_count(0)
    expect(page.get_by_label("Why are you cancelling?")).to_be_visible()

    assert page.errors == []


@both_engines
def test_a_shop_refund_journey(page, plans_portal, mailbox):
    base, sandbox = plans_portal.url, plans_portal.sandbox
    with plans_portal.portal.app.app_context():
        product = catalog.create_product(
            name="Exam gloves (box)",
            description="100 nitrile gloves",
            price=1250,
            currency="usd",
            stock=5,
            active=True,
        )
        product_id = product.id
        db.session.remove()
    buyer = "shopper@example.com"
    register(page, base, "Sam Shopper", buyer, "shop-password-1")
    add_card(page, "4242424242424242")
    expect(page.get_by_role("list", name="Saved cards")).to_contain_text("ending in 4242")
    page.goto(f"{base}/shop/products/{product_id}")
    page.get_by_label("Quantity").fill("3")
    page.get_by_role("button", name="Buy now").click()
    receipt = page.locator("#receipt")
    expect(receipt).to_contain_text("Paid")
    expect(receipt).to_contain_text("$37.50")
    order_url = page.url
    order_id = int(re.search(r"/orders/(\d+)", order_url)[1])
    payment_intent = receipt.locator("code").inner_text()
    page.goto(f"{base}/shop/products/{product_id}")
    expect(page.get_by_text("Only 2 left")).to_be_visible()
    log_out(page, base)

    # The admin refunds 2 of the 3 units, with a reason.
    log_in(page, base, ADMIN, PASSWORD)
    page.goto(f"{base}/shop/admin/orders/{order_id}")
    page.get_by_label("Units to refund").fill("2")
    page.get_by_label("Why is it refunded?").fill("Two boxes arrived torn")
    page.get_by_role("button", name="Refund").click()
    expect(page.locator("#flashes")).to_contain_text(f"Refunded $25.00 (2 units) of order #{order_id}.")
    order = page.locator("#admin-order")
    expect(order.locator('[data-refund="partial"]')).to_have_text("Partially refunded")
    expect(order.locator("[data-refunded]")).to_contain_text("Refunded $25.00 (2 units)")
    expect(page.locator("#order-refunds")).to_contain_text("Two boxes arrived torn")
    expect(page.locator("#order-refunds")).to_contain_text("by Ada Admin")
    assert_fits(page, 390)  # the admin's order page
    (charge,) = sandbox.client().v1.charges.list({"payment_intent": payment_intent}).data
    assert (charge.amount, charge.amount_refunded, charge.refunded) == (3750, 2 * 1250, False)

    # The stock is back by 2; the buyer's order says so; one refund email (after Stripe's events too).
    page.goto(f"{base}/shop/products/{product_id}")
    expect(page.get_by_text("Only 4 left")).to_be_visible()
    log_out(page, base)
    log_in(page, base, buyer, "shop-password-1")
    page.goto(order_url)
    expect(page.locator("#receipt [data-refunded]")).to_contain_text("Refunded $25.00 (2 units)")
    email = mailbox.wait_for(buyer, "Your refund of $25.00")
    assert f"order #{order_id}" in body_text(email)
    sandbox.flush_events()
    time.sleep(0.5)
    assert len([m for m in mailbox.to(buyer) if "refund" in str(m["Subject"]).lower()]) == 1

    assert page.errors == []
