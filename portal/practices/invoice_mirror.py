"""Apply a practice's invoices as Stripe states them (``invoice.*`` events, API results,
reconciliation): the invoice mirror, the onboarding fee, payment failures, authentication
requests, receipts (``portal.practices.receipts``), renewal reminders. Never commits; the rules of
``portal.practices.mirror`` hold.
"""

from __future__ import annotations

import datetime as dt
import logging

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from portal.extensions import db
from portal.formatting import lazy_date
from portal.gateway import invoices as stripe_invoices
from portal.gateway.shapes import (
    as_dict,
    invoice_metadata,
    invoice_subscription_id,
    object_id,
)
from portal.mail.outbox import caused_by
from portal.practices import audit, notifications, receipts
from portal.practices.mirror import (
    adopt_subscription,
    find_practice,
    is_stale,
    record_onboarding_paid,
    rederive_status,
    stamp,
    to_datetime,
)
from portal.practices.models import BillingAuditEntry, Practice, PracticeInvoice

log = logging.getLogger(__name__)


#: Invoice events that say it was paid (either may come first, or alone).
PAID_EVENTS = frozenset({"invoice.paid", "invoice.payment_succeeded"})


def _carries_onboarding(invoice: dict) -> bool:
    return invoice.get("billing_reason") == "subscription_create"


def _paid_at(invoice: dict, default: int) -> int:
    return (invoice.get("status_transitions") or {}).get("paid_at") or default


#: How far along its life an invoice is. Stripe's events of one second (finalized, then paid)
#: carry the same ``created``, so on a tie the further state wins; paid and void are final.
INVOICE_PROGRESS = {"draft": 0, "open": 1, "uncollectible": 2, "paid": 3, "void": 3}
FINAL_INVOICE_STATES = frozenset({"paid", "void"})


def _invoice_is_behind(row: PracticeInvoice, status: str | None, synced_at: int) -> bool:
    """Would ``status`` as of ``synced_at`` move the mirrored invoice backwards?"""
    if row.stripe_synced_at > synced_at:
        return True
    if row.status in FINAL_INVOICE_STATES and status != row.status:
        return True
    progress = INVOICE_PROGRESS.get(status or "", 0)
    return row.stripe_synced_at == synced_at and progress < INVOICE_PROGRESS.get(row.status or "", 0)


def mirror_invoice(
    practice: Practice, invoice: dict, synced_at: int, *, keep_draft: bool = False
) -> PracticeInvoice | None:
    """Insert or update the local copy; an older state never overwrites a newer one.

    ``keep_draft``: mirror a draft too (one Stripe could not finalize stays a draft).
    """
    if not invoice.get("id") or (
        invoice.get("status") == "draft" and not invoice.get("number") and not keep_draft
    ):
        return None  # drafts change until finalized; the finalized invoice is mirrored
    row = db.session.scalar(sa.select(PracticeInvoice).where(PracticeInvoice.stripe_id == invoice["id"]))
    if row is not None and _invoice_is_behind(row, invoice.get("status"), synced_at):
        return row
    if row is None:
        row = PracticeInvoice(practice_id=practice.id, stripe_id=invoice["id"])
        db.session.add(row)
    row.number = invoice.get("number")
    row.created = int(invoice.get("created") or 0)
    row.amount_due = int(invoice.get("amount_due") or 0)
    row.amount_paid = int(invoice.get("amount_paid") or 0)
    row.currency = (invoice.get("currency") or "usd")[:3]
    row.status = invoice.get("status")
    row.billing_reason = invoice.get("billing_reason")
    row.hosted_invoice_url = invoice.get("hosted_invoice_url")
    row.invoice_pdf = invoice.get("invoice_pdf")
    row.subscription_id = invoice_subscription_id(invoice)
    row.customer_id = object_id(invoice.get("customer"))
    row.discount_amount = sum(int(d.get("amount") or 0) for d in invoice.get("total_discount_amounts") or [])
    row.stripe_synced_at = int(synced_at)
    row.credit_applied = credit_applied(invoice)
    return row


def credit_applied(invoice: dict) -> int:
    """What the customer's credit paid of the invoice: Stripe takes it from ``starting_balance``
    when it finalizes, so ``amount_due`` is the ``total`` less it."""
    if int(invoice.get("starting_balance") or 0) >= 0 or invoice.get("amount_due") is None:
        return 0
    return max(0, int(invoice.get("total") or 0) - int(invoice.get("amount_due") or 0))


