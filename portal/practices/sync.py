"""Apply Stripe state (webhook payloads or API results) to a practice. Never commits.

Webhook handlers and the portal's own actions call the same three functions:

- ``apply_subscription(obj, event_created)`` for customer.subscription.* events,
- ``apply_invoice(obj, event_created, event_type)`` for invoice.* events,
- ``fulfil_checkout_session(obj, event_created)`` for checkout.session.completed
  and the checkout success page.

Each takes a plain dict or an SDK object and returns the practice it touched
(or None when the object is not a practice's). ``event_created`` is the Stripe
time of the state; state older than the practice's ``stripe_state_at`` does not
overwrite newer state. Facts that only ever become true (the onboarding fee was
paid) are applied whatever the order. ``fresh=True`` marks an object just
returned by the Stripe API: it is the newest state there is.
"""

from __future__ import annotations

import datetime as dt
import logging

import sqlalchemy as sa

from portal.extensions import db
from portal.gateway import invoices as stripe_invoices
from portal.gateway.shapes import (
    as_dict,
    invoice_metadata,
    invoice_subscription_id,
    object_id,
    subscription_period,
    subscription_price,
)
from portal.practices import notifications
from portal.practices.models import BillingAuditEntry, Plan, Practice, PracticeInvoice
from portal.practices.status import CANCELLED_STATES, INACTIVE_STATES

log = logging.getLogger(__name__)

ENDED_STATES = CANCELLED_STATES | INACTIVE_STATES
PAID_EVENTS = frozenset({"invoice.paid", "invoice.payment_succeeded"})


def to_datetime(timestamp: int | None) -> dt.datetime | None:
    if timestamp is None:
        return None
    return dt.datetime.fromtimestamp(int(timestamp), dt.UTC).replace(tzinfo=None)


