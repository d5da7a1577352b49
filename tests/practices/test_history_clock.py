"""History's two clocks: a line written because of a Stripe event carries the event's time (the
clock Stripe dates its invoices by); a line a person caused carries the portal's time."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from portal.extensions import db
from portal.practices import audit
from portal.practices.invoice_mirror import apply_invoice
from portal.practices.models import BillingAuditEntry
from tests import stripe_payloads as p
from tests.practices.test_mirror import subscribed
from tests.stripe_payloads import T0

LATER = T0 + 30 * 86400  # Stripe's clock a month on (the sandbox's clock, advanced)


def lines(practice) -> dict[str, dt.datetime]:
    rows = db.session.execute(
        sa.select(BillingAuditEntry.action, BillingAuditEntry.created_at).where(
            BillingAuditEntry.practice_id == practice.id
        )
    )
    return {action: created for action, created in rows}


def stripe_day(seconds: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).replace(tzinfo=None)


def test_lines_of_stripe_events_carry_the_events_time(practice, owner):
    subscribed(practice)
    failed = p.with_payment_error(
        p.invoice(practice.id, practice.stripe_customer_id, id="in_renewal", status="open", created=LATER)
    )
    apply_invoice(failed, LATER, "invoice.payment_failed")
    db.session.commit()
    written = lines(practice)
    assert written["subscription_started"] == stripe_day(T0)
    assert written["payment_failed"] == stripe_day(LATER)


def test_lines_a_person_caused_carry_the_portals_time(practice, owner):
    before = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(seconds=5)
    with audit.written_for_event(T0):  # even inside an event's work, a person's line is theirs
        audit.record(practice, "cancel_requested", "Moving", actor_id=owner.id)
    audit.record(practice, "card_added", "visa 4242", actor_id=owner.id)
    db.session.commit()
    assert all(at >= before for at in lines(practice).values())
