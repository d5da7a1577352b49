"""Steps that several browser journeys share."""

from __future__ import annotations

import re

from playwright.sync_api import expect


def register(page, base: str, name: str, email: str, password: str) -> None:
    page.goto(f"{base}/register")
    page.get_by_label("Full name").fill(name)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_label("Confirm password").fill(password)
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(f"{base}/login")  # the same answer for a new email and a taken one
    expect(page.locator("#flashes")).to_contain_text("We sent a message to")
    log_in(page, base, email, password)
    expect(page).to_have_url(f"{base}/account")


def log_in(page, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def log_out(page, base: str) -> None:
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(f"{base}/login")
    expect(page.locator("#flashes")).to_contain_text("You have been logged out.")


def add_card(page, number: str, challenge: str | None = None) -> None:
    """Type a test card into the Stripe.js card element and save it."""
    frame = page.frame_locator("iframe[title='Secure card payment input frame']")
    frame.get_by_label("Card number").fill(number)
    frame.get_by_label("Expiration date").fill("1234")
    frame.get_by_label("CVC").fill("123")
    page.get_by_role("button", name="Save card").click()
    if challenge:
        page.frame_locator("iframe[name='stripe-challenge-frame']").get_by_role(
            "button", name=challenge
        ).click()


def create_practice(page, base: str, name: str) -> None:
    page.goto(f"{base}/practices/")
    page.get_by_label("Practice name").fill(name)
    page.get_by_role("button", name="Create practice").click()
    expect(page).to_have_url(re.compile(r"/practices/\d+/billing$"))


def fill_checkout_address(page) -> None:
    """A practice's first Checkout asks for the billing address (``billing_address_collection``)."""
    if page.get_by_label("Address line 1").count():
        page.get_by_label("Address line 1").fill("12 Nguyen Hue")
        page.get_by_label("City").fill("Ho Chi Minh City")
        page.get_by_label("Postal code").fill("700000")
        page.get_by_label("Country (2 letters)").fill("VN")


def pay_in_checkout(
    page, number: str = "4242 4242 4242 4242", name: str = "Card Holder", before_pay=None
) -> None:
    """Choose Monthly on the billing page, then pay on the (sandbox's) hosted Checkout page.

    ``before_pay()`` runs on the filled-in Checkout page (e.g. to take a screenshot).
    """
    page.get_by_label(re.compile("Monthly")).check()
    page.get_by_role("button", name="Continue to payment").click()
    expect(page.get_by_role("heading", name="Checkout")).to_be_visible()
    page.get_by_label("Card number").fill(number)
    page.get_by_label("Expiration date").fill("12 / 34")
    page.get_by_label("CVC").fill("123")
    page.get_by_label("Name on card").fill(name)
    fill_checkout_address(page)
    if before_pay is not None:
        before_pay()
    page.get_by_role("button", name="Pay").click()
