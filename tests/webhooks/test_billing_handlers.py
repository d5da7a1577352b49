"""Every event type of the design has a handler, and each handler's effect through the endpoint."""

from __future__ import annotations

import itertools
import json

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.practices.mirror import to_datetime
from portal.practices.models import BillingAuditEntry, Practice, PracticeInvoice
from portal.practices.status import BillingStatus
from portal.users.models import Role
from portal.wallet.models import PaymentMethod
from portal.webhooks.handlers import EVENT_HANDLERS
from portal.webhooks.models import WebhookEvent
from portal.webhooks.services import Outcome, receive_event
from tests import stripe_payloads as p
from tests.conftest import both_engines
from tests.factories import make_user
from tests.practices.conftest import make_practice
from tests.practices.test_mirror import subscribed
from tests.stripe_payloads import DAY, T0, deliver, make_event, payment_method
from tests.webhooks.test_replay import admin_client  # noqa: F401  (fixture)

#: The design's list ("Handle at least"); payment_intent.* belong to the shop.
DESIGN_TYPES = [
    "invoice.paid",
    "invoice.payment_succeeded",
    "invoice.payment_failed",
    "invoice.payment_action_required",
    "invoice.upcoming",
    "invoice.created",
    "invoice.finalized",
    "invoice.finalization_failed",
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "customer.subscription.paused",
    "customer.subscription.resumed",
    "customer.updated",
    "customer.deleted",
    "checkout.session.completed",
    "payment_method.attached",
    "payment_method.detached",
    "payment_method.updated",
]


@pytest.fixture
def owner(app):
    return make_user(name="Olive Owner", email="olive@example.com")


@pytest.fixture
def practice(owner):
    practice = make_practice(owner, name="Harbour Dental")
    subscribed(practice)
    return practice


def refreshed(practice) -> Practice:
    db.session.expire_all()
    return db.session.get(Practice, practice.id)


def test_every_design_event_type_has_a_handler(app):
    missing = [t for t in DESIGN_TYPES if t not in EVENT_HANDLERS]
    assert missing == []


@pytest.mark.parametrize("event_type", ["invoice.created", "invoice.finalized"])
def test_invoice_created_and_finalized_are_mirrored(client, practice, event_type):
    t = T0 + 30 * DAY
    inv = p.invoice(practice.id, practice.stripe_customer_id, id="in_cycle", status="open", created=t)
    assert deliver(client, p.event(event_type, inv, t)).json["outcome"] == "processed"
    row = db.session.scalar(sa.select(PracticeInvoice).where(PracticeInvoice.stripe_id == "in_cycle"))
    assert (row.status, row.amount_due, row.number) == ("open", 9900, "PB-0001")
    assert refreshed(practice).billing_status == BillingStatus.DONE  # an open invoice changes nothing yet


def test_a_draft_without_a_number_is_not_mirrored_yet(client, practice):
    t = T0 + 30 * DAY
    inv = p.invoice(
        practice.id, practice.stripe_customer_id, id="in_draft", status="draft", created=t, number=None
    )
    deliver(client, p.event("invoice.created", inv, t))
    assert (
        db.session.scalar(sa.select(PracticeInvoice).where(PracticeInvoice.stripe_id == "in_draft")) is None
    )


def test_finalization_failed_mirrors_audits_and_alerts_admins(client, practice, owner, mailbox, caplog):
    admin = make_user(email="ops@example.com", role=Role.ADMIN)
    t = T0 + 30 * DAY
    inv = p.invoice(
        practice.id, practice.stripe_customer_id, id="in_stuck", status="draft", created=t, number=None
    )
    inv["last_finalization_error"] = {
        "code": "customer_tax_location_invalid",
        "message": "Tax location invalid.",
    }
    event = p.event("invoice.finalization_failed", inv, t, id="evt_final_failed")
    assert deliver(client, event).json["outcome"] == "processed"
    assert deliver(client, event).json["outcome"] == "duplicate"

    row = db.session.scalar(sa.select(PracticeInvoice).where(PracticeInvoice.stripe_id == "in_stuck"))
    assert row is not None and row.status == "draft"
    assert (
        db.session.scalar(
            sa.select(BillingAuditEntry.detail).where(
                BillingAuditEntry.action == "invoice_finalization_failed"
            )
        )
        == "in_stuck: Tax location invalid."
    )
    assert "invoice finalization failed invoice=in_stuck" in caplog.text
    [alert] = [m for m in mailbox.to(admin.email) if "could not finalize" in m["Subject"]]
    assert "Harbour Dental" in alert.get_body(preferencelist=("plain",)).get_content()
    assert [m for m in mailbox.to(owner.email) if "could not finalize" in m["Subject"]] == []


def test_the_admin_dashboard_flags_a_finalization_failure(client, practice, admin_client):  # noqa: F811
    t = T0 + 30 * DAY
    inv = p.invoice(
        practice.id, practice.stripe_customer_id, id="in_stuck", status="draft", created=t, number=None
    )
    deliver(client, p.event("invoice.finalization_failed", inv, t))
    page = admin_client.get("/admin/").get_data(as_text=True)
    assert 'data-alert="invoice.finalization_failed"' in page and "in_stuck" in page


def test_paused_is_inactive_and_resumed_is_done(client, practice):
    paused = p.subscription(practice.id, practice.stripe_customer_id, status="paused")
    deliver(client, p.event("customer.subscription.paused", paused, T0 + DAY))
    assert refreshed(practice).billing_status == BillingStatus.INACTIVE
    resumed = p.subscription(practice.id, practice.stripe_customer_id, status="active")
    deliver(client, p.event("customer.subscription.resumed", resumed, T0 + 2 * DAY))
    practice = refreshed(practice)
    assert practice.billing_status == BillingStatus.DONE and practice.subscription_status == "active"