@audit.dated_by_event
def apply_invoice(
    obj: object, event_created: int, event_type: str | None = None, *, fresh: bool = False
) -> Practice | None:
    """invoice.* events (paid, payment_succeeded, payment_failed, payment_action_required, ...).

    Mirrors the invoice, records the onboarding payment, and for the practice's
    current subscription: the last payment error and the authentication request.
    Sends the payment-failed and action-required emails for those event types, and the
    receipt of a paid invoice (``portal.practices.receipts``).
    """
    invoice = as_dict(obj)
    practice = find_practice(invoice_metadata(invoice), invoice.get("customer"))
    if practice is None:
        log.info("invoice %s belongs to no practice", invoice.get("id"))
        return None
    mirror_invoice(practice, invoice, event_created, keep_draft=event_type == "invoice.finalization_failed")
    if event_type in PAID_EVENTS and not fresh:  # Stripe's word, not a person's action reading it back
        receipts.send_receipt(practice, invoice, _paid_at(invoice, event_created))

    paid = invoice.get("status") == "paid" or event_type in PAID_EVENTS
    subscription_id = invoice_subscription_id(invoice)
    record_onboarding_paid(
        practice, paid, _carries_onboarding(invoice), _paid_at(invoice, event_created), invoice.get("id")
    )

    status_hint = "active" if paid else None
    current = adopt_subscription(practice, subscription_id, status_hint) if subscription_id else False
    if not current:
        rederive_status(practice)
        return practice
    # A newer state of the practice already applied: the subscription fields stay as they are,
    # but what this event tells about its own invoice (a decline, a 3-D Secure request) still
    # counts while it explains that newer state, so a late event loses neither reason nor email.
    stale = is_stale(practice, event_created, fresh)
    if stale and not (event_type in FAILURE_EVENTS and _failure_still_explains(practice, invoice)):
        rederive_status(practice)
        return practice
    if not stale:
        stamp(practice, event_created)
        practice.latest_invoice_id = invoice.get("id")

    _apply_payment_news(practice, invoice, event_type, paid=paid, stale=stale)
    rederive_status(practice)
    return practice


def _apply_payment_news(
    practice: Practice, invoice: dict, event_type: str | None, *, paid: bool, stale: bool
) -> None:
    """What the invoice's payment tells the practice's current subscription: paid clears the last
    error and any authentication request; a failure or a 3-D Secure request is kept, written to
    History and emailed to the billing managers (the practice keeps access while Stripe retries)."""
    if paid:
        practice.last_payment_error = None
        practice.action_required_invoice_id = None
        if practice.subscription_status in ("past_due", "incomplete", None):
            practice.subscription_status = "active"  # what Stripe does once the latest invoice is paid
    elif event_type == "invoice.payment_failed":
        reason = notifications.decline_reason(stripe_invoices.invoice_decline(invoice))
        practice.last_payment_error = reason
        if not stale and practice.subscription_status == "active" and not _carries_onboarding(invoice):
            practice.subscription_status = "past_due"  # Stripe retries; the practice keeps access
        audit.record(practice, "payment_failed", f"{invoice.get('id')}: {reason}")
        notifications.notify(
            practice,
            _l("%(practice)s: a payment failed", practice=practice.name),
            "practice_payment_failed",
            reason=reason,
            stripe_retries=notifications.stripe_retries(reason),
            hosted_invoice_url=invoice.get("hosted_invoice_url"),
        )
    elif event_type == "invoice.payment_action_required":
        practice.action_required_invoice_id = invoice.get("id")
        if not stale and practice.subscription_status == "active" and not _carries_onboarding(invoice):
            practice.subscription_status = "past_due"
        _ask_to_confirm(practice, invoice)


def _ask_to_confirm(practice: Practice, invoice: dict) -> None:
    """The "please confirm a payment" email, once per invoice (keyed by it, not by the event): each
    Pay now pressed meanwhile makes Stripe ask again, and its event must not email again. History
    says it when the email goes."""
    with caused_by(f"action_required:{invoice.get('id')}"):
        queued = notifications.notify(
            practice,
            _l("%(practice)s: please confirm a payment", practice=practice.name),
            "practice_action_required",
            invoice_id=invoice.get("id"),
            hosted_invoice_url=invoice.get("hosted_invoice_url"),
        )
    if queued:
        audit.record(practice, "action_required", invoice.get("id"))


#: Invoice events whose news stays true for their invoice until it is paid.
FAILURE_EVENTS = frozenset({"invoice.payment_failed", "invoice.payment_action_required"})


def _failure_still_explains(practice: Practice, invoice: dict) -> bool:
    """Does a late failure of this invoice explain where the subscription is now?

    Only while the subscription is unhealthy (past due, unpaid, cancelled...), the invoice is
    still unpaid in our mirror and no later invoice was paid since.
    """
    if practice.subscription_status in ("active", "trialing"):
        return False
    row = db.session.scalar(sa.select(PracticeInvoice).where(PracticeInvoice.stripe_id == invoice.get("id")))
    if row is None or row.status in ("paid", "void"):
        return False
    later_paid = db.session.scalar(
        sa.select(PracticeInvoice.id)
        .where(
            PracticeInvoice.practice_id == practice.id,
            PracticeInvoice.status == "paid",
            PracticeInvoice.created > row.created,
        )
        .limit(1)
    )
    return later_paid is None


def record_invoice(obj: object, synced_at: int) -> Practice | None:
    """Mirror an invoice and the one fact it proves forever (the onboarding fee was paid), nothing more.

    Reconciliation re-applies every invoice of a customer: an old paid one must
    not make a past-due subscription active again (``apply_invoice`` would).
    """
    invoice = as_dict(obj)
    practice = find_practice(invoice_metadata(invoice), invoice.get("customer"))
    if practice is None:
        return None
    mirror_invoice(practice, invoice, synced_at)
    paid = invoice.get("status") == "paid"
    if record_onboarding_paid(
        practice, paid, _carries_onboarding(invoice), _paid_at(invoice, synced_at), invoice.get("id")
    ):
        rederive_status(practice)
    return practice