def find_practice(metadata: dict | None, customer: object = None) -> Practice | None:
    """By ``metadata.practiceId`` first, then by the Stripe customer id.

    The row is locked until the caller's transaction ends (FOR UPDATE; SQLite serializes
    writers anyway) and read fresh: two events of one practice applied at once on
    PostgreSQL then take turns, and the second sees the first's state before comparing times.
    """
    practice_id = (metadata or {}).get("practiceId")
    customer_id = object_id(customer)
    if practice_id and str(practice_id).isdigit():
        practice = db.session.get(Practice, int(practice_id), with_for_update=True, populate_existing=True)
        # The id alone could name a practice of another database sharing the Stripe account.
        if practice is not None and (
            customer_id is None or practice.stripe_customer_id in (None, customer_id)
        ):
            return practice
    if customer_id:
        return db.session.scalar(
            sa.select(Practice)
            .where(Practice.stripe_customer_id == customer_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    return None


def audit(practice: Practice, action: str, detail: str | None = None, actor_id: int | None = None) -> None:
    db.session.add(
        BillingAuditEntry(
            practice_id=practice.id, actor_id=actor_id, action=action, detail=(detail or "")[:500]
        )
    )


def plan_from_price(price: dict) -> Plan | None:
    lookup_key = price.get("lookup_key")
    for plan in Plan:
        if lookup_key == plan.lookup_key:
            return plan
    recurring = price.get("recurring") or {}
    if recurring.get("interval") == "month":
        return {1: Plan.MONTHLY, 6: Plan.SEMIANNUAL}.get(int(recurring.get("interval_count") or 1))
    return None


def _is_stale(practice: Practice, event_created: int, fresh: bool) -> bool:
    return not fresh and event_created < practice.stripe_state_at


def _stamp(practice: Practice, event_created: int) -> None:
    practice.stripe_state_at = max(practice.stripe_state_at or 0, int(event_created))


def _adopt_subscription(practice: Practice, subscription_id: str | None, status: str | None) -> bool:
    """Is ``subscription_id`` the practice's subscription? Takes a new one only when the old one ended.

    Late events about an earlier, ended subscription are thereby ignored. A second live one
    (two checkouts paid at once) is settled at Stripe by ``duplicates.resolve``.
    """
    if subscription_id is None:
        return False
    current = practice.stripe_subscription_id
    if current == subscription_id:
        return True
    if (
        current is None
        or practice.subscription_status in ENDED_STATES
        or practice.subscription_status is None
    ):
        if status in ENDED_STATES and current is not None:
            return False  # an old subscription's ending never replaces the current one
        _take_subscription(practice, subscription_id, status)
        return True
    if status in ENDED_STATES:
        return False
    return _settle_second_subscription(practice, subscription_id)


def _take_subscription(practice: Practice, subscription_id: str, status: str | None) -> None:
    practice.stripe_subscription_id = subscription_id
    practice.subscription_status = status
    practice.cancel_at_period_end = False
    practice.cancel_at = None
    practice.cancellation_reason = None
    audit(practice, "subscription_started", subscription_id)


def _settle_second_subscription(practice: Practice, subscription_id: str) -> bool:
    """Another live subscription while the practice has one: keep one at Stripe, cancel the rest.

    Always False: when the kept one is not the current one, it replaces it here, applied as
    Stripe holds it now (the event at hand may be older than the practice's state).
    """
    from portal.practices import duplicates

    if duplicates.already_cancelled(practice, subscription_id):
        return False
    kept = duplicates.resolve(practice)
    if kept is not None and kept["id"] != practice.stripe_subscription_id:
        _take_subscription(practice, kept["id"], kept.get("status"))
        apply_subscription(kept, practice.stripe_state_at or 0, fresh=True)
    return False


def _finish(practice: Practice) -> None:
    """Re-derive the status; an audit line when it changed."""
    before = practice.billing_status
    after = practice.refresh_billing_status()
    if before != after:
        audit(practice, "status_changed", f"{before} → {after}")
        if after in ("CANCELLED", "INACTIVE"):
            practice.checkout_generation = (practice.checkout_generation or 0) + 1
            practice.checkout_session_id = None
    db.session.flush()


def apply_subscription(obj: object, event_created: int, *, fresh: bool = False) -> Practice | None:
    """customer.subscription.created/updated/deleted/paused/resumed, or a subscription from the API."""
    sub = as_dict(obj)
    practice = find_practice(sub.get("metadata"), sub.get("customer"))
    if practice is None:
        log.info("subscription %s belongs to no practice", sub.get("id"))
        return None
    if not _adopt_subscription(practice, sub.get("id"), sub.get("status")):
        log.info(
            "ignoring subscription %s: practice %s has %s",
            sub.get("id"),
            practice.id,
            practice.stripe_subscription_id,
        )
        return practice
    if _is_stale(practice, event_created, fresh) or _goes_back(practice, sub.get("status"), event_created):
        log.info("ignoring stale subscription state practice_id=%s", practice.id)
        _keep_newer_period(practice, sub)
        return practice
    _stamp(practice, event_created)

    was_scheduled = practice.cancel_at_period_end or practice.cancel_at is not None
    status = sub.get("status")
    practice.subscription_status = status
    practice.cancel_at_period_end = bool(sub.get("cancel_at_period_end"))
    practice.cancel_at = to_datetime(sub.get("cancel_at"))
    start, end = subscription_period(sub)
    practice.current_period_start = to_datetime(start) or practice.current_period_start
    practice.current_period_end = to_datetime(end) or practice.current_period_end
    practice.plan = plan_from_price(subscription_price(sub)) or practice.plan
    practice.latest_invoice_id = object_id(sub.get("latest_invoice")) or practice.latest_invoice_id
    comment = (sub.get("cancellation_details") or {}).get("comment")
    if comment:
        practice.cancellation_reason = comment[:500]
    if status in ("active", "trialing"):
        # Active means the latest invoice is paid: nothing is failing any more.
        practice.last_payment_error = None
        practice.action_required_invoice_id = None

    now_scheduled = practice.cancel_at_period_end or practice.cancel_at is not None
    if now_scheduled and not was_scheduled and status not in ENDED_STATES:
        ends = practice.cancel_at or practice.current_period_end
        audit(practice, "cancellation_scheduled", f"ends {ends:%Y-%m-%d}" if ends else None)
        notifications.notify(
            practice,
            f"{practice.name}: subscription ends on {ends:%d %B %Y}" if ends else "Subscription cancelled",
            "practice_cancellation_scheduled",
            ends_on=f"{ends:%d %B %Y}" if ends else "the end of the period",
        )
    elif was_scheduled and not now_scheduled and status not in ENDED_STATES:
        audit(practice, "cancellation_withdrawn")
    _finish(practice)
    return practice


def _keep_newer_period(practice: Practice, sub: dict) -> None:
    """A renewal's ``customer.subscription.updated`` may arrive after the invoice events it caused
    (Stripe charges a renewal about an hour after moving the period): the period only moves
    forward, so a later one is kept even from an event older than the practice's state."""
    start, end = subscription_period(sub)
    later = to_datetime(end)
    if later is None or (practice.current_period_end is not None and later <= practice.current_period_end):
        return
    practice.current_period_start = to_datetime(start) or practice.current_period_start
    practice.current_period_end = later


#: Subscription statuses Stripe never leaves.
TERMINAL_STATES = frozenset({"canceled", "incomplete_expired"})


def _goes_back(practice: Practice, status: str | None, event_created: int) -> bool:
    """A state from the same second as ours that a subscription can never return to.

    Stripe's events of one second (created as incomplete, then active) carry the same
    ``created``: on such a tie, ``incomplete`` never replaces a later status, and nothing
    replaces an ended one.
    """
    if event_created != practice.stripe_state_at or practice.subscription_status is None:
        return False
    if practice.subscription_status in TERMINAL_STATES:
        return status != practice.subscription_status
    return status == "incomplete" and practice.subscription_status != "incomplete"


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
    row.stripe_synced_at = int(synced_at)
    return row


def apply_invoice(
    obj: object, event_created: int, event_type: str | None = None, *, fresh: bool = False
) -> Practice | None:
    """invoice.* events (paid, payment_succeeded, payment_failed, payment_action_required, ...).

    Mirrors the invoice, records the onboarding payment, and for the practice's
    current subscription: the last payment error and the authentication request.
    Sends the payment-failed and action-required emails for those event types.
    """
    invoice = as_dict(obj)
    practice = find_practice(invoice_metadata(invoice), invoice.get("customer"))
    if practice is None:
        log.info("invoice %s belongs to no practice", invoice.get("id"))
        return None
    mirror_invoice(practice, invoice, event_created, keep_draft=event_type == "invoice.finalization_failed")

    paid = invoice.get("status") == "paid" or event_type in PAID_EVENTS
    subscription_id = invoice_subscription_id(invoice)
    first_invoice = invoice.get("billing_reason") == "subscription_create"
    if paid and first_invoice and practice.onboarding_paid_at is None:
        # The onboarding fee rides on a subscription's first invoice (see services.start_checkout).
        paid_at = (invoice.get("status_transitions") or {}).get("paid_at") or event_created
        practice.onboarding_paid_at = to_datetime(paid_at)
        audit(practice, "onboarding_paid", invoice.get("id"))

    status_hint = "active" if paid else None
    current = _adopt_subscription(practice, subscription_id, status_hint) if subscription_id else False
    if not current:
        _finish(practice)
        return practice
    # A newer state of the practice already applied: the subscription fields stay as they are,
    # but what this event tells about its own invoice (a decline, a 3-D Secure request) still
    # counts while it explains that newer state, so a late event loses neither reason nor email.
    stale = _is_stale(practice, event_created, fresh)
    if stale and not (event_type in FAILURE_EVENTS and _failure_still_explains(practice, invoice)):
        _finish(practice)
        return practice
    if not stale:
        _stamp(practice, event_created)
        practice.latest_invoice_id = invoice.get("id")

    if paid:
        practice.last_payment_error = None
        practice.action_required_invoice_id = None
        if practice.subscription_status in ("past_due", "incomplete", None):
            practice.subscription_status = "active"  # what Stripe does once the latest invoice is paid
    elif event_type == "invoice.payment_failed":
        reason = notifications.decline_reason(stripe_invoices.invoice_decline(invoice))
        practice.last_payment_error = reason
        if not stale and practice.subscription_status == "active" and not first_invoice:
            practice.subscription_status = "past_due"  # Stripe retries; the practice keeps access
        audit(practice, "payment_failed", f"{invoice.get('id')}: {reason}")
        notifications.notify(
            practice,
            f"{practice.name}: a payment failed",
            "practice_payment_failed",
            reason=reason,
            hosted_invoice_url=invoice.get("hosted_invoice_url"),
        )
    elif event_type == "invoice.payment_action_required":
        practice.action_required_invoice_id = invoice.get("id")
        if not stale and practice.subscription_status == "active" and not first_invoice:
            practice.subscription_status = "past_due"
        audit(practice, "action_required", invoice.get("id"))
        notifications.notify(
            practice,
            f"{practice.name}: please confirm a payment",
            "practice_action_required",
            hosted_invoice_url=invoice.get("hosted_invoice_url"),
        )
    _finish(practice)
    return practice


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
    first_invoice = invoice.get("billing_reason") == "subscription_create"
    if invoice.get("status") == "paid" and first_invoice and practice.onboarding_paid_at is None:
        paid_at = (invoice.get("status_transitions") or {}).get("paid_at") or synced_at
        practice.onboarding_paid_at = to_datetime(paid_at)
        audit(practice, "onboarding_paid", invoice.get("id"))
        _finish(practice)
    return practice


def remind_renewal(obj: object, event_created: int) -> Practice | None:
    """invoice.upcoming: tell the billing managers what the next renewal will charge, and when.

    Every plan gets it (Monthly and every 6 months). Upcoming invoices have no id
    and change nothing locally; a subscription that is not the practice's current
    one, has ended or is set to end gets no reminder (nothing will renew).
    """
    invoice = as_dict(obj)
    practice = find_practice(invoice_metadata(invoice), invoice.get("customer"))
    if practice is None:
        log.info("upcoming invoice belongs to no practice")
        return None
    subscription_id = invoice_subscription_id(invoice)
    if (
        subscription_id != practice.stripe_subscription_id
        or practice.subscription_status not in ("active", "trialing", "past_due")
        or practice.cancel_at_period_end
        or practice.cancel_at is not None
    ):
        log.info("no renewal reminder practice_id=%s subscription=%s", practice.id, subscription_id)
        return practice
    renews = to_datetime(invoice.get("next_payment_attempt") or invoice.get("period_end"))
    renews = renews or practice.current_period_end
    renews_on = f"{renews:%d %B %Y}" if renews else "the end of the period"
    audit(practice, "renewal_reminder", f"renews {renews:%Y-%m-%d}" if renews else None)
    plan = practice.plan
    notifications.notify(
        practice,
        f"{practice.name}: your subscription renews on {renews_on}",
        "practice_renewal_reminder",
        renews_on=renews_on,
        amount=int(invoice.get("amount_due") or 0),
        currency=invoice.get("currency") or "usd",
        plan_label=plan.label if plan else "subscription",
    )
    return practice


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
        audit(practice, "invoice_finalization_failed", f"{invoice.get('id')}: {message}")
    notifications.alert_admins(
        f"Stripe could not finalize invoice {invoice.get('id')}",
        "admin_finalization_failed",
        invoice_id=invoice.get("id"),
        customer_id=object_id(invoice.get("customer")),
        practice=practice,
        reason=message,
    )
    return practice


def fulfil_checkout_session(obj: object, event_created: int, *, fresh: bool = False) -> Practice | None:
    """checkout.session.completed, and the success page (with the session retrieved from Stripe).

    Idempotent: running it again with the same session changes nothing. When the
    session carries its subscription and invoice expanded, those are applied too.
    """
    session = as_dict(obj)
    if session.get("mode") != "subscription":
        return None
    metadata = session.get("metadata") or {}
    if not metadata.get("practiceId") and session.get("client_reference_id"):
        metadata = {"practiceId": session["client_reference_id"]}
    practice = find_practice(metadata, session.get("customer"))
    if practice is None:
        log.info("checkout session %s belongs to no practice", session.get("id"))
        return None
    if session.get("status") != "complete":
        return practice

    subscription = session.get("subscription")
    paid = session.get("payment_status") in ("paid", "no_payment_required")
    if paid and metadata.get("onboarding") == "1" and practice.onboarding_paid_at is None:
        practice.onboarding_paid_at = to_datetime(event_created)
        audit(practice, "onboarding_paid", session.get("id"))
    if isinstance(subscription, dict) and subscription.get("items"):
        apply_subscription(subscription, event_created, fresh=fresh)
    elif (
        _adopt_subscription(practice, object_id(subscription), "active" if paid else "incomplete")
        and paid
        and practice.subscription_status in (None, "incomplete")
    ):
        practice.subscription_status = "active"
    invoice = session.get("invoice")
    if isinstance(invoice, dict):
        apply_invoice(invoice, event_created, fresh=fresh)
    if practice.stripe_subscription_id == object_id(subscription):
        practice.checkout_session_id = session.get("id")
    _finish(practice)
    return practice
