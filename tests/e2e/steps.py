"""Steps that several browser journeys share."""

from __future__ import annotations

import re
import time

from playwright.sync_api import expect

RECEIPT = "receipt for invoice "
#: The page's width and the width it lays out (wider: it scrolls sideways).
_WIDTHS = "() => [document.documentElement.clientWidth, document.documentElement.scrollWidth]"


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


def make_default(page, last4: str) -> None:
    """Press "Make default" on the saved card ending in ``last4`` (the only one with those digits)."""
    card = page.locator("#wallet-cards li").filter(has_text=last4)
    card.get_by_role("button", name="Make default").click()
    expect(card).to_contain_text("Default")


def fill_checkout_tax_id(page, business: str, type_label: str, value: str) -> None:
    """The first Checkout's optional tax ID (``tax_id_collection``): a business's name and its tax ID."""
    page.get_by_label("Business name").fill(business)
    page.get_by_label("Tax ID type").select_option(label=type_label)
    page.get_by_label("Tax ID", exact=True).fill(value)


def fill_checkout_address(page) -> None:
    """A practice's first Checkout asks for the billing address (``billing_address_collection``)."""
    if page.get_by_label("Address line 1").count():
        page.get_by_label("Address line 1").fill("12 Nguyen Hue")
        page.get_by_label("City").fill("Ho Chi Minh City")
        page.get_by_label("Postal code").fill("700000")
        page.get_by_label("Country (2 letters)").fill("VN")


def pay_in_checkout(
    page,
    number: str = "4242 4242 4242 4242",
    name: str = "Card Holder",
    before_pay=None,
    plan: str = "Monthly",
) -> None:
    """Choose ``plan`` on the billing page, then pay on the (sandbox's) hosted Checkout page.

    ``before_pay()`` runs on the filled-in Checkout page (e.g. to take a screenshot).
    """
    page.get_by_label(re.compile(plan)).check()
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


def receipt_numbers(mailbox, address: str, expected: int) -> list[str]:
    """The invoice numbers of the receipts sent to ``address``, once ``expected`` have arrived (and a
    moment more, so a duplicate would be counted too)."""

    def subjects() -> list[str]:
        return [str(m["Subject"]) for m in mailbox.to(address) if RECEIPT in str(m["Subject"])]

    deadline = time.monotonic() + 10
    while len(subjects()) < expected:
        assert time.monotonic() < deadline, f"{len(subjects())} receipts of {expected}"
        time.sleep(0.05)
    time.sleep(0.5)
    return [subject.rpartition(RECEIPT)[2] for subject in subjects()]


def assert_fits(page, width: int) -> None:
    """At ``width`` px the page scrolls only down, never sideways; then back to the window it had."""
    before = page.viewport_size
    page.set_viewport_size({"width": width, "height": 800})
    page.reload()
    client, scrolled = page.evaluate(_WIDTHS)
    assert scrolled <= client, f"{page.url} is {scrolled}px wide in a {client}px window"
    page.set_viewport_size(before)
    page.reload()


def eventually(check, timeout: float = 10):
    """``check()``'s first truthy answer (Stripe's webhooks arrive a moment after its pages answer)."""
    deadline = time.monotonic() + timeout
    while not (answer := check()):
        assert time.monotonic() < deadline, f"{check.__doc__ or check} never held"
        time.sleep(0.2)
    return answer


def shows(page, url: str, locator, text: str) -> None:
    """Open ``url`` until ``locator`` contains ``text``, as a person who refreshes sees."""
    deadline = time.monotonic() + 10
    page.goto(url)
    while text not in (locator.inner_text() if locator.count() else "") and time.monotonic() < deadline:
        page.wait_for_timeout(250)
        page.goto(url)
    expect(locator).to_contain_text(text)
