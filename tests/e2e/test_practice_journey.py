"""A practice owner's billing journey in Debian's Chromium: create, pay in Checkout, cancel, resume, switch.

The fixtures here are local to this module (a live portal on a free port with
the sandbox, and a Chromium page), so the test runs with or without the shared
e2e conftest.
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from portal import create_app
from portal.extensions import db

pytestmark = pytest.mark.e2e
playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PASSWORD = "correct-horse-battery"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture
def practice_portal(tmp_path, smtp_server, sandbox):
    """The portal served on a free port, with an owner account and the plans bootstrapped."""
    app = create_app(
        "testing",
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'live.sqlite'}",
        STRIPE_API_BASE=sandbox.url,
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=smtp_server.port,
    )
    with app.test_request_context():
        db.create_all()
        from portal.auth import services as accounts
        from portal.practices.services import bootstrap_plans

        accounts.register_user("Olive Owner", "olive@example.com", PASSWORD)
        bootstrap_plans()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def chromium_page():
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"{CHROMIUM} not found")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
        page.set_default_timeout(15_000)
        page.errors = []
        page.on("pageerror", lambda exc: page.errors.append(str(exc)))
        yield page
        browser.close()


def test_practice_billing_journey(chromium_page, practice_portal, mailbox):
    page, base = chromium_page, practice_portal

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
    page.get_by_role("button", name="Pay").click()
    expect(page.locator('[data-billing-status="DONE"]')).to_be_visible()
    expect(page.locator("#banners")).to_be_empty()
    expect(page.locator("#practice-invoices")).to_contain_text("Paid")
    expect(page.locator("#wallet-cards")).to_contain_text("Default")

    # Cancel at period end with a reason (htmx swap), the banner shows the date; then resume.
    page.locator("details.cancel summary").click()
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
    expect(page.locator("#practice-audit")).to_contain_text("Cancel requested")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "practice_billing.png"), full_page=True)
    assert page.errors == []
