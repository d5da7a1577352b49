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
    page.keyboard.type("4000002500003155")
    page.keyboard.press("Tab")
    page.keyboard.type("1234")
    page.keyboard.press("Tab")
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
