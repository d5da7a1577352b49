"""Stripe.js in the page's language (issue 18): the portal creates it with ``{locale}`` from the
page, and the card element (the sandbox's, as Stripe's) labels its fields and says a decline in it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.steps import register

pytestmark = pytest.mark.e2e


def test_a_vietnamese_page_gets_a_vietnamese_card_element(page, live_portal):
    base = live_portal
    register(page, base, "Chị Lan", "lan@example.com", "wallet-password-1")
    page.context.add_cookies(
        [{"name": "locale", "value": "vi", "url": base}]
    )  # no saved choice: the cookie's
    page.goto(f"{base}/account")
    expect(page.locator("#add-card-form")).to_have_attribute("data-stripe-locale", "vi")
    frame = page.frame_locator("iframe[title='Secure card payment input frame']")
    expect(frame.locator("html")).to_have_attribute("lang", "vi")
    frame.get_by_label("Số thẻ").fill("4000000000009995")
    frame.get_by_label("Ngày hết hạn").fill("1234")
    frame.get_by_label("CVC").fill("123")
    page.locator("#add-card-submit").click()
    expect(page.locator("#card-errors")).to_contain_text("Thẻ của bạn không đủ tiền.")