def test_a_late_paused_does_not_undo_resumed(client, practice):
    resumed = p.subscription(practice.id, practice.stripe_customer_id, status="active")
    deliver(client, p.event("customer.subscription.resumed", resumed, T0 + 2 * DAY))
    paused = p.subscription(practice.id, practice.stripe_customer_id, status="paused")
    deliver(client, p.event("customer.subscription.paused", paused, T0 + DAY))
    assert refreshed(practice).billing_status == BillingStatus.DONE


def test_payment_method_updated_changes_the_card(client):
    deliver(client, make_event("payment_method.attached", payment_method("pm_1", "cus_1"), created=100))
    updated = payment_method("pm_1", "cus_1", exp_month=12, exp_year=2034, last4="4242")
    assert deliver(client, make_event("payment_method.updated", updated, created=200)).status_code == 200
    card = db.session.scalar(sa.select(PaymentMethod))
    assert (card.exp_month, card.exp_year, card.stripe_synced_at) == (12, 2034, 200)


# --- subscription events in every order, each duplicated -----------------------------------

SUB = "sub_practice1"


def sub_event(practice, event_type: str, status: str, created: int, **fields) -> dict:
    sub = p.subscription(
        practice.id,
        practice.stripe_customer_id,
        id=SUB,
        status=status,
        period_start=T0,
        period_end=T0 + 30 * DAY,
        **fields,
    )
    return p.event(event_type, sub, created, id=f"evt_{event_type}_{status}_{created}")


def lifecycle(practice) -> list[dict]:
    return [
        sub_event(practice, "customer.subscription.created", "active", T0),
        sub_event(practice, "customer.subscription.updated", "active", T0 + 10, cancel_at_period_end=True),
        sub_event(practice, "customer.subscription.updated", "past_due", T0 + 20, cancel_at_period_end=True),
        sub_event(practice, "customer.subscription.deleted", "canceled", T0 + 30, cancel_at_period_end=True),
    ]


def practice_state(practice) -> tuple:
    practice = refreshed(practice)
    return (
        practice.billing_status,
        practice.subscription_status,
        practice.stripe_subscription_id,
        practice.cancel_at_period_end,
        practice.current_period_start,
        practice.current_period_end,
        practice.stripe_state_at,
    )


def reset_practice(practice) -> None:
    db.session.execute(sa.delete(WebhookEvent))
    db.session.execute(
        sa.update(Practice)
        .where(Practice.id == practice.id)
        .values(
            stripe_subscription_id=None,
            subscription_status=None,
            cancel_at_period_end=False,
            cancel_at=None,
            current_period_start=None,
            current_period_end=None,
            stripe_state_at=0,
            billing_status=BillingStatus.REQUIRED,
        )
    )
    db.session.commit()


def deliver_with_duplicates(events: list[dict]) -> None:
    for event in [*events, *reversed(events)]:
        assert receive_event(event, json.dumps(event)) in {Outcome.PROCESSED, Outcome.DUPLICATE}


def test_every_order_of_subscription_events_ends_in_stripes_state(app, owner):
    practice = make_practice(owner, name="Permuted Clinic")
    practice.onboarding_paid_at = to_datetime(T0)
    db.session.commit()
    events = lifecycle(practice)
    final = events[-1]["data"]["object"]  # what Stripe holds at the end
    expected = (
        BillingStatus.CANCELLED,
        final["status"],
        final["id"],
        final["cancel_at_period_end"],
        to_datetime(T0),
        to_datetime(T0 + 30 * DAY),
        T0 + 30,
    )
    for order in itertools.permutations(events):
        reset_practice(practice)
        deliver_with_duplicates(list(order))
        assert practice_state(practice) == expected, [e["id"] for e in order]


@both_engines
def test_subscription_events_reversed_and_concurrent_on_both_engines(app, owner):
    from tests.webhooks.test_concurrency import _deliver_all_at_once

    practice = make_practice(owner, name="Racing Clinic")
    practice.onboarding_paid_at = to_datetime(T0)
    db.session.commit()
    bodies = [json.dumps(e) for e in reversed(lifecycle(practice))] * 2
    responses = _deliver_all_at_once(app, bodies)
    assert all(r.status_code == 200 for r in responses), [r.get_data(as_text=True) for r in responses]
    state = practice_state(practice)
    assert state[:4] == (BillingStatus.CANCELLED, "canceled", SUB, True)


# --- admin: every practice with its billing status --------------------------------------------


def test_admin_lists_every_practice_with_its_status(practice, admin_client, owner):  # noqa: F811
    other = make_practice(owner, name="Quiet Clinic")
    index = admin_client.get("/admin/").get_data(as_text=True)
    assert 'href="/admin/practices"' in index
    page = admin_client.get("/admin/practices").get_data(as_text=True)
    assert "Harbour Dental" in page and "Quiet Clinic" in page
    assert f'id="practice-{practice.id}"' in page and 'data-billing-status="DONE"' in page
    assert 'data-billing-status="REQUIRED"' in page
    assert owner.email in page
    done_only = admin_client.get("/admin/practices?status=DONE").get_data(as_text=True)
    assert "Harbour Dental" in done_only and f'id="practice-{other.id}"' not in done_only


def test_practices_page_is_for_platform_admins_only(client, logged_in):
    assert logged_in.get("/admin/practices").status_code == 403


def test_practices_page_sends_anonymous_visitors_to_login(client):
    response = client.get("/admin/practices")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
