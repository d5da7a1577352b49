"""The business in numbers (issue 19): each figure by calendar month (UTC) over the last 12 months,
counted by SQL aggregates over local tables only. Nothing here calls Stripe.

The source guide's "Metrics to Track" name three figures, defined here as the page says them:

- customer creation success rate: of the accounts registered in a month (platform admins aside),
  the share that has its Stripe customer (``users.stripe_customer_id``; a registration whose
  customer Stripe has not made yet, e.g. Stripe was down, counts as not yet);
- payment success rate: of the practice invoices made in a month that asked for money
  (``amount_due`` > 0, finalized: paid, open or uncollectible), the share paid; with the failed
  payment attempts of the month (History's "Payment failed" lines) beside it;
- customer lifetime value, per currency: at a month's end, what practices have paid to date (paid
  invoices less their refunds) over the practices that have paid anything, rounded down.

And the business's own: new practices (created in the month), churned practices (their billing
status became Cancelled in the month), past-due practices and those recovered (Past due -> Active),
subscriptions by plan and status at each month's end and MRR from them. A practice's status at a
month's end is the last ``status_changed`` line of its History before then (Stripe's time for lines
its events wrote), so a late event counts in the month it happened at Stripe.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

import sqlalchemy as sa
from babel.dates import format_date

from portal.extensions import db
from portal.formatting import minor_unit_exponent
from portal.i18n import current_locale
from portal.practices import plans
from portal.practices.models import BillingAuditEntry, InvoiceRefund, Plan, Practice, PracticeInvoice
from portal.practices.status import BillingStatus
from portal.users.models import Role, User

MONTHS = 12
#: The statuses of a practice whose subscription still bills (counted in MRR).
LIVE = (BillingStatus.DONE, BillingStatus.PAST_DUE)
#: Invoices that asked for money: finalized, not void.
DUE_STATUSES = ("paid", "open", "uncollectible")
#: The subscriptions table's columns: (plan, status) at a month's end.
SUBSCRIPTION_COLUMNS = tuple(
    (plan, status)
    for plan in Plan
    for status in (BillingStatus.DONE, BillingStatus.PAST_DUE, BillingStatus.CANCELLED)
)
#: Months a plan's price covers.
PLAN_MONTHS = {Plan.MONTHLY: 1, Plan.SEMIANNUAL: 6}


@dataclass(frozen=True)
class Month:
    """A calendar month in UTC: ``start`` included, ``end`` (the next month's start) excluded."""

    start: dt.datetime
    end: dt.datetime

    @property
    def key(self) -> str:
        return f"{self.start:%Y-%m}"

    @property
    def label(self) -> str:
        """``Nov 2026`` (``thg 11 2026`` in Vietnamese): the month in the reader's language (UTC)."""
        return format_date(self.start.date(), "MMM y", locale=current_locale())

    @property
    def start_epoch(self) -> int:
        return calendar.timegm(self.start.timetuple())

    @property
    def end_epoch(self) -> int:
        return calendar.timegm(self.end.timetuple())


def last_months(now: dt.datetime, count: int = MONTHS) -> list[Month]:
    """The ``count`` calendar months up to and including ``now``'s (naive UTC), oldest first."""
    year, month = now.year, now.month
    starts = []
    for _ in range(count):
        starts.append(dt.datetime(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return [Month(start, _next_month(start)) for start in reversed(starts)]


def _next_month(start: dt.datetime) -> dt.datetime:
    return dt.datetime(start.year + start.month // 12, start.month % 12 + 1, 1)


def _bucket(column, months: list[Month], *, epoch: bool = False):
    """The index of the month ``column`` falls in (NULL outside them): portable SQL, no date
    functions (SQLite and PostgreSQL differ there)."""
    bounds = [(m.start_epoch, m.end_epoch) if epoch else (m.start, m.end) for m in months]
    return sa.case(*[(sa.and_(column >= lo, column < hi), i) for i, (lo, hi) in enumerate(bounds)])


def _span(column, months: list[Month], *, epoch: bool = False):
    lo, hi = (months[0].start_epoch, months[-1].end_epoch) if epoch else (months[0].start, months[-1].end)
    return sa.and_(column >= lo, column < hi)


def major_units(amount: int | None, currency: str) -> str | None:
    """Minor units as a plain decimal of the currency's own digits (a chart's value): 9900 usd -> 99.00."""
    if amount is None:
        return None
    digits = minor_unit_exponent(currency)
    return f"{Decimal(amount).scaleb(-digits):.{digits}f}"


def _rate(part: int, whole: int) -> float | None:
    """``part`` of ``whole`` in percent, one decimal; None when there is nothing to count."""
    return round(100 * part / whole, 1) if whole else None


# --- the source guide's three figures --------------------------------------------------------------


@dataclass(frozen=True)
class CustomerCreation:
    month: Month
    registered: int
    with_customer: int

    @property
    def rate(self) -> float | None:
        return _rate(self.with_customer, self.registered)


def customer_creation(months: list[Month]) -> list[CustomerCreation]:
    bucket = _bucket(User.created_at, months).label("bucket")
    rows = db.session.execute(
        sa.select(bucket, sa.func.count(User.id), sa.func.count(User.stripe_customer_id))
        .where(_span(User.created_at, months), User.role != Role.ADMIN)
        .group_by(bucket)
    ).all()
    found = {row[0]: row for row in rows}
    return [CustomerCreation(m, *(found[i][1:] if i in found else (0, 0))) for i, m in enumerate(months)]


@dataclass(frozen=True)
class PaymentSuccess:
    month: Month
    due: int
    paid: int
    failed_attempts: int

    @property
    def rate(self) -> float | None:
        return _rate(self.paid, self.due)


def payment_success(months: list[Month]) -> list[PaymentSuccess]:
    invoice = PracticeInvoice
    bucket = _bucket(invoice.created, months, epoch=True).label("bucket")
    paid = sa.func.sum(sa.case((invoice.status == "paid", 1), else_=0))
    invoices = db.session.execute(
        sa.select(bucket, sa.func.count(invoice.id), paid)
        .where(_span(invoice.created, months, epoch=True), invoice.amount_due > 0)
        .where(invoice.status.in_(DUE_STATUSES))
        .group_by(bucket)
    ).all()
    failed = _audit_counts(months, BillingAuditEntry.action.in_(("payment_failed", "pay_now_failed")))
    due = {row[0]: (row[1], int(row[2] or 0)) for row in invoices}
    return [PaymentSuccess(m, *due.get(i, (0, 0)), failed.get(i, 0)) for i, m in enumerate(months)]


@dataclass(frozen=True)
class LifetimeValue:
    month: Month
    currency: str
    net_paid: int  #: minor units paid to date, less refunds
    paying_practices: int

    @property
    def value(self) -> int | None:
        return self.net_paid // self.paying_practices if self.paying_practices else None


def lifetime_value(months: list[Month]) -> dict[str, list[LifetimeValue]]:
    """Per currency (never added across currencies), the value at each month's end."""
    by_currency: dict[str, list[LifetimeValue]] = defaultdict(list)
    for month in months:
        paid = db.session.execute(
            sa.select(
                PracticeInvoice.currency,
                sa.func.sum(PracticeInvoice.amount_paid),
                sa.func.count(sa.distinct(PracticeInvoice.practice_id)),
            )
            .where(PracticeInvoice.status == "paid", PracticeInvoice.amount_paid > 0)
            .where(PracticeInvoice.created < month.end_epoch)
            .group_by(PracticeInvoice.currency)
        ).all()
        refunded = dict(
            db.session.execute(
                sa.select(InvoiceRefund.currency, sa.func.sum(InvoiceRefund.amount))
                .where(InvoiceRefund.status == "succeeded", InvoiceRefund.created_at < month.end)
                .group_by(InvoiceRefund.currency)
            ).all()
        )
        for currency, total, practices in paid:
            net = int(total or 0) - int(refunded.get(currency) or 0)
            by_currency[currency].append(LifetimeValue(month, currency, net, practices))
    return {currency: _fill(rows, months, currency) for currency, rows in sorted(by_currency.items())}


def _fill(rows: list[LifetimeValue], months: list[Month], currency: str) -> list[LifetimeValue]:
    """A row for every month: before a currency's first payment, nothing paid."""
    have = {row.month: row for row in rows}
    return [have.get(m) or LifetimeValue(m, currency, 0, 0) for m in months]


# --- practices coming, going and recovering -------------------------------------------------------


@dataclass(frozen=True)
class Movement:
    month: Month
    new: int
    churned: int
    fell_past_due: int
    recovered: int


def _audit_counts(months: list[Month], condition) -> dict[int, int]:
    """Practices (each once a month) with a History line matching ``condition``, by month."""
    entry = BillingAuditEntry
    bucket = _bucket(entry.created_at, months).label("bucket")
    rows = db.session.execute(
        sa.select(bucket, sa.func.count(sa.distinct(entry.practice_id)))
        .where(_span(entry.created_at, months), condition)
        .group_by(bucket)
    ).all()
    return {index: count for index, count in rows}


def practice_movements(months: list[Month]) -> list[Movement]:
    bucket = _bucket(Practice.created_at, months).label("bucket")
    new = dict(
        db.session.execute(
            sa.select(bucket, sa.func.count(Practice.id))
            .where(_span(Practice.created_at, months))
            .group_by(bucket)
        ).all()
    )
    status_line = BillingAuditEntry.action == "status_changed"
    churned = _audit_counts(months, sa.and_(status_line, BillingAuditEntry.detail.like("% → CANCELLED")))
    fell = _audit_counts(months, sa.and_(status_line, BillingAuditEntry.detail.like("% → PAST_DUE")))
    recovered = _audit_counts(months, sa.and_(status_line, BillingAuditEntry.detail == "PAST_DUE → DONE"))
    return [
        Movement(m, new.get(i, 0), churned.get(i, 0), fell.get(i, 0), recovered.get(i, 0))
        for i, m in enumerate(months)
    ]


# --- subscriptions at each month's end, and MRR ----------------------------------------------------


@dataclass(frozen=True)
class Subscriptions:
    month: Month
    #: (plan, billing status) -> practices, at the month's end
    counts: dict[tuple[Plan, BillingStatus], int] = field(default_factory=dict)
    #: The same by the practices' currency: (plan, billing status, currency) -> practices
    by_currency: dict[tuple[Plan, BillingStatus, str], int] = field(default_factory=dict)

    def count(self, plan: Plan, status: BillingStatus) -> int:
        return self.counts.get((plan, status), 0)

    def count_in(self, plan: Plan, status: BillingStatus, currency: str) -> int:
        return self.by_currency.get((plan, status, currency), 0)


def _status_after(detail: str | None) -> BillingStatus | None:
    after = (detail or "").partition("→")[2].strip()
    return BillingStatus(after) if after in BillingStatus.__members__ else None


def subscriptions_at_month_ends(months: list[Month]) -> list[Subscriptions]:
    """Practices with a plan by plan and billing status at each month's end (as History had it then)."""
    entry = BillingAuditEntry
    result = []
    for month in months:
        newest_first = (entry.created_at.desc(), entry.id.desc())
        ranked = (
            sa.select(
                entry.practice_id,
                entry.detail,
                sa.func.row_number().over(partition_by=entry.practice_id, order_by=newest_first).label("n"),
            )
            .where(entry.action == "status_changed", entry.created_at < month.end)
            .subquery()
        )
        rows = db.session.execute(
            sa.select(Practice.plan, Practice.currency, ranked.c.detail, sa.func.count())
            .join(ranked, ranked.c.practice_id == Practice.id)
            .where(ranked.c.n == 1, Practice.plan.is_not(None))
            .group_by(Practice.plan, Practice.currency, ranked.c.detail)
        ).all()
        counts: dict[tuple[Plan, BillingStatus], int] = defaultdict(int)
        by_currency: dict[tuple[Plan, BillingStatus, str], int] = defaultdict(int)
        for plan, currency, detail, count in rows:
            status = _status_after(detail)
            if status is not None:
                counts[(plan, status)] += count
                by_currency[(plan, status, currency)] += count
        result.append(Subscriptions(month, dict(counts), dict(by_currency)))
    return result


@dataclass(frozen=True)
class Prices:
    """The plans' list prices (``BILLING_*`` settings), minor units of ``currency``."""

    currency: str
    monthly: int
    semiannual: int

    def per_month(self, plan: Plan) -> int:
        return (self.monthly if plan == Plan.MONTHLY else self.semiannual) // PLAN_MONTHS[plan]


@dataclass(frozen=True)
class Mrr:
    month: Month
    currency: str
    amount: int
    live: int


def list_prices(currency: str) -> Prices:
    """The plans' list prices in ``currency`` (``BILLING_*``, ``BILLING_VND_*``)."""
    amounts = {offer.plan: offer.amount for offer in plans.plan_offers(currency)}
    return Prices(currency, amounts[Plan.MONTHLY], amounts[Plan.SEMIANNUAL])


def mrr(subscriptions: list[Subscriptions], prices: Prices) -> list[Mrr]:
    """Monthly recurring revenue at each month's end: each live subscription (Active or Past due)
    of a practice paying in ``prices.currency`` at its plan's list price a month (a 6-month plan's
    price over 6, rounded down)."""
    rows = []
    for at in subscriptions:
        live = [(plan, at.count_in(plan, status, prices.currency)) for plan in Plan for status in LIVE]
        amount = sum(prices.per_month(plan) * count for plan, count in live)
        rows.append(Mrr(at.month, prices.currency, amount, sum(count for _, count in live)))
    return rows


@dataclass(frozen=True)
class Numbers:
    months: list[Month]
    customers: list[CustomerCreation]
    payments: list[PaymentSuccess]
    lifetime: dict[str, list[LifetimeValue]]
    movements: list[Movement]
    subscriptions: list[Subscriptions]
    mrr: list[Mrr]
    #: MRR in each other currency a practice pays in, when one had a live subscription in the months
    mrr_other: dict[str, list[Mrr]] = field(default_factory=dict)


def business_numbers(now: dt.datetime, prices: Prices, other_prices: tuple[Prices, ...] = ()) -> Numbers:
    """Every figure of the page, for the 12 months up to ``now`` (naive UTC); MRR in ``prices``'
    currency, and in each of ``other_prices``' (never added across currencies)."""
    months = last_months(now)
    subscriptions = subscriptions_at_month_ends(months)
    others = {p.currency: mrr(subscriptions, p) for p in other_prices}
    return Numbers(
        mrr_other={currency: rows for currency, rows in others.items() if any(row.live for row in rows)},
        months=months,
        customers=customer_creation(months),
        payments=payment_success(months),
        lifetime=lifetime_value(months),
        movements=practice_movements(months),
        subscriptions=subscriptions,
        mrr=mrr(subscriptions, prices),
    )
