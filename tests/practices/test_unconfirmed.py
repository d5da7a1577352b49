"""A billing change whose request reached Stripe but got no answer (Stripe hung): its outcome is
unknown, so the page says so instead of "try again", History says what was asked when it was
asked, and once Stripe answers the portal learns the outcome by sending the same call with the
same Idempotency-Key, whether Stripe had applied the first request or never got it."""

from __future__ import annotations

import contextlib

import pytest
import sqlalchemy as sa
import stripe
from flask import current_app

from portal.extensions import db
from portal.gateway.errors import NOT_SENT_MESSAGE, StripeUnavailable
from portal.gateway.transport import BoundedRequestsClient
from portal.practices import cards, unconfirmed
from portal.practices.models import BillingAuditEntry, PracticeInvoice
from portal.practices.status import BillingStatus
from tests.gateway.hung_stripe import HungStripe
from tests.practices.conftest import login
from tests.practices.sandbox_helpers import renew_on_card, save_card
from tests.practices.test_sandbox_journey import plans, practice  # noqa: F401
from tests.reliability.live import forms_of

HX = {"HX-Request": "true"}
REASON = "Moving to another system"


@contextlib.contextmanager
def stripe_hung():
    """Every Stripe call of the app goes to a port that accepts the request and never answers."""
    extensions = current_app.extensions
    healthy = extensions["stripe_client"]
    with HungStripe() as hung:
        extensions["stripe_client"] = stripe.StripeClient(
            current_app.config["STRIPE_SECRET_KEY"],
            base_addresses={"api": hung.url},
            http_client=BoundedRequestsClient(connect_timeout=0.2, read_timeout=0.5),
            max_network_retries=0,
        )
        try:
            yield hung
        finally:
            extensions["stripe_client"] = healthy


def cancel_requests(practice_id: int) -> list[str]:
    db.session.rollback()
    return db.session.scalars(
        sa.select(BillingAuditEntry.detail).where(
            BillingAuditEntry.practice_id == practice_id, BillingAuditEntry.action == "cancel_requested"
        )
    ).all()


@pytest.mark.parametrize("stripe_applied_it", [True, False])
def test_a_cancel_stripe_never_answered_is_reported_unconfirmed_then_confirmed(
    auth,
    owner,
    active,
    stripe_applied_it,
):
    client = login(auth, owner)
    billing = f"/practices/{active.id}/billing"
    page = client.get(billing).get_data(as_text=True)
    [cancel] = [fields for action, fields in forms_of(page) if action.endswith("/billing/cancel")]
    with stripe_hung() as hung:
        response = client.post(f"{billing}/cancel", data={**cancel, "reason": REASON}, headers={**HX})
        assert hung.connections == 1  # the request was sent: Stripe may have applied it
    text = response.get_data(as_text=True)
    assert response.status_code == 202
    assert unconfirmed.UNCONFIRMED in text and "try again" not in text.lower()
    assert cancel_requests(active.id) == [REASON]  # written when asked, not when Stripe confirms
    db.session.refresh(active)
    assert not active.cancel_at_period_end  # nothing is shown as done before Stripe says so
    page = client.get(billing).get_data(as_text=True)
    assert unconfirmed.UNCONFIRMED in page and f'hx-post="{billing}/status"' in page

    if stripe_applied_it:  # the first request did reach Stripe; only its answer was lost
        unconfirmed._send(active.unconfirmed_call)

    token = {"X-CSRFToken": forms_of(page)[0][1]["csrf_token"]}
    fragment = client.post(f"{billing}/status", headers={**HX, **token}).get_data(as_text=True)
    assert unconfirmed.CONFIRMED in fragment
    db.session.refresh(active)
    assert active.cancel_at_period_end and active.unconfirmed_call is None
    assert active.cancellation_reason == REASON
    assert cancel_requests(active.id) == [REASON]  # one line, however the outcome was learned


def test_a_change_stripe_provably_never_got_still_says_try_again(auth, owner, active, monkeypatch):
    """Refused before a byte was sent (breaker open, connection refused): nothing can have happened,
    so the page says so and nothing is left to confirm."""

    def never_sent(call):
        raise StripeUnavailable(NOT_SENT_MESSAGE, reached_stripe=False)

    client = login(auth, owner)
    billing = f"/practices/{active.id}/billing"
    page = client.get(billing).get_data(as_text=True)
    [cancel] = [fields for action, fields in forms_of(page) if action.endswith("/billing/cancel")]
    monkeypatch.setattr(unconfirmed, "_send", never_sent)
    response = client.post(f"{billing}/cancel", data={**cancel, "reason": REASON}, headers=HX)
    assert NOT_SENT_MESSAGE in response.get_data(as_text=True)
    db.session.refresh(active)
    assert active.unconfirmed_call is None and cancel_requests(active.id) == []


def test_pay_now_stripe_never_answered_is_confirmed_with_the_same_key(
    auth, owner, active, sandbox, inbox, monkeypatch
):
    """Pay now, the same class: History says it was asked, the page waits, and the same call with
    the same key (Stripe had charged it) mirrors the invoice paid without a second charge."""
    renew_on_card(sandbox, inbox, active, owner)
    good = save_card(sandbox, active, "pm_card_mastercard")
    cards.make_default_card(active, good.stripe_id, owner)
    client = login(auth, owner)
    billing = f"/practices/{active.id}/billing"
    page = client.get(billing).get_data(as_text=True)
    pay = next(fields for action, fields in forms_of(page) if action.endswith("/billing/pay"))
    with stripe_hung():
        response = client.post(f"{billing}/pay", data=pay, headers=HX)
    assert response.status_code == 202 and unconfirmed.UNCONFIRMED in response.get_data(as_text=True)
    db.session.refresh(active)
    invoice_id = active.unconfirmed_call["id"]
    charged = unconfirmed._send(active.unconfirmed_call)  # Stripe had charged it; the answer was lost
    assert unconfirmed.confirm(active)
    again = sandbox.client().v1.invoices.retrieve(invoice_id)
    assert again.status == "paid" and again.amount_paid == charged.amount_paid  # charged once
    mirrored = sa.select(PracticeInvoice.status).where(PracticeInvoice.stripe_id == invoice_id)
    assert db.session.scalar(mirrored) == "paid"
    assert [a for a in audit_actions(active.id) if a.startswith("pa") and "now" in a] == ["pay_now_requested"]
    assert active.billing_status == BillingStatus.DONE


def audit_actions(practice_id: int) -> list[str]:
    db.session.rollback()
    return db.session.scalars(
        sa.select(BillingAuditEntry.action).where(BillingAuditEntry.practice_id == practice_id)
    ).all()
