"""A practice owner in Chromium, with Stripe's webhooks delivered to the portal as they happen:
subscribe, a renewal fails, the banner, update the card, pay now, cancel, resume; one receipt per
paid invoice.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from portal.auth import services as accounts
from tests.e2e.steps import add_card, create_practice, log_in, pay_in_checkout, receipt_numbers

pytestmark = pytest.mark.e2e

PASSWORD = "renewal-journey-pw"


@pytest.fixture
def owner_portal(webhook_portal):
    with webhook_portal.portal.app.test_request_context():
        from portal.practices.plans import bootstrap_plans

        accounts.register_user("Rita Renewal", "rita@example.com", PASSWORD)
        bootstrap_plans()
    return webhook_portal


def test_renewal_fails_then_card_updated_paid_cancelled_resumed(page, owner_portal, mailbox, screenshot):
    base, sandbox = owner_portal.url, owner_portal.sandbox
    log_in(page, base, "rita@example.com", PASSWORD)
    expect(page).to_have_url(f"{base}/account")

    # Subscribe: Checkout, then Active.
    create_practice(page, base, "Seaside Dental")
    billing_url = page.url
    pay_in_checkout(page, name="Rita Renewal", before_pay=lambda: screenshot("checkout"))
    expect(page.locator('[data-billing-status="DONE"]')).to_be_visible()
    expect(page.locator("#banners")).to_be_empty()
    cards = page.locator("#wallet-cards")

    # The practice's default card becomes one whose charges fail (attaches fine, declines later).
    add_card(page, "4000000000000341")
    expect(cards.locator("li")).to_have_count(2)
    cards.locator("li").filter(has_text="0341").get_by_role("button", name="Make default").click()
    expect(cards.locator("li").filter(has_text="0341")).to_contain_text("Default")

    # A month later the renewal is declined; Stripe's events reach the portal: PAST_DUE and the banner.
    sandbox.advance(days=32)
    page.goto(billing_url)
    banner = page.locator('[data-banner="payment_failed"]')
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("payment failed")
    expect(page.locator('[data-billing-status="PAST_DUE"]')).to_be_visible()
    mailbox.wait_for("rita@example.com", "a payment failed")
    screenshot("practice_billing_payment_failed")

    # Update the card: a working 4242 made the default, then pay now.
    add_card(page, "4242424242424242")
    expect(cards.locator("li").filter(has_text="4242")).to_have_count(2)
    working = cards.locator("li").filter(has_text="4242").filter(has_not_text=re.compile("Default")).first
    working.get_by_role("button", name="Make default").click()
    expect(cards.locator("li").filter(has_text="0341")).not_to_contain_text("Default")
    page.locator("#practice-billing").get_by_role("button", name=re.compile(r"^Pay .* now$")).click()
    expect(page.locator("#practice-billing")).to_contain_text("Invoice paid. Thank you!")
    expect(page.locator('[data-billing-status="DONE"]')).to_be_visible()
    page.goto(billing_url)  # and it stays paid once the webhooks of the payment are in
    expect(page.locator('[data-billing-status="DONE"]')).to_be_visible()
    expect(page.locator('[data-banner="payment_failed"]')).to_have_count(0)

    # Cancel at period end: the banner gives the date; then resume.
    page.locator("details.cancel summary").click()
    page.get_by_label("Why are you cancelling?").fill("Closing for the summer")
    page.get_by_role("button", name="Cancel at period end").click()
    cancellation = page.locator('[data-banner="cancellation_scheduled"]')
    expect(cancellation).to_contain_text(re.compile(r"the subscription ends on \d{1,2} \w+ \d{4}"))
    page.goto(billing_url)
    expect(cancellation).to_be_visible()
    screenshot("practice_billing_cancellation_scheduled")
    page.locator("#practice-billing").get_by_role("button", name="Resume subscription").click()
    expect(page.locator("#practice-billing")).to_contain_text("The subscription continues.")
    page.goto(billing_url)
    expect(cancellation).to_have_count(0)
    expect(page.locator('[data-billing-status="DONE"]')).to_be_visible()
    screenshot("practice_billing")

    # One receipt per paid invoice, over real SMTP: the first payment and the renewal paid now.
    listed = sandbox.client().v1.invoices.list({"limit": 100}).data
    paid = sorted(i.number for i in listed if i.status == "paid" and i.amount_paid > 0)
    assert len(paid) == 2
    assert sorted(receipt_numbers(mailbox, "rita@example.com", len(paid))) == paid

    # No script error and no CSP violation on the way (htmx settles no inline style attribute).
    assert page.errors == []
