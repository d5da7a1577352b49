"""A seeded history of the business (issue 19): practices created in given months, invoices paid,
failed and void, a churn, a past-due practice that recovered, refunds in two currencies, and
registrations with and without their Stripe customer."""

from __future__ import annotations

import datetime as dt

from portal.admin import numbers
from portal.practices.models import Plan
from portal.users.models import Role
from tests import factories as f


def at(month: numbers.Month, day: int, hour: int = 9) -> dt.datetime:
    return month.start + dt.timedelta(days=day - 1, hours=hour)


def epoch(moment: dt.datetime) -> int:
    return int(moment.replace(tzinfo=dt.UTC).timestamp())


def status(practice, when: dt.datetime, change: str) -> None:
    f.BillingAuditEntryFactory(practice=practice, action="status_changed", detail=change, created_at=when)


def invoice(practice, when: dt.datetime, amount: int, state: str = "paid", currency: str = "usd") -> None:
    f.PracticeInvoiceFactory(
        practice=practice, created=epoch(when), amount_due=amount, status=state, currency=currency
    )


def seed_history(m: list[numbers.Month]) -> None:
    """Twelve months m[0] (oldest) ... m[11] (this one) of a small business: the figures
    ``tests/admin/test_numbers.py`` asserts, and the README's screenshot."""
    before = m[0].start - dt.timedelta(days=40)
    # Elm: subscribed Monthly before the window.
    elm = f.PracticeFactory(name="Elm", plan=Plan.MONTHLY, created_at=before)
    status(elm, before + dt.timedelta(days=1), "REQUIRED → DONE")
    invoice(elm, before + dt.timedelta(days=1), 9900)
    # Alder: new in m2 (Monthly), its renewal failed in m5 and was paid the same month.
    alder = f.PracticeFactory(name="Alder", plan=Plan.MONTHLY, created_at=at(m[2], 3))
    status(alder, at(m[2], 4), "REQUIRED → DONE")
    invoice(alder, at(m[2], 4), 59800)  # the onboarding fee and the first month
    invoice(alder, at(m[3], 4), 9900)
    invoice(alder, at(m[4], 4), 9900)
    invoice(alder, at(m[5], 4), 9900)  # failed first, paid on the retry
    f.BillingAuditEntryFactory(practice=alder, action="payment_failed", created_at=at(m[5], 4, 10))
    status(alder, at(m[5], 5), "DONE → PAST_DUE")
    status(alder, at(m[5], 10), "PAST_DUE → DONE")
    f.InvoiceRefundFactory(practice=alder, amount=1000, created_at=at(m[6], 2))
    f.InvoiceRefundFactory(practice=alder, amount=5000, status="failed", created_at=at(m[6], 3))
    # Birch: new in m2 (every 6 months), subscribed in m3, its renewal failed in m9, cancelled in m10.
    birch = f.PracticeFactory(name="Birch", plan=Plan.SEMIANNUAL, created_at=at(m[2], 20))
    status(birch, at(m[3], 2), "REQUIRED → DONE")
    invoice(birch, at(m[3], 2), 99800)
    invoice(birch, at(m[3], 3), 0)  # nothing due: not counted
    invoice(birch, at(m[3], 4), 9900, state="void")  # void: not counted
    invoice(birch, at(m[9], 2), 49900, state="uncollectible")
    for day in (2, 5):  # Stripe's retries: one practice with a failed payment this month
        f.BillingAuditEntryFactory(practice=birch, action="payment_failed", created_at=at(m[9], day, 12))
    status(birch, at(m[9], 2, 13), "DONE → PAST_DUE")
    status(birch, at(m[10], 1), "PAST_DUE → CANCELLED")
    # Cedar: new in m7, Monthly, paying in VND, a refund in m8.
    cedar = f.PracticeFactory(name="Cedar", plan=Plan.MONTHLY, created_at=at(m[7], 1))
    status(cedar, at(m[7], 1, 10), "REQUIRED → DONE")
    invoice(cedar, at(m[7], 1, 10), 2_500_000, currency="vnd")
    invoice(cedar, at(m[8], 1, 10), 2_500_000, currency="vnd")
    f.InvoiceRefundFactory(practice=cedar, amount=500_000, currency="vnd", created_at=at(m[8], 3))
    # Dogwood: new this month, not subscribed yet.
    f.PracticeFactory(name="Dogwood", created_at=at(m[11], 1, 0))
    # Registrations: three in m1 (two with their Stripe customer), one in m4 without; an admin.
    f.UserFactory(created_at=at(m[1], 2), with_customer=True)
    f.UserFactory(created_at=at(m[1], 3), with_customer=True)
    f.UserFactory(created_at=at(m[1], 4))
    f.UserFactory(created_at=at(m[4], 4))
    f.UserFactory(created_at=at(m[1], 5), role=Role.ADMIN)
