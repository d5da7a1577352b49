"""Each billing email goes out once per event, through a real SMTP server, whatever Stripe repeats.

The emails are queued in the handler's transaction and sent after its commit
(``portal.mail.outbox``): a second delivery, eight concurrent ones, a handler
that dies and is retried, or an admin's forced replay never send a second one.
"""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.mail.models import OutboundEmail
from portal.practices.models import MemberRole, Plan
from portal.webhooks.handlers import EVENT_HANDLERS
from portal.webhooks.services import Outcome, receive_event, replay_event
from tests import stripe_payloads as p
from tests.conftest import both_engines
from tests.factories import PracticeMemberFactory, make_user
from tests.practices.conftest import make_practice
from tests.practices.test_mirror import subscribed
from tests.smtp import body_text
from tests.stripe_payloads import DAY, T0, deliver
from tests.webhooks.test_concurrency import _deliver_all_at_once


@pytest.fixture
def owner(app):
    return make_user(name="Olive Owner", email="olive@example.com")


@pytest.fixture
def practice(owner):
    practice = make_practice(owner, name="Harbour Dental")
    subscribed(practice)
    return practice


def payment_failed(practice) -> dict:
    t = T0 + 30 * DAY
    inv = p.with_payment_error(
        p.invoice(practice.id, practice.stripe_customer_id, id="in_renew", status="open", created=t)
    )
    return p.event("invoice.payment_failed", inv, t, id="evt_payment_failed")


def action_required(practice) -> dict:
    t = T0 + 30 * DAY
    inv = p.invoice(practice.id, practice.stripe_customer_id, id="in_sca", status="open", created=t)
    return p.event("invoice.payment_action_required", inv, t, id="evt_action_required")


def upcoming(practice) -> dict:
    t = T0 + 27 * DAY
    inv = p.invoice(practice.id, practice.stripe_customer_id, id=None, status="draft", created=t, number=None)
    inv.update(id=None, next_payment_attempt=T0 + 30 * DAY, amount_due=9900)
    return p.event("invoice.upcoming", inv, t, id="evt_upcoming")


def cancellation_scheduled(practice) -> dict:
    sub = p.subscription(practice.id, practice.stripe_customer_id, cancel_at_period_end=True)
    return p.event("customer.subscription.updated", sub, T0 + DAY, id="evt_cancel_scheduled")


EMAILS = {
    "payment failed": (payment_failed, "a payment failed", "insufficient funds", "update the practice"),
    "action required": (
        action_required,
        "please confirm a payment",
        "/invoices/in_sca/authenticate",
        "/invoices/in_sca/authenticate",
    ),
    "renewal reminder": (upcoming, "renews on", "$99.00", "billing page"),
    "cancellation scheduled": (cancellation_scheduled, "subscription ends on", "keeps its access", "Resume"),
}


def emails_to(mailbox, address: str, subject: str) -> list:
    return [m for m in mailbox.to(address) if subject in m["Subject"]]


def assert_one_email(mailbox, address: str, subject: str, text: str, html: str):
    [message] = emails_to(mailbox, address, subject)
    assert text in body_text(message)
    html_part = message.get_body(preferencelist=("html",))
    assert html_part is not None and html_part.get_content_type() == "text/html"
    assert html in html_part.get_content()
    return message


@pytest.mark.parametrize("kind", EMAILS)
def test_each_email_once_when_delivered_twice(client, practice, owner, mailbox, kind):
    make_event, subject, text, html = EMAILS[kind]
    event = make_event(practice)
    assert deliver(client, event).status_code == 200
    assert deliver(client, event).json["outcome"] == "duplicate"
    assert_one_email(mailbox, owner.email, subject, text, html)


@both_engines
@pytest.mark.parametrize("kind", EMAILS)
def test_each_email_once_under_eight_concurrent_deliveries(app, practice, owner, mailbox, kind):
    make_event, subject, text, html = EMAILS[kind]
    responses = _deliver_all_at_once(app, [json.dumps(make_event(practice))] * 8)
    assert sorted(r.json["outcome"] for r in responses) == ["duplicate"] * 7 + ["processed"]
    assert_one_email(mailbox, owner.email, subject, text, html)


