"""A practice owner's billing journey in Chromium: create, pay in Checkout, cancel, resume, switch."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.steps import fill_checkout_address

pytestmark = pytest.mark.e2e

PASSWORD = "correct-horse-battery"


@pytest.fixture
def practice_portal(live_portal_factory):
    """A live portal with an owner account and the plans bootstrapped in the sandbox."""
    portal = live_portal_factory()
    with portal.app.test_request_context():
        from portal.auth import services as accounts
        from portal.practices.plans import bootstrap_plans

        accounts.register_user("Olive Owner", "olive@example.com", PASSWORD)
        bootstrap_plans()
    return portal.url


def test_practice_billing_journey(page, practice_portal, mailbox, screenshot):
    base = practice_portal

    page.goto(f"{base}/login")
    page.get_by_label("Email").fill("olive@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{base}/account")

    # Create the practice: "Billing required" until it pays.
    page.goto(f"{base}/practices/")
    page.get_by_label("Practice name").fill("Harbour Dental")
    page.get_by_role("button", name="Create practice").click()
    expect(page).to_have_url(re.compile(r"/practices/\d+/billing$"))
    expect(page.locator('[data-banner="billing_required"]')).to_be_visible()

    # Pay in Checkout (the sandbox's hosted page), back to "Active".
    page.get_by_label(re.compile("Monthly")).check()
    page.get_by_role("button", name="Continue to payment").click()
    expect(page.get_by_role("heading", name="Checkout")).to_be_visible()
    page.get_by_label("Card number").fill("4242 4242 4242 4242")
    page.get_by_label("Expiration date").fill("12 / 34")
    page.get_by_label("CVC").fill("123")
    page.get_by_label("Name on card").fill("Olive Owner")
    fill_checkout_address(page)
    page.get_by_role("button", name="Pay").click()
    expect(page.locator('[data-billing-status="DONE"]')).to_be_visible()
    expect(page.locator("#banners")).to_be_empty()
    expect(page.locator("#practice-invoices")).to_contain_text("Paid")
    expect(page.locator("#wallet-cards")).to_contain_text("Default")

    # Cancel at period end with a reason (htmx swap), the banner shows the date; then resume.
    page.locator("details.cancel summary").click()
    page.get_by_role("button", name="Cancel at period end").click()  # no reason yet: refused, form stays
    expect(page.locator("#reason-errors")).to_contain_text("Please tell us why you are cancelling.")
    page.get_by_label("Why are you cancelling?").fill("Trying another system")
    page.get_by_role("button", name="Cancel at period end").click()
    expect(page.locator('[data-banner="cancellation_scheduled"]')).to_contain_text("the subscription ends on")
    mailbox.wait_for("olive@example.com", "subscription ends on")
    page.locator("#practice-billing").get_by_role("button", name="Resume subscription").click()
    expect(page.locator('[data-banner="cancellation_scheduled"]')).to_have_count(0)
    expect(page.locator("#practice-billing")).to_contain_text("The subscription continues.")

    # Switch to every 6 months: preview the prorated amount, then confirm.
    page.get_by_role("button", name=re.compile("Switch to Every 6 months")).click()
    expect(page.locator("[data-preview-amount]")).to_be_visible()
    page.get_by_role("button", name="Confirm switch").click()
    expect(page.locator("#practice-billing")).to_contain_text("now on the Every 6 months plan")
    screenshot("practice_billing")

    # Who did what, on the History tab.
    page.get_by_role("link", name="History").click()
    expect(page.locator("#practice-audit")).to_contain_text("Cancellation asked for")
    expect(page.locator("#practice-audit")).to_contain_text("Plan switched from Monthly to Every 6 months")
    screenshot("practice_history")
    page.get_by_role("link", name="People").click()
    expect(page.locator("#practice-members")).to_contain_text("Owner")
    screenshot("practice_people")
    assert page.errors == []


def test_the_hosted_checkout_page_fits_a_phone_and_has_no_missing_favicon(page, practice_portal):
    base = practice_portal
    missing = []
    page.on("response", lambda response: response.status == 404 and missing.append(response.url))
    page.goto(f"{base}/login")
    page.get_by_label("Email").fill("olive@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{base}/account")
    page.goto(f"{base}/practices/")
    page.get_by_label("Practice name").fill("Phone Dental")
    page.get_by_role("button", name="Create practice").click()
    page.get_by_label(re.compile("Monthly")).check()
    page.get_by_role("button", name="Continue to payment").click()
    expect(page.get_by_role("heading", name="Checkout")).to_be_visible()
    for width in (390, 320):
        page.set_viewport_size({"width": width, "height": 844})
        cvc = page.get_by_label("CVC").bounding_box()
        assert cvc["x"] + cvc["width"] <= width, f"CVC box ends at {cvc['x'] + cvc['width']} px"
        assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert missing == []
