"""Issue 15 in Chromium: a renewal on 4000 0027 6000 3184 waits for the bank; "Pay now" leads to the
portal's page for it, whose Stripe.js opens the bank's 3-D Secure check; a failed check says so and
can be tried again; completed, the billing page shows the invoice paid. The banner's "Complete
authentication" lands on the same page. Stripe's webhooks reach the portal as they happen."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from portal.auth import services as accounts
from tests.e2e.page_checks import check_view
from tests.e2e.steps import add_card, create_practice, log_in, make_default, pay_in_checkout

pytestmark = pytest.mark.e2e

EMAIL, PASSWORD = "bao@example.com", "bank-check-pw"
ALWAYS_ASKS = "4000002760003184"
CHECK_PAGE = re.compile(r"/practices/\d+/invoices/in_\w+/authenticate")


@pytest.fixture
def owner_portal(webhook_portal):
    with webhook_portal.portal.app.test_request_context():
        from portal.practices.plans import bootstrap_plans

        accounts.register_user("Bao Tran", EMAIL, PASSWORD)
        bootstrap_plans()
    return webhook_portal


def challenge(page):
    return page.frame_locator("iframe[name='stripe-challenge-frame']")


def test_pay_now_runs_the_banks_check_in_the_portal(page, owner_portal, mailbox):
    base, sandbox = owner_portal.url, owner_portal.sandbox
    log_in(page, base, EMAIL, PASSWORD)
    create_practice(page, base, "Lotus Dental")
    billing_url = page.url
    pay_in_checkout(page, name="Bao Tran")
    expect(page.locator('[data-billing-status="DONE"]')).to_be_visible()
    add_card(page, ALWAYS_ASKS, challenge="Complete")
    make_default(page, ALWAYS_ASKS[-4:])

    sandbox.advance(days=32)  # the renewal asks the bank, which wants the payer
    mailbox.wait_for(EMAIL, "please confirm a payment")
    page.goto(billing_url)
    banner = page.locator('[data-banner="action_required"]')
    expect(banner).to_contain_text("the bank asks to confirm a payment")
    link = banner.get_by_role("link", name="Complete authentication")
    expect(link).to_have_attribute("href", CHECK_PAGE)  # the portal's page, not Stripe's, same tab

    page.locator("#practice-billing").get_by_role("button", name="Pay $99.00 now").click()
    expect(page).to_have_url(CHECK_PAGE)
    expect(page.get_by_role("heading", name="Your bank needs you to confirm this payment")).to_be_visible()
    expect(page.locator("#bank-check")).to_contain_text("$99.00")
    expect(page.locator("#bank-check")).to_contain_text("ending in 3184")
    challenge(page).get_by_role("button", name="Fail").click()  # the challenge opened by itself
    expect(page).to_have_url(re.compile(r"/authenticate\?tried=1$"))
    expect(page.locator("#flashes")).to_contain_text("Your bank did not confirm the payment")
    expect(page.locator("body")).not_to_contain_text(re.compile("declined", re.I))
    for width in (1280, 390, 320):  # the every-page sweep cannot reach it: it needs a live invoice
        page.set_viewport_size({"width": width, "height": 800})
        assert check_view(page) == [], width
    page.set_viewport_size({"width": 1280, "height": 800})

    page.get_by_role("button", name="Confirm with my bank").click()
    challenge(page).get_by_role("button", name="Complete").click()
    expect(page).to_have_url(billing_url)
    expect(page.locator("#flashes")).to_contain_text(re.compile(r"Invoice \S+ is paid\. Thank you!"))
    expect(page.locator("#banners")).to_be_empty()
    expect(page.locator('[data-billing-status="DONE"]')).to_be_visible()
    assert len([m for m in mailbox.to(EMAIL) if "please confirm a payment" in m["Subject"]]) == 1
    assert page.errors == []
