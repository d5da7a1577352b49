"""The event type -> handler table: the one place that says which Stripe events the portal acts on.

``EVENT_HANDLERS`` is a literal: nothing adds to it at import time or from a
feature. Each module here is named for one Stripe object and holds thin
handlers that call the feature owning the state (``portal.wallet``,
``portal.practices``, ``portal.shop``). To handle a new type, write the handler
in its object's module and add its line below (and to the README's list, which
a test compares with this table).

A handler takes the verified event (a plain dict) and writes through
``db.session`` without committing: the dispatcher commits its effects together
with the event's status, or rolls them back if it raises (a handler that
commits fails loudly). The event's row is locked while a handler runs, so keep
slow calls (Stripe, email) out of it: its Stripe reads are made first
(``READ_FIRST``). Handlers must be safe to run again for the same event after a
rollback, and must compare the event's ``created`` with the mirror so an older
event never overwrites newer state.
"""

from __future__ import annotations

from collections.abc import Callable

from portal.webhooks.handlers import (
    checkout_session,
    credit_note,
    customer,
    invoice,
    payment_intent,
    payment_method,
    promotion_code,
    refund,
    subscription,
    subscription_schedule,
)

Handler = Callable[[dict], None]

EVENT_HANDLERS: dict[str, Handler] = {
    "charge.refunded": refund.charge_refunded,
    "checkout.session.completed": checkout_session.completed,
    "credit_note.created": credit_note.created,
    "customer.updated": customer.updated,
    "customer.deleted": customer.deleted,
    "customer.subscription.created": subscription.changed,
    "customer.subscription.updated": subscription.changed,
    "customer.subscription.deleted": subscription.changed,
    "customer.subscription.paused": subscription.changed,
    "customer.subscription.resumed": subscription.changed,
    "customer.subscription.trial_will_end": subscription.trial_will_end,
    "subscription_schedule.created": subscription_schedule.changed,
    "subscription_schedule.updated": subscription_schedule.changed,
    "subscription_schedule.released": subscription_schedule.changed,
    "subscription_schedule.canceled": subscription_schedule.changed,
    "subscription_schedule.completed": subscription_schedule.changed,
    "invoice.created": invoice.changed,
    "invoice.finalized": invoice.changed,
    "invoice.finalization_failed": invoice.finalization_failed,
    "invoice.upcoming": invoice.upcoming,
    "invoice.paid": invoice.changed,
    "invoice.payment_succeeded": invoice.changed,
    "invoice.payment_failed": invoice.changed,
    "invoice.payment_action_required": invoice.changed,
    "invoice.updated": invoice.changed,
    "invoice.voided": invoice.changed,
    "invoice.marked_uncollectible": invoice.changed,
    "payment_intent.succeeded": payment_intent.succeeded,
    "payment_intent.payment_failed": payment_intent.payment_failed,
    "payment_intent.canceled": payment_intent.canceled,
    "payment_method.attached": payment_method.changed,
    "payment_method.updated": payment_method.changed,
    "payment_method.automatically_updated": payment_method.changed,
    "payment_method.detached": payment_method.detached,
    "promotion_code.created": promotion_code.changed,
    "promotion_code.updated": promotion_code.changed,
    "refund.created": refund.changed,
    "refund.updated": refund.changed,
}


#: The Stripe reads a handler makes, made first, before the event's write transaction opens, and
#: served to the handler from memory (``portal.gateway.read_first``): waiting for Stripe (seconds
#: of retries in an outage) must never hold the database's write lock (attack 3 F12). A handler's
#: read belongs here; one not foreseen still works, from inside the transaction.
READ_FIRST: dict[str, Handler] = {
    "charge.refunded": refund.charge_read_first,
    "credit_note.created": credit_note.read_first,
    "customer.subscription.created": subscription.read_first,
    "customer.subscription.updated": subscription.read_first,
    "customer.subscription.deleted": subscription.read_first,
    "customer.subscription.paused": subscription.read_first,
    "customer.subscription.resumed": subscription.read_first,
    "subscription_schedule.created": subscription_schedule.read_first,
    "subscription_schedule.updated": subscription_schedule.read_first,
    "subscription_schedule.released": subscription_schedule.read_first,
    "subscription_schedule.canceled": subscription_schedule.read_first,
    "subscription_schedule.completed": subscription_schedule.read_first,
    "refund.created": refund.read_first,
    "refund.updated": refund.read_first,
}


def handler_for(event_type: str) -> Handler | None:
    return EVENT_HANDLERS.get(event_type)


def read_first_for(event_type: str) -> Handler | None:
    return READ_FIRST.get(event_type)
