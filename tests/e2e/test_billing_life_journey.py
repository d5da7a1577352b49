"""A clinic's whole billing life in Chromium, two years of the sandbox's clock, Stripe's webhooks
delivered to the portal as they happen (issue 15):

subscribe to the 6-month plan in Checkout (with the billing address and a Vietnamese tax ID); a plain
renewal; a renewal the bank wants confirmed (3-D Secure), confirmed on the portal's page from the
banner; a renewal declined for insufficient funds (the banner's and the email's words); a new card,
paid; cancelled with a reason; the period ends (one email, CANCELLED, the page explains); subscribe
again without a second onboarding fee; exactly one receipt per paid invoice, over real SMTP. The
clinic's other software asks the entitlement endpoint along the way.
"""

from __future__ import annotations

import datetime as dt
import re
import time

import pytest
import requests
from playwright.sync_api import expect

from portal.auth import services as accounts
from tests.e2e.steps import (
    add_card,
    assert_fits,
    create_practice,
    fill_checkout_tax_id,
    log_in,
    make_default,
    pay_in_checkout,
    receipt_numbers,
)
from tests.smtp import body_text

pytestmark = pytest.mark.e2e

EMAIL, PASSWORD = "lan@example.com", "billing-life-pw"
SIX_MONTHS = "Every 6 months"
#: Stripe's test cards: asks for 3-D Secure on every payment; asks only when saved (then renews alone).
ALWAYS_ASKS, ASKS_WHEN_SAVED, VISA = "4000002760003184", "4000002500003155", "4242424242424242"
MASTERCARD = "5555 5555 5555 4444"  # the Checkout's card: the new Visa later is the only one ending 4242
INSUFFICIENT_FUNDS = "Your bank declined the payment for insufficient funds."


@pytest.fixture
def owner_portal(webhook_portal):
    with webhook_portal.portal.app.test_request_context():
        from portal.practices.plans import bootstrap_plans

        accounts.register_user("Lan Nguyen", EMAIL, PASSWORD)
        bootstrap_plans()
    return webhook_portal


