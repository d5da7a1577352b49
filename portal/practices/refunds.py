"""Refunding a practice's paid invoice: a platform admin's credit note (Stripe makes the refund), and any
refund of an invoice's payment Stripe tells us of (one made in Stripe's dashboard too).

One row per Stripe refund (``practice_invoice_refunds``, unique by the refund's id), written with
one insert-or-nothing by the admin's request and by the ``credit_note.created``, ``refund.*`` and
``charge.refunded`` webhooks alike: the first writer records it, writes History (who refunded and
why, from the credit note's metadata) and queues the practice's one email for that refund; the
rest find it. ``record_refund`` never commits (the webhook dispatcher commits it with its event).
"""

from __future__ import annotations

import logging
import re
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from portal.database import insert_once, utcnow
from portal.extensions import db
from portal.formatting import format_money, lazy_money, money_token
from portal.gateway import refunds as stripe_refunds
from portal.gateway.errors import BillingError, StripeUnavailable
from portal.gateway.shapes import as_dict
from portal.mail.outbox import caused_by, queue_email
from portal.practices import audit
from portal.practices.errors import PracticeError
from portal.practices.models import InvoiceRefund, Practice, PracticeInvoice
from portal.practices.notifications import practice_reading, receipt_recipients
from portal.practices.refund_amounts import changed_since_drawn, left_to_refund, made_earlier

log = logging.getLogger(__name__)

TEMPLATE = "practice_refund"
MAX_REASON = 400
#: A refund whose request reached Stripe unanswered: neither "done" nor "try again".
UNCONFIRMED_REFUND = _l(
    "Stripe may have made the refund; we are checking. Nothing will be refunded twice: "
    "this invoice takes no other refund until Stripe answers."
)
ATTEMPT_KEY = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
#: Stripe's credit note reasons, in the words the admin's form offers.
REASONS = {
    "order_change": _l("The billing changed"),
    "duplicate": _l("Charged twice"),
    "product_unsatisfactory": _l("Not satisfied with the service"),
    "fraudulent": _l("Fraudulent payment"),
}


def refundable_invoices(practice: Practice) -> list[tuple[PracticeInvoice, int]]:
    """The practice's paid invoices with something left to refund, newest first, with what is left."""
    paid = db.session.scalars(
        sa.select(PracticeInvoice)
        .where(PracticeInvoice.practice_id == practice.id, PracticeInvoice.status == "paid")
        .order_by(PracticeInvoice.created.desc(), PracticeInvoice.id.desc())
        .limit(20)
    )
    return [(invoice, left) for invoice in paid if (left := left_to_refund(invoice)) > 0]


def refund_invoice(
    admin: Any,
    practice_id: int,
    invoice_id: str,
    amount: int,
    reason: str,
    note: str,
    attempt: str,
    *,
    drawn_left: int | None = None,
) -> InvoiceRefund:
    """Refund ``amount`` (minor units) of a paid invoice as a credit note, once per ``attempt`` (the
    form's key: a double submit answers the refund the first made). Refused with a message, before
    any Stripe call, when the invoice is not paid, less is left to refund, or (``drawn_left``: what
    the admin's form showed) another refund was made since the form was drawn. Commits."""
    if not ATTEMPT_KEY.match(attempt or ""):
        raise PracticeError(_("This form has expired. Reload the page and try again."), status=422)
    invoice = _locked_invoice(practice_id, invoice_id)
    earlier = db.session.scalar(sa.select(InvoiceRefund).where(InvoiceRefund.attempt_key == attempt))
    if earlier is not None and earlier.invoice_id == invoice.stripe_id:
        return earlier
    if earlier is not None:  # another invoice's form's key (forged or mixed up): not this invoice's refund
        raise PracticeError(_("This form has expired. Reload the page and try again."), status=422)
    practice = db.session.get(Practice, practice_id)
    if invoice.pending_refund:
        row = _settle_first(practice, invoice, attempt)
        if row is not None:
            return row
        invoice = db.session.get(PracticeInvoice, invoice.id)
    if drawn_left is not None and drawn_left != left_to_refund(invoice):
        raise PracticeError(changed_since_drawn(invoice, drawn_left), status=409)
    _check(invoice, amount, reason, note)
    call = {
        "amount": amount,
        "reason": reason,
        "metadata": {"refundedBy": str(admin.id), "reason": note.strip(), "attempt": attempt},
        "key": ["invoice", invoice_id, attempt],
        "attempt": attempt,
    }
    try:
        credit_note = as_dict(_create(invoice_id, call))
    except StripeUnavailable as error:
        if not error.reached_stripe:
            raise
        _keep_pending(invoice.id, call)
        raise RefundUnconfirmed() from error
    for part in credit_note.get("refunds") or []:
        refund = as_dict(stripe_refunds.retrieve_refund(_id(part.get("refund"))))
        record_refund(practice, invoice, refund, credit_note)
    row = db.session.scalar(sa.select(InvoiceRefund).where(InvoiceRefund.attempt_key == attempt))
    db.session.commit()
    if row is None:
        raise PracticeError(_("Stripe made the credit note but no refund with it."), status=502)
    return row


