"""The mirror functions the webhooks and the success page run, with real-shaped Stripe payloads."""

from __future__ import annotations

import sqlalchemy as sa

from portal.extensions import db
from portal.practices import banners
from portal.practices.checkout_mirror import fulfil_checkout_session
from portal.practices.invoice_mirror import apply_invoice
from portal.practices.mirror import apply_subscription
from portal.practices.models import BillingAuditEntry, Plan, PracticeInvoice
from portal.practices.notifications import DECLINE_REASONS
from portal.practices.status import BillingStatus
from tests import stripe_payloads as p
from tests.stripe_payloads import DAY, T0


def subscribed(practice, created=T0):
    """The state right after a paid checkout: onboarding paid, subscription active."""
    sub = p.subscription(practice.id, practice.stripe_customer_id)
    first = p.invoice(
        practice.id,
        practice.stripe_customer_id,
        id="in_first",
        billing_reason="subscription_create",
        amount=59800,
        created=created,
    )
    fulfil_checkout_session(
        p.checkout_session(practice.id, practice.stripe_customer_id, subscription=sub, invoice=first), created
    )
    db.session.commit()
    return sub


def banner_kinds(practice, user):
    return [b["kind"] for b in banners.practice_banners(user)]


def test_checkout_fulfilment_makes_the_practice_done(practice, owner):
    subscribed(practice)
    assert practice.billing_status == BillingStatus.DONE
    assert practice.onboarding_paid_at is not None
    assert practice.stripe_subscription_id == "sub_practice1"
    assert practice.plan == Plan.MONTHLY
    assert practice.current_period_end is not None
    assert db.session.scalar(sa.select(PracticeInvoice.number).where(PracticeInvoice.stripe_id == "in_first"))
    assert banner_kinds(practice, owner) == []


def test_fulfilment_is_idempotent(practice):
    subscribed(practice)
    entries = db.session.scalar(sa.select(sa.func.count(BillingAuditEntry.id)))
    subscribed(practice)
    subscribed(practice, created=T0 + 5)
    assert db.session.scalar(sa.select(sa.func.count(BillingAuditEntry.id))) == entries
    assert db.session.scalar(sa.select(sa.func.count(PracticeInvoice.id))) == 1


def test_webhook_session_without_expansions(practice):
    fulfil_checkout_session(p.checkout_session(practice.id, practice.stripe_customer_id), T0)
    assert practice.billing_status == BillingStatus.DONE
    assert practice.stripe_subscription_id == "sub_practice1"


def test_renewal_succeeds_done(practice):
    subscribed(practice)
    renewed = p.subscription(
        practice.id, practice.stripe_customer_id, period_start=T0 + 30 * DAY, period_end=T0 + 60 * DAY
    )
    apply_invoice(
        p.invoice(practice.id, practice.stripe_customer_id, id="in_renew", created=T0 + 30 * DAY),
        T0 + 30 * DAY,
        "invoice.paid",
    )
    apply_subscription(renewed, T0 + 30 * DAY)
    assert practice.billing_status == BillingStatus.DONE
    assert practice.current_period_end == p_dt(T0 + 60 * DAY)
    assert practice.latest_invoice_id == "in_renew"


def p_dt(ts):
    from portal.practices.mirror import to_datetime

    return to_datetime(ts)


def test_renewal_payment_fails_past_due_with_banner_and_email(practice, owner, mailbox):
    subscribed(practice)
    t = T0 + 30 * DAY
    failed = p.with_payment_error(
        p.invoice(practice.id, practice.stripe_customer_id, id="in_renew", status="open", created=t)
    )
    apply_invoice(failed, t, "invoice.payment_failed")
    apply_subscription(
        p.subscription(
            practice.id,
            practice.stripe_customer_id,
            status="past_due",
            period_start=t,
            period_end=t + 30 * DAY,
        ),
        t,
    )
    db.session.commit()
    assert practice.billing_status == BillingStatus.PAST_DUE
    assert practice.last_payment_error == DECLINE_REASONS["insufficient_funds"]
    [banner] = banners.practice_banners(owner)
    assert banner["kind"] == "payment_failed"
    assert banner["reason"] == DECLINE_REASONS["insufficient_funds"]
    message = mailbox.wait_for(owner.email, "a payment failed")
    assert "insufficient funds" in message.get_body(preferencelist=("plain",)).get_content()


def test_payment_failed_alone_marks_past_due(practice):
    subscribed(practice)
    t = T0 + 30 * DAY
    apply_invoice(
        p.invoice(practice.id, practice.stripe_customer_id, id="in_r", status="open", created=t),
        t,
        "invoice.payment_failed",
    )
    assert practice.billing_status == BillingStatus.PAST_DUE
    assert practice.last_payment_error == "The card was declined."


def test_cancel_at_period_end_banner_with_date_and_one_email(practice, owner, mailbox):
    subscribed(practice)
    mailbox.clear()
    cancelling = p.subscription(practice.id, practice.stripe_customer_id, cancel_at_period_end=True)
    apply_subscription(cancelling, T0 + DAY)
    apply_subscription(cancelling, T0 + DAY)  # delivered twice: still one email
    db.session.commit()
    assert practice.cancel_at_period_end is True
    assert practice.billing_status == BillingStatus.DONE
    [banner] = banners.practice_banners(owner)
    assert banner["kind"] == "cancellation_scheduled"
    assert banner["ends_on"] == p_dt(T0 + 30 * DAY)
    mailbox.wait_for(owner.email, "subscription ends on")
    assert len(mailbox.to(owner.email)) == 1