class Clinic:
    """What the journey reads outside the browser: Stripe (the sandbox) and the entitlement API."""

    def __init__(self, base: str, sandbox, practice_id: int) -> None:
        self.base, self.sandbox, self.practice_id = base, sandbox, practice_id
        login = requests.post(f"{base}/auth/login", json={"email": EMAIL, "password": PASSWORD}, timeout=10)
        self.token = login.json()["data"]["access_token"]

    def subscription(self):
        """The practice's newest subscription at Stripe (this sandbox holds only this clinic)."""
        return self.sandbox.client().v1.subscriptions.list({"status": "all", "limit": 1}).data[0]

    def period_end(self) -> int:
        return self.subscription()["items"]["data"][0]["current_period_end"]

    def until_period_end(self, after_seconds: int) -> None:
        """Move Stripe's clock to ``after_seconds`` past the current period's end: the renewal's
        invoice is drafted, finalized an hour later and charged; its events reach the portal."""
        self.sandbox.advance(seconds=self.period_end() - self.sandbox.now() + after_seconds)

    def entitlement(self) -> dict:
        answer = requests.get(
            f"{self.base}/api/practices/{self.practice_id}/entitlement",
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        return answer.json()["data"]

    def paid_invoice_numbers(self) -> list[str]:
        listed = self.sandbox.client().v1.invoices.list({"limit": 100}).data
        return sorted(i.number for i in listed if i.status == "paid" and i.amount_paid > 0)


def iso(timestamp: int) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat().replace("+00:00", "Z")


def subscribe_to_six_months_in_checkout(page, screenshot, onboarding_fee: bool) -> None:
    def on_the_checkout_page() -> None:
        summary = page.locator("table.summary")
        if onboarding_fee:
            expect(summary).to_contain_text(re.compile("onboarding", re.I))
            fill_checkout_tax_id(page, "Lotus Clinic Co., Ltd", "VN TIN", "0312345678")
            screenshot("journey_checkout_first")
        else:
            expect(summary).not_to_contain_text(re.compile("onboarding", re.I))
            screenshot("journey_checkout_again")

    pay_in_checkout(page, MASTERCARD, "Lan Nguyen", before_pay=on_the_checkout_page, plan=SIX_MONTHS)
    expect(page.locator('[data-billing-status="DONE"]')).to_be_visible()


def status_is(page, billing_url: str, status: str) -> None:
    """Open the billing page until it shows ``status``: Stripe's webhooks arrive a moment after its pages
    answer, as a person who refreshes sees."""
    badge = page.locator(f'[data-billing-status="{status}"]')
    deadline = time.monotonic() + 10
    page.goto(billing_url)
    while not badge.count() and time.monotonic() < deadline:
        page.wait_for_timeout(250)
        page.goto(billing_url)
    expect(badge).to_be_visible()


def confirm_with_the_bank_in_the_portal(page, billing_url: str) -> None:
    """The banner's "Complete authentication" opens the portal's page for the payment (same tab);
    there Stripe.js opens the bank's 3-D Secure test page, and once it is confirmed the billing page
    says the invoice is paid."""
    banner = page.locator('[data-banner="action_required"]')
    banner.get_by_role("link", name="Complete authentication").click()
    expect(page).to_have_url(re.compile(r"/practices/\d+/invoices/in_\w+/authenticate$"))
    expect(page.get_by_role("heading", name="Your bank needs you to confirm this payment")).to_be_visible()
    challenge = page.frame_locator("iframe[name='stripe-challenge-frame']")
    challenge.get_by_role("button", name="Complete").click()
    expect(page).to_have_url(billing_url)
    expect(page.locator("#flashes")).to_contain_text(re.compile(r"Invoice \S+ is paid\. Thank you!"))


def test_a_clinics_billing_life(page, owner_portal, mailbox, screenshot):
    base, sandbox = owner_portal.url, owner_portal.sandbox
    page.set_viewport_size({"width": 1280, "height": 800})
    log_in(page, base, EMAIL, PASSWORD)
    expect(page).to_have_url(f"{base}/account")
    create_practice(page, base, "Lotus Clinic")
    billing_url = page.url
    clinic = Clinic(base, sandbox, int(re.search(r"/practices/(\d+)/", billing_url)[1]))
    banners, billing = page.locator("#banners"), page.locator("#practice-billing")
    invoices = page.locator("#practice-invoices")

    # Month 0: the 6-month plan in Checkout, the onboarding fee with it; the address and tax ID typed there.
    subscribe_to_six_months_in_checkout(page, screenshot, onboarding_fee=True)
    expect(billing).to_contain_text(SIX_MONTHS)
    assert clinic.entitlement() == {
        "practice_id": clinic.practice_id,
        "status": "DONE",
        "access": True,
        "until": iso(clinic.period_end()),
        "plan": "semiannual",
    }
    page.goto(billing_url)
    expect(page.locator("#billing-details")).to_contain_text("0312345678")

    # Month 6: a plain renewal on the Checkout's card.
    clinic.until_period_end(after_seconds=2 * 3600)
    status_is(page, billing_url, "DONE")
    expect(banners).to_be_empty()
    expect(invoices.locator('[data-invoice-status="paid"]')).to_have_count(2)

    # Month 12: the default card now asks for 3-D Secure on every payment; the renewal waits for the bank.
    add_card(page, ALWAYS_ASKS, challenge="Complete")
    make_default(page, ALWAYS_ASKS[-4:])
    clinic.until_period_end(after_seconds=2 * 3600)
    page.goto(billing_url)
    expect(banners.locator('[data-banner="action_required"]')).to_contain_text(
        "the bank asks to confirm a payment"
    )
    confirm = mailbox.wait_for(EMAIL, "please confirm a payment")
    assert "The bank needs you to confirm a payment" in body_text(confirm)
    expect(billing.locator("[data-access]")).to_have_text(
        "Yes, while the payment waits for the bank's confirmation"
    )
    for words in (banners, billing, invoices):
        expect(words).not_to_contain_text(re.compile("declined", re.I))
    assert "declined" not in body_text(confirm).lower()
    screenshot("journey_3ds_renewal_waits")
    confirm_with_the_bank_in_the_portal(page, billing_url)
    status_is(page, billing_url, "DONE")
    expect(banners).to_be_empty()
    expect(invoices.locator('[data-invoice-status="paid"]')).to_have_count(3)

    # A card that asks only when it is saved, so renewals go through alone, becomes the default.
    add_card(page, ASKS_WHEN_SAVED, challenge="Complete")
    make_default(page, ASKS_WHEN_SAVED[-4:])

    # Month 18: the bank declines the renewal for insufficient funds (the sandbox's hook on that card).
    sandbox.decline_card(_card_id(page, ASKS_WHEN_SAVED[-4:]), "insufficient_funds", charges=1)
    clinic.until_period_end(after_seconds=2 * 3600)
    status_is(page, billing_url, "PAST_DUE")
    failed = banners.locator('[data-banner="payment_failed"]')
    expect(failed).to_contain_text("payment failed")
    expect(failed).to_contain_text(INSUFFICIENT_FUNDS + " Add funds or use another card, then press Pay now.")
    expect(failed).to_contain_text("Stripe will retry; the practice keeps its access meanwhile.")
    failure_email = body_text(mailbox.wait_for(EMAIL, "a payment failed"))
    assert (
        INSUFFICIENT_FUNDS in failure_email and "Stripe will retry the payment automatically" in failure_email
    )
    assert clinic.entitlement() | {"practice_id": 0} == {
        "practice_id": 0,
        "status": "PAST_DUE",
        "access": True,
        "until": None,
        "plan": "semiannual",
    }
    screenshot("journey_payment_failed")
    assert_fits(page, 390)

    # A new card, made the default; Pay now.
    add_card(page, VISA)
    make_default(page, VISA[-4:])
    billing.get_by_role("button", name=re.compile(r"^Pay .* now$")).click()
    expect(billing).to_contain_text("Invoice paid. Thank you!")
    status_is(page, billing_url, "DONE")
    expect(banners).to_be_empty()

    # Cancelled with a reason: the practice keeps its access until the period ends.
    page.locator("details.cancel summary").click()
    page.get_by_label("Why are you cancelling?").fill("Moving to a group practice")
    page.get_by_role("button", name="Cancel at period end").click()
    expect(banners.locator('[data-banner="cancellation_scheduled"]')).to_be_visible()
    ends = clinic.period_end()
    entitled = clinic.entitlement()
    assert (entitled["status"], entitled["access"], entitled["until"]) == ("DONE", True, iso(ends))

    # Month 24: the period ends. One email says so, the practice is CANCELLED and the page says why.
    clinic.until_period_end(after_seconds=24 * 3600)
    status_is(page, billing_url, "CANCELLED")
    ended = mailbox.wait_for(EMAIL, "the subscription has ended")
    assert "Moving to a group practice" in body_text(ended)
    assert "the onboarding fee is not charged again" in body_text(ended)
    expect(banners.locator('[data-banner="cancelled"]')).to_contain_text("the subscription ended.")
    expect(billing).to_contain_text(re.compile(r"Every 6 months, ended"))
    expect(billing.locator('[data-access="no"]')).to_be_visible()
    expect(invoices.locator('[data-invoice-status="open"]')).to_have_count(0)  # nothing left unpaid
    entitled = clinic.entitlement()
    assert (entitled["status"], entitled["access"], entitled["until"]) == ("CANCELLED", False, None)
    screenshot("journey_cancelled")
    assert_fits(page, 390)

    # Subscribe again: the Checkout has no onboarding fee line this time.
    expect(billing.get_by_role("heading", name="Subscribe again")).to_be_visible()
    subscribe_to_six_months_in_checkout(page, screenshot, onboarding_fee=False)
    status_is(page, billing_url, "DONE")

    # One receipt per paid invoice, over real SMTP: the first payment, the plain renewal, the confirmed
    # renewal, the one paid now and the new subscription's first; as the billing page lists them.
    paid = clinic.paid_invoice_numbers()
    assert len(paid) == 5
    listed_paid = invoices.locator("tr").filter(has=page.locator('[data-invoice-status="paid"]'))
    assert sorted(listed_paid.locator('td[data-label="Number"]').all_inner_texts()) == paid
    assert sorted(receipt_numbers(mailbox, EMAIL, len(paid))) == paid
    assert len([m for m in mailbox.to(EMAIL) if "the subscription has ended" in m["Subject"]]) == 1
    screenshot("journey_subscribed_again")

    # No script error and no CSP violation on the way.
    assert page.errors == []


def _card_id(page, last4: str) -> str:
    """The Stripe id of the saved card ending in ``last4``, as the wallet's list carries it."""
    return page.locator("#wallet-cards li").filter(has_text=last4).get_attribute("data-card")