def _locked_invoice(practice_id: int, invoice_id: str) -> PracticeInvoice:
    """The practice's invoice, its row written first: a second admin's refund of it waits for this one."""
    locked = db.session.execute(
        sa.update(PracticeInvoice)
        .where(PracticeInvoice.practice_id == practice_id, PracticeInvoice.stripe_id == invoice_id)
        .values(stripe_synced_at=PracticeInvoice.stripe_synced_at)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not locked:
        raise PracticeError(_("That invoice is not one of this practice's."), status=404, code="not_found")
    return db.session.scalar(
        sa.select(PracticeInvoice)
        .where(PracticeInvoice.stripe_id == invoice_id)
        .execution_options(populate_existing=True)
    )


def _settle_first(practice: Practice, invoice: PracticeInvoice, attempt: str) -> InvoiceRefund | None:
    """The invoice's unanswered refund, learned before another: the same form's refund (refused if
    Stripe did not make it); another form is told what Stripe made; None: go on (commits)."""
    pending = invoice.pending_refund
    row = settle_pending(practice, invoice)
    db.session.commit()
    if pending["attempt"] == attempt:  # the same form again: its refund, as Stripe made it
        if row is None:
            raise PracticeError(_("Stripe did not make that refund. Reload the page to refund again."), 409)
        return row
    if row is not None:  # another form drawn while that refund was unknown: it is known now
        raise PracticeError(made_earlier(invoice, row), status=409)
    return None


class RefundUnconfirmed(PracticeError):
    """The credit note's request reached Stripe and no answer came: it may have been made."""

    status = 202
    code = "outcome_unknown"

    def __init__(self) -> None:
        super().__init__(str(UNCONFIRMED_REFUND))


def _create(invoice_id: str, call: dict) -> Any:
    return stripe_refunds.create_credit_note(
        invoice_id, call["amount"], call["reason"], call["metadata"], key=tuple(call["key"])
    )


def _keep_pending(invoice_row_id: int, call: dict) -> None:
    """Keep the unanswered call on the invoice (committed): it blocks any other refund of it until
    ``settle_pending`` learns what Stripe made."""
    db.session.rollback()
    log.warning("refund outcome unknown invoice_row_id=%s", invoice_row_id)
    invoice = db.session.get(PracticeInvoice, invoice_row_id)
    invoice.pending_refund = {**call, "asked_at": int(utcnow().timestamp())}
    db.session.commit()


def settle_pending(practice: Practice, invoice: PracticeInvoice) -> InvoiceRefund | None:
    """Learn what became of the invoice's unanswered refund: the credit note Stripe made for it (its
    metadata names the attempt) is adopted; none there, the same call is sent with the same
    Idempotency-Key (Stripe makes it once, or answers what it made). The refund's row, or None if
    Stripe refused it. Stripe still not answering: ``RefundUnconfirmed``, the call kept. No commit."""
    call = invoice.pending_refund
    if not call:
        return None
    try:
        notes = stripe_refunds.invoice_credit_notes(invoice.stripe_id)
        note = next((n for n in notes if (n.get("metadata") or {}).get("attempt") == call["attempt"]), None)
        if note is None:
            note = as_dict(_create(invoice.stripe_id, call))
        refunds = [
            as_dict(stripe_refunds.retrieve_refund(_id(part.get("refund"))))
            for part in note.get("refunds") or []
        ]
    except StripeUnavailable as error:
        raise RefundUnconfirmed() from error
    except BillingError as error:  # Stripe refused the same call: it did not happen
        invoice.pending_refund = None
        audit.record(practice, "change_not_applied", f"refund of invoice {invoice.number}: {error.message}")
        return None
    for refund in refunds:
        record_refund(practice, invoice, refund, note)
    invoice.pending_refund = None
    return db.session.scalar(sa.select(InvoiceRefund).where(InvoiceRefund.attempt_key == call["attempt"]))


def settle_practice(practice: Practice) -> None:
    """The admin's page: every unanswered refund of the practice's invoices, learned if Stripe
    answers now (commits what was learned; one still unknown stays pending)."""
    waiting = db.session.scalars(
        sa.select(PracticeInvoice).where(
            PracticeInvoice.practice_id == practice.id, PracticeInvoice.pending_refund.is_not(None)
        )
    ).all()
    for invoice in waiting:
        try:
            settle_pending(practice, invoice)
        except RefundUnconfirmed:
            db.session.rollback()
            continue
        db.session.commit()


def _check(invoice: PracticeInvoice, amount: int, reason: str, note: str) -> None:
    number = invoice.number or invoice.stripe_id
    if invoice.status != "paid":
        raise PracticeError(
            _("Invoice %(number)s is not paid, so there is nothing to refund.", number=number),
            status=409,
        )
    if reason not in REASONS:
        raise PracticeError(_("Choose why the invoice is refunded."), status=422)
    if not note or not note.strip() or len(note.strip()) > MAX_REASON:
        raise PracticeError(
            _("Say why you are refunding, in at most %(most)s characters.", most=MAX_REASON), status=422
        )
    left = left_to_refund(invoice)
    if left <= 0:
        raise PracticeError(_("Invoice %(number)s is already refunded in full.", number=number), status=409)
    if not isinstance(amount, int) or amount < 1 or amount > left:
        raise PracticeError(
            _(
                "Refund between %(least)s and %(most)s: that is what is left of invoice %(number)s.",
                least=format_money(1, invoice.currency),
                most=format_money(left, invoice.currency),
                number=number,
            ),
            status=422,
        )


def _id(value: Any) -> str:
    return value if isinstance(value, str) else as_dict(value).get("id", "")


def _actor(metadata: dict) -> int | None:
    actor = str(metadata.get("refundedBy", ""))
    return int(actor) if actor.isdigit() else None


def record_refund(
    practice: Practice, invoice: PracticeInvoice, refund: dict, credit_note: dict | None
) -> bool:
    """Write Stripe's refund of the invoice (once; later calls update its status). True if this call
    recorded it: then History has its line and the practice's email is queued."""
    metadata = (credit_note or {}).get("metadata") or {}
    reason = (metadata.get("reason") or "")[:MAX_REASON] or None
    waiting = (invoice.pending_refund or {}).get("attempt")
    if waiting and metadata.get("attempt") == waiting:
        invoice.pending_refund = None  # the unanswered refund, known now (its webhook came first)
    table = InvoiceRefund.__table__
    recorded = insert_once(
        table,
        {
            "practice_id": practice.id,
            "invoice_id": invoice.stripe_id,
            "stripe_refund_id": refund["id"],
            "credit_note_id": (credit_note or {}).get("id"),
            "amount": int(refund.get("amount") or 0),
            "currency": refund.get("currency") or invoice.currency,
            "status": refund.get("status") or "succeeded",
            "reason": reason,
            "refunded_by_id": _actor(metadata),
            "attempt_key": metadata.get("attempt") or None,
            "created_at": utcnow(),
        },
        table.c.stripe_refund_id,
        refresh=("status",),
        fill=("credit_note_id", "reason", "refunded_by_id", "attempt_key"),
    )
    if not recorded:
        return False
    amount = money_token(int(refund.get("amount") or 0), refund.get("currency") or invoice.currency)
    number = invoice.number or invoice.stripe_id
    own = refund.get("metadata") or {}
    if credit_note is not None and _actor(metadata) is not None:
        audit.record(
            practice,
            "invoice_refunded",
            f"{amount} of invoice {number}, {refund['id']}: {reason}",
            actor_id=_actor(metadata),
        )
    elif own.get("refundedBy") == "portal":  # the portal's own refund (a duplicate subscription's)
        audit.record(
            practice,
            "invoice_refunded_by_portal",
            f"{amount} of invoice {number}, {refund['id']}: {own.get('reason')}",
        )
    else:
        audit.record(practice, "invoice_refunded_at_stripe", f"{amount} of invoice {number}, {refund['id']}")
    log.info("invoice refunded invoice_id=%s refund_id=%s", invoice.stripe_id, refund["id"])
    _queue_email(
        practice,
        refund["id"],
        number,
        lazy_money(int(refund.get("amount") or 0), refund.get("currency") or invoice.currency),
    )
    return True


def _queue_email(practice: Practice, refund_id: str, number: str, amount: object) -> None:
    """The practice's email about one refund: keyed by the refund's id, sent once."""
    to = receipt_recipients(practice)
    if not to:
        return
    with caused_by(f"refund:{refund_id}"):
        queue_email(
            to,
            _l(
                "%(practice)s: refund of %(amount)s for invoice %(number)s",
                practice=practice.name,
                amount=amount,
                number=number,
            ),
            TEMPLATE,
            sent_once=True,
            **practice_reading(practice),
            practice=practice,
            number=number,
            amount=amount,
        )


def refund_changed(refund: Any) -> bool:
    """A refund Stripe tells of (``refund.*``, a ``charge.refunded``'s refunds): recorded against the
    practice invoice its PaymentIntent paid, with the credit note that made it, if one did. False if
    it refunds no practice invoice."""
    refund = as_dict(refund)
    intent = refund.get("payment_intent")
    invoice_id = stripe_refunds.invoice_paid_by(intent) if intent else None
    invoice = (
        db.session.scalar(sa.select(PracticeInvoice).where(PracticeInvoice.stripe_id == invoice_id))
        if invoice_id
        else None
    )
    if invoice is None:
        return False
    notes = stripe_refunds.invoice_credit_notes(invoice.stripe_id)
    note = next(
        (n for n in notes if any(_id(part.get("refund")) == refund["id"] for part in n.get("refunds") or [])),
        None,
    )
    record_refund(db.session.get(Practice, invoice.practice_id), invoice, refund, note)
    return True


def credit_note_changed(credit_note: Any) -> bool:
    """``credit_note.created``: each refund the note made, recorded (read fresh from Stripe)."""
    note = as_dict(credit_note)
    invoice_id = _id(note.get("invoice"))
    invoice = db.session.scalar(sa.select(PracticeInvoice).where(PracticeInvoice.stripe_id == invoice_id))
    if invoice is None:
        return False
    practice = db.session.get(Practice, invoice.practice_id)
    for part in note.get("refunds") or []:
        refund = as_dict(stripe_refunds.retrieve_refund(_id(part.get("refund"))))
        record_refund(practice, invoice, refund, note)
    return True


def by_attempt(invoice: PracticeInvoice, attempt: str | None) -> InvoiceRefund | None:
    """The refund an earlier post of the same form made (a double submit finds it)."""
    if not attempt:
        return None
    return db.session.scalar(
        sa.select(InvoiceRefund).where(
            InvoiceRefund.invoice_id == invoice.stripe_id, InvoiceRefund.attempt_key == attempt
        )
    )


def practice_invoice(practice: Practice, invoice_id: str) -> PracticeInvoice:
    """The practice's invoice by its Stripe id; another practice's (or none) is 404 alike."""
    invoice = db.session.scalar(
        sa.select(PracticeInvoice).where(
            PracticeInvoice.practice_id == practice.id, PracticeInvoice.stripe_id == invoice_id
        )
    )
    if invoice is None:
        raise PracticeError(_("That invoice is not one of this practice's."), status=404, code="not_found")
    return invoice
