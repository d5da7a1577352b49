"""What is left to refund of a practice's invoice, and what a refused refund form is told about it."""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import gettext as _

from portal.extensions import db
from portal.formatting import format_money
from portal.practices.history import REFUND_COUNTED
from portal.practices.models import InvoiceRefund, PracticeInvoice


def refunded_amount(invoice_id: str) -> int:
    return int(
        db.session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(InvoiceRefund.amount), 0)).where(
                InvoiceRefund.invoice_id == invoice_id, InvoiceRefund.status.in_(REFUND_COUNTED)
            )
        )
        or 0
    )


def left_to_refund(invoice: PracticeInvoice) -> int:
    return max(0, invoice.amount_paid - refunded_amount(invoice.stripe_id)) if invoice.status == "paid" else 0


def made_earlier(invoice: PracticeInvoice, row: InvoiceRefund) -> str:
    return _(
        "Stripe made the earlier refund of %(amount)s of invoice %(number)s; %(left)s is left. "
        "Nothing more was refunded: refund again if more is due.",
        amount=format_money(row.amount, row.currency),
        number=invoice.number or invoice.stripe_id,
        left=format_money(left_to_refund(invoice), invoice.currency),
    )


def changed_since_drawn(invoice: PracticeInvoice, drawn_left: int) -> str:
    """A form drawn before another refund of the invoice (a second tab, a colleague). It says a
    refund was made only when one was: ``drawn_left`` must be what was left at some moment (what
    was paid less the refunds made until then), not any figure a forged form carries."""
    left = left_to_refund(invoice)
    number = invoice.number or invoice.stripe_id
    if left < drawn_left and drawn_left in lefts_over_time(invoice):
        return _(
            "Since this page was drawn, %(amount)s of invoice %(number)s was refunded; %(left)s is left. "
            "Nothing was refunded now: check the amount and refund again if more is due.",
            amount=format_money(drawn_left - left, invoice.currency),
            number=number,
            left=format_money(left, invoice.currency),
        )
    return _(
        "The amount left to refund of invoice %(number)s changed since this page was drawn: %(left)s is "
        "left. Nothing was refunded now: check the amount and refund again if more is due.",
        number=number,
        left=format_money(left, invoice.currency),
    )


def lefts_over_time(invoice: PracticeInvoice) -> set[int]:
    """What was left to refund of the invoice after each of its refunds (and before the first)."""
    amounts = db.session.scalars(
        sa.select(InvoiceRefund.amount)
        .where(InvoiceRefund.invoice_id == invoice.stripe_id, InvoiceRefund.status.in_(REFUND_COUNTED))
        .order_by(InvoiceRefund.created_at, InvoiceRefund.id)
    )
    lefts, left = {invoice.amount_paid}, invoice.amount_paid
    for amount in amounts:
        left -= amount
        lefts.add(left)
    return lefts
