"""Buying a product with a saved card in Chromium: the order is paid and the stock goes down."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from portal.extensions import db
from portal.shop import catalog
from tests.e2e.steps import add_card, register

pytestmark = pytest.mark.e2e


def test_buy_with_a_saved_card(page, live_portal_factory, mailbox, screenshot):
    portal = live_portal_factory()
    with portal.app.app_context():
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
    base = portal.url

    register(page, base, "Shopper", "shopper@example.com", "shop-password-1")
    add_card(page, "4242424242424242")
    expect(page.get_by_role("list", name="Saved cards")).to_contain_text("ending in 4242")

    page.goto(f"{base}/shop/products/{product_id}")
    expect(page.locator("#buy")).to_contain_text("ending in 4242")
    expect(page.locator("#buy input[type=radio]").first).to_be_checked()  # the default card
    page.get_by_label("Quantity").fill("2")
    screenshot("shop_product")
    page.get_by_role("button", name="Buy now").click()

    expect(page.locator("#receipt")).to_contain_text("Paid")
    expect(page.locator("#receipt")).to_contain_text("$25.00")
    screenshot("shop_order")
    page.goto(f"{base}/shop/products/{product_id}")
    expect(page.get_by_text("Only 3 left")).to_be_visible()
    assert mailbox.wait_for("shopper@example.com", "receipt")
    assert page.errors == []
