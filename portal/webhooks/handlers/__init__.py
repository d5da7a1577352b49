"""The event type -> handler table: the one place that says which events the portal acts on.

A handler takes the verified event (a plain dict) and writes through
``db.session`` without committing: the dispatcher commits its effects together
with the event's status, or rolls them back if it raises (a handler that
commits fails loudly). The event's row is locked while a handler runs, so keep
slow calls (Stripe, email) short or after the fact. Handlers must be
safe to run again for the same event after a rollback, and must compare the
event's ``created`` with the mirror so an older event never overwrites newer
state.

To handle a new type, add a function to the module named for its object
(``invoices.py``, ``subscriptions.py``, ...) and a line to ``EVENT_HANDLERS``,
or, from a feature package, decorate it with ``@register("invoice.paid")``.
"""

from __future__ import annotations

from collections.abc import Callable

from portal.webhooks.handlers import customers, payment_methods

Handler = Callable[[dict], None]

EVENT_HANDLERS: dict[str, Handler] = {
    "customer.updated": customers.customer_updated,
    "customer.deleted": customers.customer_deleted,
    "payment_method.attached": payment_methods.payment_method_changed,
    "payment_method.updated": payment_methods.payment_method_changed,
    "payment_method.automatically_updated": payment_methods.payment_method_changed,
    "payment_method.detached": payment_methods.payment_method_detached,
}


def register(*event_types: str) -> Callable[[Handler], Handler]:
    """Decorator adding a handler for ``event_types``; one handler per type, so a clash is an error."""

    def decorate(handler: Handler) -> Handler:
        for event_type in event_types:
            existing = EVENT_HANDLERS.get(event_type)
            if existing is not None and existing is not handler:
                raise ValueError(f"{event_type} already has a handler: {existing.__qualname__}")
            EVENT_HANDLERS[event_type] = handler
        return handler

    return decorate


def handler_for(event_type: str) -> Handler | None:
    return EVENT_HANDLERS.get(event_type)