def test_period_ends_after_cancellation_cancelled(practice, owner):
    subscribed(practice)
    apply_subscription(
        p.subscription(practice.id, practice.stripe_customer_id, cancel_at_period_end=True), T0 + DAY
    )
    ended = p.subscription(
        practice.id, practice.stripe_customer_id, status="canceled", cancel_at_period_end=True
    )
    apply_subscription(ended, T0 + 30 * DAY)  # customer.subscription.deleted
    assert practice.billing_status == BillingStatus.CANCELLED
    assert banner_kinds(practice, owner) == ["cancelled"]


def test_renewal_needing_authentication_banner_and_email(practice, owner, mailbox):
    subscribed(practice)
    t = T0 + 30 * DAY
    inv = p.invoice(practice.id, practice.stripe_customer_id, id="in_sca", status="open", created=t)
    apply_invoice(inv, t, "invoice.payment_action_required")
    db.session.commit()
    [banner] = banners.practice_banners(owner)
    assert banner["kind"] == "action_required"
    assert banner["invoice_id"] == "in_sca"
    message = mailbox.wait_for(owner.email, "confirm a payment")
    text = message.get_body(preferencelist=("plain",)).get_content()
    # The portal's page runs the bank's check; Stripe's hosted page is the second way.
    assert f"/practices/{practice.id}/invoices/in_sca/authenticate" in text
    assert "https://invoice.stripe.test/in_sca" in text
    # Paid after authenticating: the banner goes.
    apply_invoice(
        p.invoice(practice.id, practice.stripe_customer_id, id="in_sca", created=t), t + 60, "invoice.paid"
    )
    assert practice.billing_status == BillingStatus.DONE
    assert banner_kinds(practice, owner) == []


def test_subscription_deleted_cancelled(practice, owner):
    subscribed(practice)
    apply_subscription(
        p.subscription(practice.id, practice.stripe_customer_id, status="canceled"), T0 + 3 * DAY
    )
    assert practice.billing_status == BillingStatus.CANCELLED
    assert banner_kinds(practice, owner) == ["cancelled"]


def test_onboarding_paid_but_subscription_not_required(practice, owner):
    practice.onboarding_paid_at = p_dt(T0)
    apply_subscription(p.subscription(practice.id, practice.stripe_customer_id, status="incomplete"), T0)
    assert practice.billing_status == BillingStatus.REQUIRED
    assert banner_kinds(practice, owner) == ["billing_required"]


def test_older_event_does_not_overwrite_newer(practice):
    subscribed(practice)
    newer = p.subscription(practice.id, practice.stripe_customer_id, cancel_at_period_end=True)
    older = p.subscription(practice.id, practice.stripe_customer_id, status="past_due")
    apply_subscription(newer, T0 + 2 * DAY)
    apply_subscription(older, T0 + DAY)
    assert practice.subscription_status == "active"
    assert practice.cancel_at_period_end is True
    # A late payment_failed from before the newer state changes nothing either.
    apply_invoice(
        p.invoice(practice.id, practice.stripe_customer_id, id="in_old", status="open", created=T0 + DAY),
        T0 + DAY,
        "invoice.payment_failed",
    )
    assert practice.billing_status == BillingStatus.DONE
    assert practice.last_payment_error is None


def test_late_paid_invoice_still_records_onboarding(practice):
    apply_subscription(p.subscription(practice.id, practice.stripe_customer_id), T0 + 10)
    assert practice.billing_status == BillingStatus.REQUIRED  # active, onboarding unknown yet
    first = p.invoice(
        practice.id, practice.stripe_customer_id, id="in_first", billing_reason="subscription_create"
    )
    apply_invoice(first, T0, "invoice.paid")  # older than the subscription state, but onboarding is monotonic
    assert practice.billing_status == BillingStatus.DONE


def test_events_of_an_old_subscription_are_ignored(practice):
    subscribed(practice)
    apply_subscription(p.subscription(practice.id, practice.stripe_customer_id, status="canceled"), T0 + DAY)
    new = p.subscription(
        practice.id,
        practice.stripe_customer_id,
        id="sub_second",
        lookup_key="plan_semiannual",
        interval_count=6,
    )
    apply_subscription(new, T0 + 2 * DAY)
    assert practice.billing_status == BillingStatus.DONE
    assert practice.plan == Plan.SEMIANNUAL
    late = p.subscription(practice.id, practice.stripe_customer_id, status="canceled")
    apply_subscription(late, T0 + 3 * DAY)
    assert practice.stripe_subscription_id == "sub_second"
    assert practice.billing_status == BillingStatus.DONE


def test_objects_of_other_customers_are_ignored(practice):
    assert apply_subscription(p.subscription(999, "cus_nobody"), T0) is None
    assert apply_invoice(p.invoice(999, "cus_nobody"), T0, "invoice.paid") is None


def test_same_second_incomplete_never_replaces_active(practice):
    """Stripe's created(incomplete) and updated(active) share a second; either order ends active."""
    active = p.subscription(practice.id, practice.stripe_customer_id, status="active")
    incomplete = p.subscription(practice.id, practice.stripe_customer_id, status="incomplete")
    apply_subscription(active, T0)
    apply_subscription(incomplete, T0)
    assert practice.subscription_status == "active"


def test_same_second_nothing_revives_a_canceled_subscription(practice):
    subscribed(practice)
    canceled = p.subscription(practice.id, practice.stripe_customer_id, status="canceled")
    apply_subscription(canceled, T0 + DAY)
    apply_subscription(p.subscription(practice.id, practice.stripe_customer_id, status="active"), T0 + DAY)
    assert practice.billing_status == BillingStatus.CANCELLED
