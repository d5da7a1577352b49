"""Receipts: one email for every paid practice invoice (the first payment with its onboarding fee,
a renewal, Pay now, a plan switch's proration), to the practice's billing email.

Sent when Stripe says the invoice was paid (``invoice.paid`` or ``invoice.payment_succeeded``,
whichever arrives first), never when a person's action reads the paid invoice back: the event
always comes (Stripe retries it for days), and one place to send from is one receipt. The outbox
keys it by the invoice id alone (``sent_once``), so both events, redeliveries, replays, events out of
order, even a billing email changed in between, send one. An invoice that charged nothing (fully
paid from credit) sends none. Every date is Stripe's (the invoice's own timestamps), written as the
pages write a day.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l

from portal.formatting import lazy_date
from portal.gateway import invoices as stripe_invoices
from portal.gateway.shapes import object_id
from portal.mail.outbox import caused_by, queue_email, sent_once_queued
from portal.practices import audit
from portal.practices.errors import PracticeError
from portal.practices.kinds import PLAN_LABELS
from portal.practices.models import Plan, Practice
from portal.practices.notifications import practice_reading, receipt_recipients
from portal.practices.plans import plan_price_id, practice_currencies
from portal.words import card_brand

TEMPLATE = "practice_receipt"


@dataclass(frozen=True)
class ReceiptLine:
    """One line of the invoice: what it was for, what it cost, and the period it covers, if any."""

    description: str | LazyString
    amount: int
    period: LazyString | None


def _period(line: dict) -> str | None:
    period = line.get("period") or {}
    start, end = period.get("start"), period.get("end")
    if not start or not end or start == end:
        return None  # a one-time charge covers no period
    # Read when the email is rendered: in its recipient's language and the practice's zone.
    return _l("%(start)s to %(end)s", start=lazy_date(int(start)), end=lazy_date(int(end)))


def _is_onboarding_fee(invoice: dict, line: dict) -> bool:
    """The first invoice's one item that is not the plan: Checkout adds only the onboarding fee."""
    parent_type = (line.get("parent") or {}).get("type")
    return invoice.get("billing_reason") == "subscription_create" and parent_type == "invoice_item_details"


def _plan_of_line(line: dict) -> Plan | None:
    """The plan a subscription's line charges for (not a proration: Stripe's words say what changed),
    said in the reader's words rather than Stripe's English ("1 x Practice subscription (at ...)")."""
    parent = line.get("parent") or {}
    if parent.get("type") != "subscription_item_details":
        return None
    if (parent.get("subscription_item_details") or {}).get("proration"):
        return None
    price = object_id(((line.get("pricing") or {}).get("price_details") or {}).get("price"))
    if not price:
        return None
    try:
        for plan in Plan:
            if price in {plan_price_id(plan, currency) for currency in practice_currencies()}:
                return plan
    except PracticeError:  # the plans are not set up: Stripe's words then
        return None
    return None


def receipt_lines(invoice: dict) -> list[ReceiptLine]:
    lines = []
    for line in (invoice.get("lines") or {}).get("data") or []:
        if _is_onboarding_fee(invoice, line):
            description = _l("Onboarding fee (one time)")
        elif plan := _plan_of_line(line):
            description = _l("%(plan)s plan", plan=PLAN_LABELS[plan.value])
        else:
            description = line.get("description") or _l("Subscription")
        lines.append(ReceiptLine(description, int(line.get("amount") or 0), _period(line)))
    return lines


def covered_period(invoice: dict) -> str | None:
    """The subscription's period the invoice pays for: from its plan lines (a proration's too)."""
    periods = [
        line.get("period") or {}
        for line in (invoice.get("lines") or {}).get("data") or []
        if (line.get("parent") or {}).get("type") == "subscription_item_details"
    ]
    starts = [p["start"] for p in periods if p.get("start")]
    ends = [p["end"] for p in periods if p.get("end")]
    if not starts or not ends:
        return None
    return _period({"period": {"start": min(starts), "end": max(ends)}})


def _card_words(invoice: dict) -> LazyString | None:
    card = stripe_invoices.invoice_card(
        invoice
    )  # looked up now, once; its words read in the email's language
    if not card.get("last4"):
        return None
    return _l(
        "%(brand)s ending in %(last4)s", brand=LazyString(card_brand, card.get("brand")), last4=card["last4"]
    )


def send_receipt(practice: Practice, invoice: dict, paid_at: int) -> bool:
    """Queue the invoice's receipt (once per invoice) and write it to History; False if none is due."""
    invoice_id, amount = invoice.get("id"), int(invoice.get("amount_paid") or 0)
    to = receipt_recipients(practice)
    cause = f"receipt:{invoice_id}"
    if not invoice_id or amount <= 0 or not to or sent_once_queued(cause, TEMPLATE):
        return False
    number = invoice.get("number") or invoice_id
    with caused_by(cause):
        queued = queue_email(
            to,
            _l("%(practice)s: receipt for invoice %(number)s", practice=practice.name, number=number),
            TEMPLATE,
            sent_once=True,
            **practice_reading(practice),
            practice=practice,
            number=number,
            paid_on=lazy_date(paid_at),
            amount=amount,
            currency=invoice.get("currency") or "usd",
            period=covered_period(invoice),
            lines=receipt_lines(invoice),
            card=_card_words(invoice),
            hosted_invoice_url=invoice.get("hosted_invoice_url"),
            invoice_pdf=invoice.get("invoice_pdf"),
        )
    if queued:
        audit.record(practice, "receipt_sent", f"{invoice_id} to {to}")
    return queued
