"""The billing page's histories: pages of invoices and of audit lines, newest first (no Stripe call)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Generic, NamedTuple, TypeVar

import sqlalchemy as sa

from portal.extensions import db
from portal.practices.models import (
    BillingAuditEntry,
    InvoiceRefund,
    Practice,
    PracticeInvoice,
)
from portal.practices.unpaid_invoices import PAYABLE
from portal.users.models import User

Line = TypeVar("Line", bound=tuple)


class InvoiceLine(NamedTuple):
    """One row of the invoice history, as the table shows it."""

    stripe_id: str
    number: str | None
    created: int
    amount_due: int
    amount_paid: int
    currency: str
    status: str | None
    hosted_invoice_url: str | None
    invoice_pdf: str | None
    subscription_id: str | None
    #: ``subscription_cycle`` for a renewal (its row says why one was voided while collection was paused).
    billing_reason: str | None
    #: What the customer's credit paid of it (the row says "after $X of credit").
    credit_applied: int
    discount_amount: int  #: what its discounts took off (issue 17)
    #: What refunds gave back of it (credit notes and refunds made in Stripe's dashboard).
    refunded: int


#: Refund statuses that give money back (a ``failed`` or ``canceled`` refund does not).
REFUND_COUNTED = ("succeeded", "pending", "requires_action")


class AuditLine(NamedTuple):
    """One row of the billing history; ``actor_name`` None means Stripe."""

    created_at: dt.datetime
    action: str
    detail: str | None
    actor_name: str | None


def _history(
    table: sa.Table, columns: list, newest_first: list, source: sa.FromClause | None = None
) -> tuple[sa.Select, sa.Select]:
    """The count and the page statements of one practice's newest-first history.

    The histories are read-only: plain tuples of the columns their tables show, no ORM objects.
    """
    of_practice = table.c.practice_id == sa.bindparam("practice_id")
    count = sa.select(sa.func.count()).select_from(table).where(of_practice)
    rows = (
        sa.select(*columns)
        .select_from(source if source is not None else table)
        .where(of_practice)
        .order_by(*newest_first)
        .limit(sa.bindparam("limit"))
        .offset(sa.bindparam("offset"))
    )
    return count, rows


_audit, _users = BillingAuditEntry.__table__, User.__table__
_AUDIT_COUNT, _AUDIT_PAGE = _history(
    _audit,
    [_audit.c.created_at, _audit.c.action, _audit.c.detail, _users.c.name],
    [_audit.c.created_at.desc(), _audit.c.id.desc()],
    source=_audit.outerjoin(_users, _users.c.id == _audit.c.actor_id),
)
# A page is read through the (practice_id, created, id) index; count(*) (only for a stale link)
# never reads the rows.
_invoices = PracticeInvoice.__table__
_refunded = (
    sa.select(sa.func.coalesce(sa.func.sum(InvoiceRefund.amount), 0))
    .where(InvoiceRefund.invoice_id == _invoices.c.stripe_id, InvoiceRefund.status.in_(REFUND_COUNTED))
    .correlate(_invoices)
    .scalar_subquery()
)
_INVOICE_COUNT, _INVOICE_PAGE = _history(
    _invoices,
    [*(_invoices.c[name] for name in InvoiceLine._fields[:-1]), _refunded.label("refunded")],
    [_invoices.c.created.desc(), _invoices.c.id.desc()],
)
_OPEN_INVOICE = (
    sa.select(PracticeInvoice)
    .join(Practice, Practice.id == PracticeInvoice.practice_id)
    .where(PracticeInvoice.practice_id == sa.bindparam("practice_id"), PAYABLE)
    .order_by(PracticeInvoice.created.desc(), PracticeInvoice.id.desc())
    .limit(1)
)


@dataclass(frozen=True)
class Page(Generic[Line]):
    """One page of a newest-first history, numbered from 1."""

    items: list[Line]
    page: int
    has_older: bool

    @property
    def has_newer(self) -> bool:
        return self.page > 1


def _page_of(
    line: type[Line], count: sa.Select, rows: sa.Select, practice: Practice, page: int, per_page: int
) -> Page[Line]:
    """``page`` of ``rows`` as ``line`` tuples; both statements share parameters.

    One row past the page tells whether older ones follow, so the page drawn on every visit never
    counts the history. Only a page number past the end (a stale link) counts it, to show the
    last page rather than an empty one.
    """
    params = {"practice_id": practice.id}

    def rows_from(page: int) -> list[sa.Row]:
        return db.session.execute(
            rows, {**params, "limit": per_page + 1, "offset": (page - 1) * per_page}
        ).all()

    page = max(1, page)
    found = rows_from(page)
    if not found and page > 1:
        page = max(1, -(-db.session.scalar(count, params) // per_page))
        found = rows_from(page)
    return Page([line._make(row) for row in found[:per_page]], page, len(found) > per_page)


#: The billing page shows the latest invoices, as the account page shows the first cards; Older
#: pages back through the rest (a summary page, drawn on every visit: each row is a good part of it).
INVOICES_SHOWN = 5


def invoice_page(practice: Practice, page: int = 1, per_page: int = INVOICES_SHOWN) -> Page[InvoiceLine]:
    return _page_of(InvoiceLine, _INVOICE_COUNT, _INVOICE_PAGE, practice, page, per_page)


def audit_page(practice: Practice, page: int = 1, per_page: int = 25) -> Page[AuditLine]:
    """The billing history: who changed what, and when."""
    return _page_of(AuditLine, _AUDIT_COUNT, _AUDIT_PAGE, practice, page, per_page)


def open_invoice(practice: Practice) -> PracticeInvoice | None:
    """The newest unpaid invoice of the practice's current subscription."""
    return db.session.scalar(_OPEN_INVOICE, {"practice_id": practice.id})


class OpenInvoices(NamedTuple):
    """The practice's invoices still to pay: how many, and what they come to."""

    count: int
    total: int
    currency: str | None


_OPEN_INVOICES = (
    sa.select(
        sa.func.count(),
        sa.func.coalesce(sa.func.sum(PracticeInvoice.amount_due), 0),
        sa.func.min(PracticeInvoice.currency),
    )
    .select_from(PracticeInvoice)
    .join(Practice, Practice.id == PracticeInvoice.practice_id)
    .where(PracticeInvoice.practice_id == sa.bindparam("practice_id"), PAYABLE)
)


def open_invoices(practice: Practice) -> OpenInvoices:
    """Every open invoice someone may pay counts (``PAYABLE``): not one an ended subscription left."""
    return OpenInvoices(*db.session.execute(_OPEN_INVOICES, {"practice_id": practice.id}).one())


def invoice_of(practice: Practice, stripe_id: str) -> PracticeInvoice | None:
    """An invoice of this practice (an id of another practice's is no invoice here)."""
    invoice = invoice_by_id(stripe_id)
    return invoice if invoice is not None and invoice.practice_id == practice.id else None


def invoice_by_id(stripe_id: str | None) -> PracticeInvoice | None:
    if not stripe_id:
        return None
    return db.session.scalar(sa.select(PracticeInvoice).where(PracticeInvoice.stripe_id == stripe_id))
