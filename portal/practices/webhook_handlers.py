"""Practice handlers for the webhook inbox: thin wrappers over ``portal.practices.sync``.

Each takes the verified event (a dict) and writes without committing (the
dispatcher commits once). They register themselves with the inbox's table when
the webhooks feature is installed.
"""

from __future__ import annotations

from portal.practices import sync


def subscription_changed(event: dict) -> None:
    """customer.subscription.created/updated/deleted/paused/resumed."""
    sync.apply_subscription(event["data"]["object"], event["created"])


def invoice_changed(event: dict) -> None:
    """invoice.* : mirror, onboarding, payment failures, authentication requests, emails."""
    sync.apply_invoice(event["data"]["object"], event["created"], event["type"])


def invoice_upcoming(event: dict) -> None:
    """The renewal reminder email (at most once per event: the outbox keys it by the event id)."""
    sync.remind_renewal(event["data"]["object"], event["created"])


def invoice_finalization_failed(event: dict) -> None:
    sync.finalization_failed(event["data"]["object"], event["created"])


def checkout_session_completed(event: dict) -> None:
    sync.fulfil_checkout_session(event["data"]["object"], event["created"])


HANDLERS = {
    "customer.subscription.created": subscription_changed,
    "customer.subscription.updated": subscription_changed,
    "customer.subscription.deleted": subscription_changed,
    "customer.subscription.paused": subscription_changed,
    "customer.subscription.resumed": subscription_changed,
    "invoice.created": invoice_changed,
    "invoice.finalized": invoice_changed,
    "invoice.finalization_failed": invoice_finalization_failed,
    "invoice.upcoming": invoice_upcoming,
    "invoice.paid": invoice_changed,
    "invoice.payment_succeeded": invoice_changed,
    "invoice.payment_failed": invoice_changed,
    "invoice.payment_action_required": invoice_changed,
    "invoice.updated": invoice_changed,
    "invoice.voided": invoice_changed,
    "invoice.marked_uncollectible": invoice_changed,
    "checkout.session.completed": checkout_session_completed,
}

try:
    from portal.webhooks.handlers import register
except ImportError:  # the webhook inbox is not installed
    register = None

if register is not None:
    for _event_type, _handler in HANDLERS.items():
        register(_event_type)(_handler)