def test_every_billing_manager_gets_one_and_members_none(client, practice, owner, mailbox):
    admin = make_user(email="adele@example.com")
    member = make_user(email="mo@example.com")
    PracticeMemberFactory(practice=practice, user=admin, role=MemberRole.ADMIN)
    PracticeMemberFactory(practice=practice, user=member, role=MemberRole.MEMBER)
    event = payment_failed(practice)
    deliver(client, event)
    deliver(client, event)
    assert len(emails_to(mailbox, owner.email, "a payment failed")) == 1
    assert len(emails_to(mailbox, admin.email, "a payment failed")) == 1
    assert emails_to(mailbox, member.email, "a payment failed") == []


def test_renewal_reminder_for_the_six_month_plan(client, owner, mailbox):
    practice = make_practice(owner, name="Six Monthly Clinic")
    sub = p.subscription(
        practice.id, practice.stripe_customer_id, lookup_key="plan_semiannual", interval_count=6
    )
    first = p.invoice(
        practice.id, practice.stripe_customer_id, id="in_first6", billing_reason="subscription_create"
    )
    from portal.practices.checkout_mirror import fulfil_checkout_session

    fulfil_checkout_session(
        p.checkout_session(practice.id, practice.stripe_customer_id, subscription=sub, invoice=first), T0
    )
    db.session.commit()
    assert practice.plan == Plan.SEMIANNUAL
    event = upcoming(practice)
    event["data"]["object"]["amount_due"] = 49900
    deliver(client, event)
    deliver(client, event)
    message = assert_one_email(mailbox, owner.email, "renews on", "$499.00", "billing page")
    assert "Every 6 months" in body_text(message)


def test_no_reminder_when_the_subscription_is_set_to_end(client, practice, owner, mailbox):
    deliver(client, cancellation_scheduled(practice))
    mailbox.clear()
    assert deliver(client, upcoming(practice)).json["outcome"] == "processed"
    assert emails_to(mailbox, owner.email, "renews on") == []


def test_a_handler_that_dies_after_queueing_sends_nothing_until_the_retry_succeeds(
    client, practice, owner, mailbox, monkeypatch
):
    """Send-before-commit would email on every failed attempt; the outbox sends once, on success."""
    original = EVENT_HANDLERS["invoice.payment_failed"]
    crash = {"on": True}

    def dies_after_queueing(event: dict) -> None:
        original(event)  # the email is queued in the transaction ...
        db.session.flush()
        if crash["on"]:
            raise RuntimeError("worker killed before the commit")  # ... which never commits

    monkeypatch.setitem(EVENT_HANDLERS, "invoice.payment_failed", dies_after_queueing)
    event = payment_failed(practice)
    assert deliver(client, event).status_code == 500
    assert deliver(client, event).status_code == 500
    assert emails_to(mailbox, owner.email, "a payment failed") == []
    billing_rows = (
        sa.select(sa.func.count()).select_from(OutboundEmail).filter_by(template="practice_payment_failed")
    )
    assert db.session.scalar(billing_rows) == 0

    crash["on"] = False
    assert deliver(client, event).json["outcome"] == "processed"
    assert len(emails_to(mailbox, owner.email, "a payment failed")) == 1

    assert replay_event(event["id"], force=True) is Outcome.PROCESSED  # an admin re-runs it anyway
    assert len(emails_to(mailbox, owner.email, "a payment failed")) == 1


def test_smtp_down_at_commit_keeps_the_email_for_send_emails(
    app, practice, owner, mailbox, runner, monkeypatch
):
    """Commit done, send failed: the row stays unsent; ``flask billing send-emails`` sends it once."""
    state = app.extensions["mail"]
    good_port = state.port
    monkeypatch.setattr(state, "port", 1)  # nothing listens there: connection refused
    event = payment_failed(practice)
    assert receive_event(event, json.dumps(event)) is Outcome.PROCESSED
    assert emails_to(mailbox, owner.email, "a payment failed") == []
    row = db.session.scalar(sa.select(OutboundEmail).filter_by(template="practice_payment_failed"))
    assert row.sent_at is None and row.attempts == 1 and row.last_error

    monkeypatch.setattr(state, "port", good_port)
    result = runner.invoke(args=["billing", "send-emails"])
    assert result.exit_code == 0, result.output
    assert "sent 1" in result.output and "unsent 0" in result.output
    assert len(emails_to(mailbox, owner.email, "a payment failed")) == 1
    again = runner.invoke(args=["billing", "send-emails"])
    assert "sent 0" in again.output
    assert len(emails_to(mailbox, owner.email, "a payment failed")) == 1
