"""A platform admin in Chromium: a webhook whose handler failed shows as failed; Replay processes it.

The portal runs in a thread of this process, so the handler table it dispatches
through is this one: the test breaks a handler the way a bad deploy or a lost
database connection would, lets Stripe's delivery fail on it, then mends it.
"""

from __future__ import annotations

import json

import pytest
import requests
import sqlalchemy as sa
from playwright.sync_api import expect

from portal.auth import services as accounts
from portal.extensions import db
from portal.users.models import Role
from portal.wallet.models import PaymentMethod
from portal.webhooks.handlers import EVENT_HANDLERS
from tests.e2e.steps import log_in
from tests.stripe_payloads import make_event, payment_method, signature

pytestmark = pytest.mark.e2e

PASSWORD = "admin-journey-pw-1"


def test_admin_sees_a_failed_event_and_replays_it(page, live_portal_factory, monkeypatch, screenshot):
    portal = live_portal_factory()
    with portal.app.test_request_context():
        accounts.register_user("Paula Admin", "paula@example.com", PASSWORD, role=Role.ADMIN)
        holder = accounts.register_user("Carl Cardholder", "carl@example.com", PASSWORD)
        customer_id = holder.stripe_customer_id
    base = portal.url

    def database_gone(event: dict) -> None:
        raise RuntimeError("could not connect to the database")

    working = EVENT_HANDLERS["payment_method.attached"]
    monkeypatch.setitem(EVENT_HANDLERS, "payment_method.attached", database_gone)
    event = make_event("payment_method.attached", payment_method("pm_replayed", customer_id, last4="1881"))
    body = json.dumps(event)
    secret = portal.app.config["STRIPE_WEBHOOK_SECRET"].split(",")[0]
    response = requests.post(
        f"{base}/webhooks/stripe",
        data=body,
        headers={"Stripe-Signature": signature(body, secret), "Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 500  # Stripe would retry; the admin does not have to wait
    monkeypatch.setitem(EVENT_HANDLERS, "payment_method.attached", working)  # the fix is deployed

    log_in(page, base, "paula@example.com", PASSWORD)
    page.goto(f"{base}/admin/")
    expect(page.get_by_role("heading", name="Platform admin")).to_be_visible()
    screenshot("admin_index")
    page.get_by_role("link", name="Open the event log").click()
    row = page.locator("tr").filter(has_text=event["id"])
    expect(row).to_contain_text("Failed")
    expect(row).to_contain_text("could not connect to the database")
    screenshot("admin_events")

    row.get_by_role("button", name="Replay").click()
    expect(page.locator("#flashes")).to_contain_text(f"Event {event['id']} replayed: processed.")
    row = page.locator("tr").filter(has_text=event["id"])
    expect(row).to_contain_text("Processed")
    expect(row.get_by_role("button", name="Replay")).to_have_count(0)

    row.get_by_role("link", name="A card was saved").click()  # its sentence; the id behind "Stripe ids"
    expect(page.locator("body")).to_contain_text("pm_replayed")
    with portal.app.app_context():
        card = db.session.scalar(sa.select(PaymentMethod).filter_by(stripe_id="pm_replayed"))
        assert card is not None and card.last4 == "1881" and card.customer_id == customer_id
    assert page.errors == []
