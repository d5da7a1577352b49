"""One live subscription per practice, whatever tabs or clients race to subscribe.

Starting a Checkout expires the practice's older open sessions (``checkout.start_checkout``),
but a session paid in the instant before that still completes. When a second live
subscription shows up (any of its events, the success page, or reconciliation with
``--fix``), ``resolve`` reads the customer's subscriptions at Stripe and keeps one by a rule
that does not depend on the order the events arrive in: a paid one over an unpaid
(``incomplete``) one, then the earliest paid (``survivor``). Every other live one is cancelled
at once, everything it charged (the onboarding fee included) is refunded, the practice's History
says so and its billing managers get an email. Each duplicate is handled once: its
cancellation is claimed as a billing intent in the transaction that records it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from portal.extensions import db
from portal.formatting import money_token
from portal.gateway import invoices as stripe_invoices
from portal.gateway import refunds as stripe_refunds
from portal.gateway import subscriptions as stripe_subscriptions
from portal.gateway.errors import InvalidRequest, NotFound
from portal.gateway.shapes import as_dict, invoice_subscription_id, subscription_price
from portal.practices import audit, intents, notifications
from portal.practices.models import BillingIntent, Practice
from portal.practices.plans import plan_from_price

log = logging.getLogger(__name__)

#: Subscriptions that bill (or are about to bill) the practice.
LIVE_STATES = frozenset({"active", "trialing", "past_due", "unpaid", "incomplete"})

#: The billing intent that claims a duplicate's cancellation (keyed by its subscription id).
DUPLICATE = "duplicate_subscription"

_report_only: ContextVar[bool] = ContextVar("duplicate_subscriptions_report_only", default=False)


@contextmanager
def report_only() -> Iterator[None]:
    """Inside: a second subscription is noticed but nothing is changed at Stripe (a dry run)."""
    token = _report_only.set(True)
    try:
        yield
    finally:
        _report_only.reset(token)


def live_subscriptions(customer_id: str) -> list[dict]:
    subscriptions = [as_dict(sub) for sub in stripe_subscriptions.list_subscriptions(customer_id)]
    return [sub for sub in subscriptions if sub.get("status") in LIVE_STATES]


def survivor(live: list[dict]) -> dict:
    """The one to keep: paid before unpaid, then the earliest paid.

    Stripe creates a Checkout's subscription when it is paid, but its ``created`` counts whole
    seconds: within one second the checkout started first (``startedAt``, our clock's nanoseconds,
    carried from the session to the subscription) was paid first. The id breaks a tie only
    between subscriptions made outside the portal's Checkout.
    """
    return min(live, key=_paid_order)


def _paid_order(subscription: dict) -> tuple[bool, int, int, str]:
    created = int(subscription.get("created") or 0)
    started = str((subscription.get("metadata") or {}).get("startedAt") or "")
    started_ns = int(started) if started.isdigit() else created * 10**9
    return subscription.get("status") == "incomplete", created, started_ns, subscription["id"]


def resolve(practice: Practice) -> dict | None:
    """Keep one live subscription at Stripe and cancel (and refund) the others; the kept one.

    None when the customer has no live subscription, or in a dry run (``report_only``).
    """
    if _report_only.get() or not practice.stripe_customer_id:
        return None
    live = live_subscriptions(practice.stripe_customer_id)
    if not live:
        return None
    kept = survivor(live)
    for subscription in live:
        if subscription["id"] != kept["id"]:
            cancel_duplicate(practice, subscription)
    return kept


def already_cancelled(practice: Practice, subscription_id: str) -> bool:
    """Was this subscription cancelled as a duplicate already (its late events change nothing)?"""
    return (
        db.session.scalar(
            sa.select(BillingIntent.id).where(
                BillingIntent.practice_id == practice.id,
                BillingIntent.action == DUPLICATE,
                BillingIntent.intent_key == subscription_id[:64],
            )
        )
        is not None
    )


def cancel_duplicate(practice: Practice, subscription: dict) -> None:
    """Cancel now, refund each paid invoice, audit and email; once per subscription."""

    if not intents.claim_effect(practice.id, DUPLICATE, subscription["id"]):
        return
    try:
        stripe_subscriptions.cancel_subscription_now(
            subscription["id"], key=("duplicate", subscription["id"])
        )
    except InvalidRequest as error:  # it ended meanwhile
        log.info("duplicate %s already ended: %s", subscription["id"], error)
    refunded = _refund_subscription(practice, subscription["id"])
    currency = subscription.get("currency") or "usd"
    plan = plan_from_price(subscription_price(subscription))
    plan_label = plan.lazy_label if plan else "subscription"
    log.warning(
        "cancelled duplicate subscription %s of practice %s, refunded %s",
        subscription["id"],
        practice.id,
        refunded,
    )
    audit.record(
        practice,
        "duplicate_subscription_cancelled",
        f"{subscription['id']} ({plan.record_label if plan else 'subscription'}) cancelled, "
        f"{money_token(refunded, currency)} refunded",
    )
    notifications.notify(
        practice,
        _l("%(practice)s: a second subscription was cancelled and refunded", practice=practice.name),
        "practice_duplicate_subscription",
        plan_label=plan_label,
        refunded=refunded,
        currency=currency,
    )


def _refund_subscription(practice: Practice, subscription_id: str) -> int:
    """Refund what the subscription's invoices charged; the total refunded now."""
    total = 0
    for invoice in stripe_invoices.list_invoices(practice.stripe_customer_id):
        invoice = as_dict(invoice)
        if invoice_subscription_id(invoice) != subscription_id or not invoice.get("amount_paid"):
            continue
        for payment_intent_id in stripe_refunds.invoice_payment_intents(invoice["id"]):
            try:
                total += int(stripe_refunds.refund_payment_intent(payment_intent_id).amount)
            except (InvalidRequest, NotFound) as error:  # refunded already (an earlier run)
                log.info("no refund of %s: %s", payment_intent_id, error)
    return total


def count_live(subscriptions: list) -> int:
    """How many of a customer's subscriptions bill it (``flask billing reconcile`` reports > 1)."""
    return sum(1 for sub in subscriptions if as_dict(sub).get("status") in LIVE_STATES)
