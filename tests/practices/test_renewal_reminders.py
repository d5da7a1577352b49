"""Issue 15: renewal reminders that make sense.

A reminder goes only to a subscription that will renew as it stands (not past due, unpaid,
awaiting its first payment, set to end, or deactivated), never within an hour of a payment
failure on Stripe's clock, and its day is the day the billing page shows, on Stripe's clock.
"""

from __future__ import annotations

import pytest

from portal.extensions import db
from portal.formatting import format_date
from portal.practices import members, subscriptions
from portal.practices.history_words import describe
from portal.practices.models import BillingAuditEntry
from tests import stripe_payloads as p
from tests.practices.conftest import login, make_practice
from tests.practices.sandbox_helpers import Inbox, save_card, subscribe_directly
from tests.practices.test_mirror import subscribed
from tests.smtp import body_text
from tests.stripe_payloads import DAY, T0

REMINDER = "renews on"
HOUR = 3600


def reminders(mailbox, address: str) -> list:
    return [m for m in mailbox.to(address) if REMINDER in str(m["Subject"])]


def send(app, client, event: dict) -> None:
    response = p.deliver(client, event, secret=p.current_secret(app))
    assert response.status_code == 200 and response.json["outcome"] == "processed", response.json


def upcoming(practice, created: int, charges_at: int, event_id: str) -> dict:
    inv = p.invoice(
        practice.id, practice.stripe_customer_id, id=None, status="draft", created=created, number=None
    )
    inv.update(id=None, next_payment_attempt=charges_at, amount_due=9900)
    return p.event("invoice.upcoming", inv, created, id=event_id)


def renewal_failed(practice, at: int) -> dict:
    inv = p.with_payment_error(
        p.invoice(practice.id, practice.stripe_customer_id, id="in_renewal", status="open", created=at)
    )
    return p.event("invoice.payment_failed", inv, at, id=f"evt_failed_{at}")


def renewal_paid(practice, at: int) -> dict:
    inv = p.invoice(practice.id, practice.stripe_customer_id, id="in_renewal", status="paid", created=at)
    return p.event("invoice.paid", inv, at, id=f"evt_paid_{at}")


@pytest.fixture
def practice(owner):
    practice = make_practice(owner, name="Reminder Clinic", customer_id="cus_reminders")
    subscribed(practice)
    return practice


def test_an_active_subscription_is_reminded_of_the_day_its_billing_page_shows(
    app, sandbox, owner, runner, auth, mailbox
):
    """Through the sandbox, its clock a month ahead: the email's day is Stripe's, as the page says it."""
    assert runner.invoke(args=["billing", "bootstrap"]).exit_code == 0
    practice = members.create_practice(owner, "Clockwise Clinic")
    inbox = Inbox(sandbox, practice.stripe_customer_id)
    save_card(sandbox, practice)
    subscribe_directly(sandbox, practice)
    inbox.deliver()
    sandbox.advance(days=28)
    assert "invoice.upcoming" in inbox.deliver()
    day = format_date(practice.current_period_end)
    [message] = reminders(mailbox, owner.email)
    assert str(message["Subject"]) == f"Clockwise Clinic: your subscription renews on {day}"
    assert f"renews on {day}" in body_text(message)
    page = login(auth, owner).get(f"/practices/{practice.id}/billing").get_data(as_text=True)
    assert day in page and "Next renewal" in page
    line = (
        db.session.query(BillingAuditEntry)
        .filter_by(practice_id=practice.id, action="renewal_reminder")
        .one()
    )
    assert describe(line.action, line.detail, None).sentence == f"Renewal reminder sent: renews on {day}"


@pytest.mark.parametrize(
    "state",
    [
        {"subscription_status": "past_due"},
        {"subscription_status": "unpaid"},
        {"subscription_status": "incomplete"},
        {"cancel_at_period_end": True},
        {"deactivated": True},
    ],
    ids=lambda state: "-".join(f"{k}={v}" for k, v in state.items()),
)
def test_no_reminder_for_a_period_that_will_not_renew_as_it_stands(
    app, client, practice, owner, mailbox, state
):
    for field, value in state.items():
        setattr(practice, field, value)
    db.session.commit()
    send(app, client, upcoming(practice, T0 + 27 * DAY, T0 + 30 * DAY, "evt_upcoming_state"))
    assert reminders(mailbox, owner.email) == []


