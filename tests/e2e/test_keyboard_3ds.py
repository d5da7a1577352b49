"""The bank's 3-D Secure check can be done from the keyboard alone."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.steps import register

pytestmark = pytest.mark.e2e


def test_a_card_that_asks_for_3d_secure_is_saved_with_the_keyboard_alone(page, live_portal):
    base = live_portal
    register(page, base, "Kim Keys", "kim@example.com", "correct-horse-battery")
    frame = page.frame_locator("iframe[title='Secure card payment input frame']")
    frame.get_by_label("Card number").focus()
    page.keyboard.type("4000002500003155")  # complete: the cursor moves on to the expiry by itself
    page.keyboard.type("1234")  # and on to the CVC
    page.keyboard.type("123")
    page.keyboard.press("Tab")  # out of the card frame: the Save card button
    expect(page.get_by_role("button", name="Save card")).to_be_focused()
    page.keyboard.press("Enter")
    challenge = page.frame_locator("iframe[name='stripe-challenge-frame']")
    expect(challenge.get_by_role("button", name="Complete")).to_be_visible()
    for _ in range(20):  # Tab until the challenge's button has the focus
        page.keyboard.press("Tab")
        focused = challenge.locator(":focus")
        if focused.count() and "Complete" in focused.inner_text():
            break
    else:
        pytest.fail("Tab never reached the 3-D Secure challenge's buttons")
    page.keyboard.press("Enter")
    expect(page.locator("#wallet-cards")).to_contain_text("ending in 3155")
    assert page.errors == []


def _open_challenge(page, base, email):
    register(page, base, "Tess Trap", email, "correct-horse-battery")
    frame = page.frame_locator("iframe[title='Secure card payment input frame']")
    frame.get_by_label("Card number").fill("4000002500003155")
    frame.get_by_label("Expiration date").fill("1234")
    frame.get_by_label("CVC").fill("123")
    page.get_by_role("button", name="Save card").focus()
    page.keyboard.press("Enter")
    challenge = page.frame_locator("iframe[name='stripe-challenge-frame']")
    complete = challenge.get_by_role("button", name="Complete")
    expect(complete).to_be_visible()
    has_focus = "button => document.activeElement === button"
    for _ in range(30):  # the modal focuses its frame once loaded
        if complete.evaluate(has_focus):
            break
        page.wait_for_timeout(100)
    assert complete.evaluate(has_focus)  # the keyboard starts on the challenge's first button
    return challenge


def test_the_3d_secure_modal_keeps_the_keyboard_and_escape_cancels_it(page, live_portal):
    challenge = _open_challenge(page, live_portal, "tess@example.com")
    for _ in range(8):  # Tab never reaches the page behind the overlay
        page.keyboard.press("Tab")
        behind = page.evaluate(
            "() => document.activeElement && document.activeElement.closest('[role=dialog]') === null"
            " && document.activeElement !== document.body"
        )
        assert not behind, page.evaluate("() => document.activeElement.outerHTML.slice(0, 120)")
    expect(challenge.get_by_role("button", name="Complete")).to_be_attached()
    page.keyboard.press("Escape")
    expect(page.locator("iframe[name='stripe-challenge-frame']")).to_have_count(0)
    expect(page.locator("#card-errors")).not_to_be_empty()
    page.wait_for_timeout(200)  # the focus goes back once the page has taken the result
    save = page.get_by_role("button", name="Save card")
    assert save.evaluate("button => document.activeElement === button")
    expect(page.get_by_text("No saved cards yet.")).to_be_visible()


def test_the_card_number_is_grouped_and_stops_at_its_brands_length(page, live_portal):
    register(page, live_portal, "Gus Group", "gus@example.com", "correct-horse-battery")
    frame = page.frame_locator("iframe[title='Secure card payment input frame']")
    number = frame.get_by_label("Card number")
    number.focus()
    number.fill("42424242424242429999")  # four digits too many
    expect(number).to_have_value("4242 4242 4242 4242")
    assert frame.get_by_label("Expiration date").evaluate("input => document.activeElement === input")
    number.fill("378282246310005")  # American Express: 4-6-5
    expect(number).to_have_value("3782 822463 10005")
