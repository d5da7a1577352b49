"""Saving, defaulting and removing cards in Chromium, with the Stripe.js stand-in and 3-D Secure."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.steps import add_card, register

pytestmark = pytest.mark.e2e


def test_add_two_cards_make_default_remove(page, live_portal, screenshot):
    base = live_portal
    register(page, base, "Card Person", "cards@example.com", "wallet-password-1")
    # Survives only as long as no full page load happens.
    page.evaluate("window.__noReload = true")
    cards = page.get_by_role("list", name="Saved cards")

    add_card(page, "4242424242424242")
    expect(cards.locator("li")).to_have_count(1)
    expect(cards).to_contain_text("ending in 4242")
    expect(cards.locator("li").filter(has_text="4242")).to_contain_text("Default")

    add_card(page, "4000002500003155", challenge="Complete")
    expect(cards.locator("li")).to_have_count(2)
    expect(cards).to_contain_text("ending in 3155")
    screenshot("wallet")

    cards.locator("li").filter(has_text="3155").get_by_role("button", name="Make default").click()
    expect(cards.locator("li").filter(has_text="3155")).to_contain_text("Default")
    expect(cards.locator("li").filter(has_text="4242")).not_to_contain_text("Default")

    page.once("dialog", lambda dialog: dialog.accept())
    cards.locator("li").filter(has_text="4242").get_by_role("button", name="Remove").click()
    expect(cards.locator("li")).to_have_count(1)
    expect(cards).not_to_contain_text("4242")

    assert page.evaluate("window.__noReload") is True, "the page reloaded instead of swapping the list"
    page.reload()
    expect(page.get_by_role("list", name="Saved cards").locator("li")).to_have_count(1)
    assert page.errors == []


def test_declined_card_shows_stripes_message_and_keeps_the_form(page, live_portal):
    register(page, live_portal, "Declined Person", "declined@example.com", "wallet-password-1")
    add_card(page, "4000000000009995")
    expect(page.locator("#card-errors")).to_contain_text("insufficient funds")
    frame = page.frame_locator("iframe[title='Secure card payment input frame']")
    expect(frame.get_by_label("Card number")).not_to_have_value("")
    expect(page.get_by_text("No saved cards yet.")).to_be_visible()


def test_a_new_card_attempt_clears_the_last_cards_message(page, live_portal):
    """ "Card saved." neither stays above nor is read out as the answer to the next card's decline."""
    register(page, live_portal, "Twice Person", "twice@example.com", "wallet-password-1")
    add_card(page, "4242424242424242")
    expect(page.locator("#wallet-cards")).to_contain_text("Card saved.")
    expect(page.locator("#announcer")).to_have_text("Card saved.")
    add_card(page, "4000000000009995")
    expect(page.locator("#card-errors")).to_contain_text("insufficient funds")
    expect(page.get_by_text("Card saved.")).to_have_count(0)
    expect(page.locator("#announcer")).not_to_contain_text("Card saved.")
