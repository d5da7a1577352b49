"""The practice handlers through the webhook inbox (runs once the webhooks feature is merged)."""

from __future__ import annotations

import time

from portal.practices.status import BillingStatus
from portal.webhooks import handlers as inbox
from tests import stripe_payloads as p
from tests.practices.sandbox_helpers import HANDLERS
from tests.practices.test_mirror import subscribed
from tests.stripe_payloads import DAY, T0, current_secret, deliver

PRACTICE_EVENT_TYPES = [
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "customer.subscription.paused",
    "customer.subscription.resumed",
    "customer.subscription.trial_will_end",
    "invoice.created",
    "invoice.finalized",
    "invoice.finalization_failed",
    "invoice.upcoming",
    "invoice.paid",
    "invoice.payment_succeeded",
    "invoice.payment_failed",
    "invoice.payment_action_required",
    "invoice.updated",
    "invoice.voided",
    "invoice.marked_uncollectible",
    "checkout.session.completed",
]


def post(client, app, event):
    return deliver(client, event, secret=current_secret(app))


def test_every_practice_event_has_a_practice_handler(app):
    for event_type in PRACTICE_EVENT_TYPES:
        assert inbox.handler_for(event_type) is HANDLERS[event_type]
    assert sorted(HANDLERS) == sorted(PRACTICE_EVENT_TYPES)


def test_payment_failed_through_the_endpoint_once(client, app, practice, owner, mailbox):
    subscribed(practice)
    t = T0 + 30 * DAY
    failed = p.invoice(practice.id, practice.stripe_customer_id, id="in_renew", status="open", created=t)
    event = p.event("invoice.payment_failed", failed, t, id="evt_practice_failed")
    assert post(client, app, event).status_code == 200
    assert post(client, app, event).status_code == 200  # delivered twice
    from portal.extensions import db

    db.session.refresh(practice)
    assert practice.billing_status == BillingStatus.PAST_DUE
    mailbox.wait_for(owner.email, "a payment failed")
    time.sleep(0.3)
    assert len(mailbox.to(owner.email)) == 1
