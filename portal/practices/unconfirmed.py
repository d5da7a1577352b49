"""Billing calls whose outcome Stripe left unknown, and learning it.

A call that timed out after its request was sent (``StripeUnavailable.reached_stripe``: a
read timeout, a connection dropped mid-answer) may have been applied at Stripe. "Try again"
would be wrong (it may be done) and so would "it failed" (it may not be). So the practice
keeps the call as it was sent (``Practice.unconfirmed_call``: operation, arguments,
idempotency key), the audit line says what the person asked when they asked it, and the page
says "We could not confirm with Stripe yet; we will check and update this page". ``confirm``
then sends the very same call again, with the same Idempotency-Key: Stripe's documented way
to learn the outcome. If the first request was applied Stripe answers with its result and
does nothing more; if it never arrived, Stripe applies it now, as the person asked. It runs
from a billing manager's status poll (the page polls while a call is unconfirmed), before the
next billing action of the practice, and from ``flask billing retry``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import sqlalchemy as sa

from portal.extensions import db
from portal.gateway import invoices as stripe_invoices
from portal.gateway import subscriptions as stripe_subscriptions
from portal.gateway.errors import BillingError, StripeUnavailable
from portal.gateway.gateway import stripe_time
from portal.practices import audit, invoice_mirror, mirror
from portal.practices.errors import PracticeError
from portal.practices.models import Practice
from portal.text import N_

log = logging.getLogger(__name__)

UNCONFIRMED = N_("We could not confirm with Stripe yet; we will check and update this page.")
STILL_UNCONFIRMED = N_(
    "We are still confirming your last change with Stripe; this page updates once it is confirmed."
)
CONFIRMED = N_("Stripe confirmed your change.")


class OutcomeUnknown(PracticeError):
    """The request reached Stripe and no answer came back: not a failure, not a success yet."""

    status = 202
    code = "outcome_unknown"

    def __init__(self) -> None:
        super().__init__(UNCONFIRMED)


def subscription_update(subscription_id: str, params: dict, key: tuple) -> dict:
    return {"operation": "subscription.update", "id": subscription_id, "params": params, "key": list(key)}


def invoice_payment(invoice_id: str, payment_method_id: str, key: tuple) -> dict:
    return {
        "operation": "invoice.pay",
        "id": invoice_id,
        "payment_method": payment_method_id,
        "key": list(key),
    }


def _send(call: dict) -> object:
    if call["operation"] == "invoice.pay":
        return stripe_invoices.pay_invoice(call["id"], call["payment_method"], key=tuple(call["key"]))
    return stripe_subscriptions.update_subscription(call["id"], call["params"], key=tuple(call["key"]))


def _apply(call: dict, result: object) -> None:
    if call["operation"] == "invoice.pay":
        invoice_mirror.apply_invoice(result, stripe_time(result), "invoice.paid", fresh=True)
    else:
        mirror.apply_subscription(result, stripe_time(result), fresh=True)


def send(practice: Practice, call: dict, asked: Callable[[], None]) -> object:
    """Send ``call``, Stripe's answer. If it may have reached Stripe unanswered: keep it, record
    what the person asked (``asked``, in this transaction), commit, and raise ``OutcomeUnknown``.
    A call Stripe provably never got raises its ``StripeUnavailable`` as before (nothing happened)."""
    try:
        return _send(call)
    except StripeUnavailable as error:
        if not error.reached_stripe:
            raise
        log.warning("outcome unknown practice_id=%s operation=%s", practice.id, call["operation"])
        db.session.rollback()
        practice.unconfirmed_call = call
        asked()
        db.session.commit()
        raise OutcomeUnknown() from error


def confirm(practice: Practice) -> bool:
    """Learn the outcome of the practice's unconfirmed call (the same call, the same key) and
    mirror it; True once nothing is left unconfirmed. Stripe still not answering: False."""
    call = practice.unconfirmed_call
    if not call:
        return True
    try:
        result = _send(call)
    except StripeUnavailable:
        return False
    except BillingError as error:  # Stripe refused it: it did not happen
        practice.unconfirmed_call = None
        audit.record(practice, "change_not_applied", f"{call['operation']}: {error.message}")
        db.session.commit()
        return True
    practice.unconfirmed_call = None
    _apply(call, result)
    db.session.commit()
    return True


def confirm_all() -> tuple[int, int]:
    """``flask billing retry``: every practice's unconfirmed call; (confirmed, still unknown)."""
    confirmed = unknown = 0
    for practice in db.session.scalars(sa.select(Practice).where(Practice.unconfirmed_call.is_not(None))):
        if confirm(practice):
            confirmed += 1
        else:
            unknown += 1
    return confirmed, unknown