@pytest.mark.parametrize("resumes_after", [None, 40 * DAY], ids=["no-resume-day", "resumes-after-it"])
def test_no_reminder_while_collection_is_paused(app, client, practice, owner, mailbox, resumes_after):
    """A paused practice is not charged: no "your card will be charged" email (F10)."""
    from portal.practices.mirror import to_datetime

    practice.pause_behavior = "void"
    practice.pause_resumes_at = to_datetime(T0 + resumes_after) if resumes_after else None
    db.session.commit()
    send(app, client, upcoming(practice, T0 + 27 * DAY, T0 + 30 * DAY, "evt_upcoming_paused"))
    assert reminders(mailbox, owner.email) == []


def test_a_reminder_for_a_renewal_after_the_pause_ends(app, client, practice, owner, mailbox):
    from portal.practices.mirror import to_datetime

    practice.pause_behavior = "void"
    practice.pause_resumes_at = to_datetime(T0 + 20 * DAY)
    db.session.commit()
    send(app, client, upcoming(practice, T0 + 27 * DAY, T0 + 30 * DAY, "evt_upcoming_resumed"))
    assert len(reminders(mailbox, owner.email)) == 1


def test_a_renewal_that_failed_gets_no_reminder_and_an_ending_one_neither(
    app, client, practice, owner, mailbox
):
    """Stripe's own events: a failed renewal leaves the practice past due; a subscription set to
    end on a day (``cancel_at``) renews no more; resumed, it is reminded again."""
    send(app, client, renewal_failed(practice, T0 + 30 * DAY))
    send(app, client, upcoming(practice, T0 + 57 * DAY, T0 + 60 * DAY, "evt_upcoming_past_due"))
    assert reminders(mailbox, owner.email) == []

    send(app, client, renewal_paid(practice, T0 + 31 * DAY))
    ending = p.subscription(practice.id, practice.stripe_customer_id, cancel_at=T0 + 60 * DAY)
    send(app, client, p.event("customer.subscription.updated", ending, T0 + 32 * DAY, id="evt_ending"))
    send(app, client, upcoming(practice, T0 + 57 * DAY, T0 + 60 * DAY, "evt_upcoming_ending"))
    assert reminders(mailbox, owner.email) == []

    resumed = p.subscription(practice.id, practice.stripe_customer_id)
    send(app, client, p.event("customer.subscription.updated", resumed, T0 + 33 * DAY, id="evt_resumed"))
    send(app, client, upcoming(practice, T0 + 57 * DAY + 60, T0 + 60 * DAY, "evt_upcoming_renews"))
    [message] = reminders(mailbox, owner.email)
    assert f"renews on {format_date(T0 + 60 * DAY)}" in str(message["Subject"])


def test_a_reminder_never_lands_within_the_hour_of_a_payment_failure(app, client, practice, owner, mailbox):
    """A renewal declined, then paid a minute later (a new card, Pay now): a reminder dated in the
    same minute, or the same hour, yields; one an hour and more later goes out."""
    failed_at = T0 + 30 * DAY
    send(app, client, renewal_failed(practice, failed_at))
    send(app, client, renewal_paid(practice, failed_at + 60))
    assert practice.subscription_status == "active" and practice.last_payment_error is None
    assert len([m for m in mailbox.to(owner.email) if "a payment failed" in str(m["Subject"])]) == 1

    for offset in (0, 30, HOUR - 1):  # the failure's minute, and its hour (either side)
        send(app, client, upcoming(practice, failed_at + offset, T0 + 33 * DAY, f"evt_upcoming_{offset}"))
    send(app, client, upcoming(practice, failed_at - 600, T0 + 33 * DAY, "evt_upcoming_before"))
    assert reminders(mailbox, owner.email) == []

    send(app, client, upcoming(practice, failed_at + HOUR + 60, T0 + 33 * DAY, "evt_upcoming_later"))
    assert len(reminders(mailbox, owner.email)) == 1


def test_a_plan_that_renews_after_a_scheduled_cancellation_was_withdrawn_is_reminded(
    sandbox, owner, runner, mailbox
):
    """Cancel at period end, then resume: the sandbox sends ``invoice.upcoming`` again and the
    reminder goes out (the guard is about the subscription as it stands when the event comes)."""
    assert runner.invoke(args=["billing", "bootstrap"]).exit_code == 0
    practice = members.create_practice(owner, "Second Thoughts Clinic")
    inbox = Inbox(sandbox, practice.stripe_customer_id)
    save_card(sandbox, practice)
    subscribe_directly(sandbox, practice)
    inbox.deliver()
    subscriptions.cancel_subscription(practice, "Trying another system", owner)
    inbox.deliver()
    subscriptions.resume_subscription(practice, owner)
    inbox.deliver()
    sandbox.advance(days=28)
    inbox.deliver()
    assert len(reminders(mailbox, owner.email)) == 1
