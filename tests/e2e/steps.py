"""Steps that several browser journeys share."""

from __future__ import annotations

from playwright.sync_api import expect


def register(page, base: str, name: str, email: str, password: str) -> None:
    page.goto(f"{base}/register")
    page.get_by_label("Full name").fill(name)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_label("Confirm password").fill(password)
    page.get_by_role("button", name="Create account").click()
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
