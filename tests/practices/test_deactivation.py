"""A platform admin closes a practice and reopens it (the admin practice page): the subscription
ends at Stripe now, what it left unpaid is voided, History and one email say so; Stripe down changes
nothing; twice is harmless; members see that it is closed and can take no billing action."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.mail.models import OutboundEmail
from portal.practices import checkout, closing, history, history_words, members
from portal.practices.errors import PracticeError
from portal.practices.models import MemberRole, Plan, PracticeInvoice
from portal.practices.status import BillingStatus
from portal.users.models import Role
from stripe_sandbox.billing.common import DEFAULTS
from tests.conftest import extract_csrf
from tests.factories import UserFactory
from tests.practices.conftest import add_member, login
from tests.practices.sandbox_helpers import renew_on_card
from tests.smtp import body_text


@pytest.fixture
def practice(owner, plans):
    return members.create_practice(owner, "Harbour Dental")


@pytest.fixture
def admin():
    return UserFactory(role=Role.ADMIN, name="Ada Admin")


def close_through_the_page(auth, admin, practice, reason="Practice sold", confirm="yes"):
    client = login(auth, admin)
    token = extract_csrf(client.get(f"/admin/practices/{practice.id}").get_data(as_text=True))
    form = {"csrf_token": token, "reason": reason, "confirm": confirm}
    page = client.post(f"/admin/practices/{practice.id}/deactivate", data=form, follow_redirects=True)
    auth.logout()
    return page.get_data(as_text=True)


def ended_emails() -> list[OutboundEmail]:
    return list(
        db.session.scalars(
            sa.select(OutboundEmail).where(OutboundEmail.template == "practice_subscription_ended")
        )
    )


def test_closing_ends_the_subscription_at_stripe_and_says_so(sandbox, auth, admin, active, owner, mailbox):
    practice = active
    subscription_id = practice.stripe_subscription_id
    page = close_through_the_page(auth, admin, practice)
    assert "The practice is closed" in page and "Reopen the practice" in page

    db.session.refresh(practice)
    assert practice.deactivated and practice.billing_status == BillingStatus.INACTIVE
    assert not practice.has_access
    assert sandbox.client().v1.subscriptions.retrieve(subscription_id).status == "canceled"
    text = body_text(mailbox.wait_for(owner.email, "the subscription has ended"))
    assert "The practice was closed by the platform." in text and "/billing" not in text
    sentences = [w.sentence for _, w in history_words.describe_all(history.audit_page(practice, 1).items)]
    assert "Closed by platform admin Ada Admin: Practice sold" in sentences
    assert len(ended_emails()) == 1


def test_the_invoice_left_unpaid_is_voided_and_says_why(sandbox, auth, admin, active, inbox, owner):
    sandbox.settings(after_failures="past_due")  # Stripe keeps retrying: the invoice stays open
    try:
        renew_on_card(sandbox, inbox, active, owner)
    finally:
        sandbox.settings(**DEFAULTS)
    assert active.billing_status == BillingStatus.PAST_DUE
    close_through_the_page(auth, admin, active)
    inbox.deliver()  # Stripe's own account of it changes nothing more
    renewal = db.session.scalar(
        sa.select(PracticeInvoice)
        .where(PracticeInvoice.practice_id == active.id)
        .where(PracticeInvoice.billing_reason == "subscription_cycle")
        .limit(1)
    )
    assert renewal.status == "void"
    page = login(auth, owner).get(f"/practices/{active.id}/billing").get_data(as_text=True)
    assert "Voided when the platform closed the practice: nothing is owed." in page
    assert len(ended_emails()) == 1


def test_stripe_down_changes_nothing(sandbox, auth, admin, active):
    practice = active
    with sandbox.outage():
        page = close_through_the_page(auth, admin, practice)
    assert "Stripe did not end the subscription, so the practice is still open and nothing changed." in page
    db.session.refresh(practice)
    assert not practice.deactivated and practice.billing_status == BillingStatus.DONE
    assert ended_emails() == []


def test_a_reason_and_the_confirmation_are_needed(auth, admin, practice):
    page = close_through_the_page(auth, admin, practice, confirm="")
    assert "Tick the box to confirm" in page
    page = close_through_the_page(auth, admin, practice, reason="  ")
    assert "Say why the practice is closed" in page
    db.session.refresh(practice)
    assert not practice.deactivated


def test_twice_is_harmless(sandbox, auth, admin, active):
    close_through_the_page(auth, admin, active)
    page = close_through_the_page(auth, admin, active)
    assert "Harbour Dental is already closed by Ada Admin. Nothing was changed." in page
    closed_lines = [e for e in history.audit_page(active, 1, 100).items if e.action == "practice_deactivated"]
    assert len(closed_lines) == 1 and len(ended_emails()) == 1


def test_members_see_it_closed_and_can_take_no_billing_action(auth, admin, active, owner):
    member = UserFactory()
    add_member(active, member, MemberRole.MEMBER)
    closing.deactivate(active.id, admin, "Unpaid platform contract")
    page = login(auth, member).get(f"/practices/{active.id}/billing").get_data(as_text=True)
    assert 'data-banner="closed"' in page and "ask the practice's owner to contact the platform" in page
    auth.logout()
    page = login(auth, owner).get(f"/practices/{active.id}/billing").get_data(as_text=True)
    assert "This practice was closed by the platform" in page and "billing@localhost" in page
    assert "Continue to payment" not in page
    token = extract_csrf(page)
    refused = auth.client.post(
        f"/practices/{active.id}/billing/subscribe", data={"csrf_token": token, "plan": "monthly"}
    )
    assert refused.status_code == 303
    followed = auth.client.get(refused.headers["Location"]).get_data(as_text=True)
    assert "closed by the platform, so its billing cannot be changed" in followed


def test_reopened_it_subscribes_again_without_a_second_fee(sandbox, app, auth, admin, active, owner):
    closing.deactivate(active.id, admin, "Paused contract")
    with pytest.raises(PracticeError), app.test_request_context():
        checkout.start_checkout(active, Plan.MONTHLY, owner)
    client = login(auth, admin)
    token = extract_csrf(client.get(f"/admin/practices/{active.id}").get_data(as_text=True))
    page = client.post(
        f"/admin/practices/{active.id}/reactivate", data={"csrf_token": token}, follow_redirects=True
    ).get_data(as_text=True)
    assert "The practice is open again" in page
    db.session.refresh(active)
    assert not active.deactivated and active.billing_status == BillingStatus.CANCELLED
    with app.test_request_context():
        checkout.start_checkout(active, Plan.MONTHLY, owner)
    session = sandbox.client().v1.checkout.sessions.list({"customer": active.stripe_customer_id}).data[0]
    items = sandbox.client().v1.checkout.sessions.line_items.list(session.id).data
    assert [item.price.lookup_key for item in items] == ["plan_monthly"]
    sentences = [w.sentence for _, w in history_words.describe_all(history.audit_page(active, 1).items)]
    assert "Reopened by platform admin Ada Admin" in sentences