#: A renewal reminder yields to a payment failure: none is sent when Stripe reported a failed payment
#: or a payment waiting for the bank's check (History's Stripe-dated lines) within this long of the
#: reminder's event, either side, on Stripe's clock. So the two emails never arrive together, and a
#: practice being asked to fix a payment is not told in the same breath that all will renew.
REMINDER_QUIET_SECONDS = 3600
FAILURE_LINES = ("payment_failed", "action_required")


def _renews(practice: Practice, subscription_id: str | None) -> bool:
    """Will the practice's current subscription renew as it stands? Not when the invoice is for
    another subscription, the practice is deactivated, a payment is overdue or waits for the bank
    (past due, unpaid, incomplete), or the subscription ends or is set to end."""
    return (
        subscription_id == practice.stripe_subscription_id
        and not practice.deactivated
        and practice.subscription_status in ("active", "trialing")
        and not practice.payment_overdue
        and not practice.last_payment_error
        and not practice.cancel_at_period_end
        and practice.cancel_at is None
    )


def _paused_then(practice: Practice, renews: dt.datetime | None) -> bool:
    """Is payment collection paused on the renewal's day (no resume day, or a later one)?"""
    if practice.pause_behavior is None:
        return False
    resumes = practice.pause_resumes_at
    return resumes is None or renews is None or renews < resumes


def _failure_near(practice: Practice, event_created: int) -> bool:
    at = to_datetime(event_created)
    quiet = dt.timedelta(seconds=REMINDER_QUIET_SECONDS)
    found = db.session.scalar(
        sa.select(BillingAuditEntry.id)
        .where(
            BillingAuditEntry.practice_id == practice.id,
            BillingAuditEntry.action.in_(FAILURE_LINES),
            BillingAuditEntry.actor_id.is_(None),
            BillingAuditEntry.created_at.between(at - quiet, at + quiet),
        )
        .limit(1)
    )
    return found is not None


@audit.dated_by_event
def remind_renewal(obj: object, event_created: int) -> Practice | None:
    """invoice.upcoming: tell the billing managers what the next renewal will charge, and when.

    Every plan gets it (Monthly and every 6 months). Upcoming invoices have no id and change
    nothing locally. Only a subscription that will renew as it stands gets one (``_renews``), and
    never near a payment failure (``REMINDER_QUIET_SECONDS``). The day is Stripe's: when it will
    charge the upcoming invoice (its period's end, the billing page's "Next renewal"), written as
    the pages write a day.
    """
    invoice = as_dict(obj)
    practice = find_practice(invoice_metadata(invoice), invoice.get("customer"))
    if practice is None:
        log.info("upcoming invoice belongs to no practice")
        return None
    subscription_id = invoice_subscription_id(invoice)
    if not _renews(practice, subscription_id) or _failure_near(practice, event_created):
        log.info("no renewal reminder practice_id=%s subscription=%s", practice.id, subscription_id)
        return practice
    renews = to_datetime(invoice.get("next_payment_attempt") or invoice.get("period_end"))
    renews = renews or practice.current_period_end
    if _paused_then(practice, renews):  # nothing is charged while collection is paused
        log.info("no renewal reminder while paused practice_id=%s", practice.id)
        return practice
    renews_on = lazy_date(renews) if renews else _l("the end of the period")
    audit.record(practice, "renewal_reminder", f"renews {renews:%Y-%m-%d}" if renews else None)
    plan = practice.plan
    notifications.notify(
        practice,
        _l("%(practice)s: your subscription renews on %(day)s", practice=practice.name, day=renews_on),
        "practice_renewal_reminder",
        renews_on=renews_on,
        amount=int(invoice.get("amount_due") or 0),
        currency=invoice.get("currency") or "usd",
        plan_label=plan.lazy_label if plan else "subscription",
    )
    return practice


@audit.dated_by_event
def finalization_failed(obj: object, event_created: int) -> Practice | None:
    """invoice.finalization_failed: mirror what there is, log, audit and alert the platform admins."""
    invoice = as_dict(obj)
    practice = apply_invoice(invoice, event_created, "invoice.finalization_failed")
    error = invoice.get("last_finalization_error") or {}
    message = error.get("message") or error.get("code") or "unknown reason"
    log.error(
        "invoice finalization failed invoice=%s customer=%s practice_id=%s: %s",
        invoice.get("id"),
        object_id(invoice.get("customer")),
        practice.id if practice else None,
        message,
    )
    if practice is not None:
        audit.record(practice, "invoice_finalization_failed", f"{invoice.get('id')}: {message}")
    notifications.alert_admins(
        _l("Stripe could not finalize invoice %(invoice)s", invoice=invoice.get("id")),
        "admin_finalization_failed",
        invoice_id=invoice.get("id"),
        customer_id=object_id(invoice.get("customer")),
        practice=practice,
        reason=message,
    )
    return practice
