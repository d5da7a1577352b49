"""A person's whole account journey in a real browser, with a real SMTP server."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.steps import log_in, log_out
from tests.smtp import body_text

pytestmark = pytest.mark.e2e

EMAIL = "ada@example.com"
FIRST_PASSWORD = "analytical-engine-1843"
NEW_PASSWORD = "difference-engine-1822"


def test_register_edit_reset_delete(page, live_portal, mailbox, screenshot):
    base = live_portal

    # Register (a first try with a typo shows the message and keeps what was typed).
    page.goto(f"{base}/register")
    screenshot("register")
    page.get_by_label("Full name").fill("Ada Lovelace")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password", exact=True).fill(FIRST_PASSWORD)
    page.get_by_label("Confirm password").fill("not-the-same-password")
    page.get_by_role("button", name="Create account").click()
    expect(page.locator("#confirm-errors")).to_contain_text("The passwords do not match.")
    expect(page.get_by_label("Full name")).to_have_value("Ada Lovelace")
    expect(page.get_by_label("Password", exact=True)).to_have_value("")
    screenshot("register_errors")
    page.get_by_label("Password", exact=True).fill(FIRST_PASSWORD)
    page.get_by_label("Confirm password").fill(FIRST_PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(f"{base}/login")  # the same answer for a new email and a taken one
    expect(page.locator("#flashes")).to_contain_text("We sent a message to")
    log_in(page, base, EMAIL, FIRST_PASSWORD)
    expect(page).to_have_url(f"{base}/account")
    expect(page.locator("main")).to_contain_text("Ada Lovelace")
    expect(page.locator("main")).to_contain_text("Not verified")
    screenshot("account")

    log_out(page, base)
    screenshot("login")

    # Log in, edit the profile.
    log_in(page, base, EMAIL, FIRST_PASSWORD)
    expect(page).to_have_url(f"{base}/account")
    page.get_by_role("link", name="Edit profile").click()
    page.get_by_label("Full name").fill("Ada King")
    screenshot("profile")
    page.get_by_role("button", name="Save profile").click()
    expect(page).to_have_url(f"{base}/account")
    expect(page.locator("dl.facts")).to_contain_text("Ada King")
    log_out(page, base)

    # Forgot password: the link arrives by real SMTP.
    mailbox.clear()
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("Email").fill(EMAIL)
    screenshot("forgot_password")
    page.get_by_role("button", name="Send reset link").click()
    expect(page.locator("#flashes")).to_contain_text("we sent it a link")
    message = mailbox.wait_for(EMAIL, "Reset your password")
    link = re.search(r"http://\S+/reset-password/\S+", body_text(message)).group(0)
    assert link.startswith(base)
    page.goto(link)
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Confirm new password").fill(NEW_PASSWORD)
    screenshot("reset_password")
    page.get_by_role("button", name="Save new password").click()
    expect(page).to_have_url(f"{base}/login")
    expect(page.locator("#flashes")).to_contain_text("Your password was reset.")

    # The old password no longer works; the new one does.
    log_in(page, base, EMAIL, FIRST_PASSWORD)
    expect(page.locator("#password-errors")).to_contain_text("do not match an account")
    expect(page.get_by_label("Email")).to_have_value(EMAIL)
    log_in(page, base, EMAIL, NEW_PASSWORD)
    expect(page).to_have_url(f"{base}/account")

    # Delete the account; it asks for the password.
    page.get_by_role("link", name="Delete my account").click()
    expect(page).to_have_url(f"{base}/account/delete")
    screenshot("delete_account")
    page.get_by_label("Password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Delete my account").click()
    expect(page).to_have_url(f"{base}/login")
    expect(page.locator("#flashes")).to_contain_text("Your account was deleted.")

    log_in(page, base, EMAIL, NEW_PASSWORD)
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.locator("#password-errors")).to_contain_text("do not match an account")

    assert page.errors == [], page.errors  # no script errors, no CSP violations
