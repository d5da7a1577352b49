"""A platform admin closes a practice and reopens it (the admin practice page): the subscription
ends at Stripe now, what it left unpaid is voided, History and one email say so; Stripe down changes
nothing; twice is harmless; members see that it is closed and can take no billing action."""

from __future__ import annotations

import html
import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.mail.models import OutboundEmail
from portal.practices import checkout, closing, history, history_words, members, plans
from portal.practices.errors import PracticeError
from portal.practices.models import BillingAuditEntry, MemberRole, Plan, PracticeInvoice
from portal.practices.status import BillingStatus
from portal.users.models import Role
from stripe_sandbox.billing.common import DEFAULTS
from tests.conftest import both_engines, extract_csrf
from tests.factories import UserFactory
from tests.practices.conftest import add_member, login
from tests.practices.sandbox_helpers import Inbox, renew_on_card, save_card, subscribe_directly
from tests.reliability.live import Visitor, serve
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


def race(visitors: list[Visitor], path: str) -> list[str]:
    """Each admin posts ``path``'s form (as their page drew it) at the same moment; the flash each reads."""
    forms = [visitor.form(path.rsplit("/", 1)[0], path) for visitor in visitors]
    barrier = threading.Barrier(len(visitors), timeout=30)

    def post(visitor: Visitor, form: dict) -> str:
        form = {**form, "reason": "Contract ended", "confirm": "yes"}
        barrier.wait()
        response = visitor.post(path, form, htmx=False)
        assert response.status_code == 303, response.text
        page = visitor.get(response.headers["Location"]).text
        return re.search(r'class="flash flash-\w+"[^>]*>([^<]+)<', page).group(1)

    with ThreadPoolExecutor(len(visitors)) as pool:
        return sorted(pool.map(post, visitors, forms))


def lines_of(practice_id: int, action: str) -> list[str | None]:
    db.session.rollback()
    return list(
        db.session.scalars(
            sa.select(BillingAuditEntry.detail).where(
                BillingAuditEntry.practice_id == practice_id, BillingAuditEntry.action == action
            )
        )
    )


@both_engines
def test_two_admins_at_once_close_it_once_and_reopen_it_once(app, engine, sandbox, user_factory):
    """The second admin waits for the first (the practice's row is locked), then is told who did it;
    one Stripe cancellation, one History line each way, one email."""
    plans.bootstrap_plans()
    owner = user_factory(name="Olive Owner")
    practice = members.create_practice(owner, "Harbour Dental")
    inbox = Inbox(sandbox, practice.stripe_customer_id)
    save_card(sandbox, practice)
    subscribe_directly(sandbox, practice)
    inbox.deliver()
    assert practice.billing_status == BillingStatus.DONE
    admins = [user_factory(role=Role.ADMIN, name=name) for name in ("Ada Admin", "Bo Admin")]
    pid = practice.id
    page = f"/admin/practices/{pid}"
    with serve(app) as base:
        visitors = [Visitor(base, admin.email) for admin in admins]
        with app.extensions["stripe_call_counter"].watch() as calls:
            closed = race(visitors, f"{page}/deactivate")
        assert closed[1].startswith("The practice is closed"), closed
        assert re.fullmatch(
            r"Harbour Dental is already closed by (Ada|Bo) Admin\. Nothing was changed\.", closed[0]
        )
        assert calls.count("subscription.cancel") == 1
        assert len(lines_of(pid, "practice_deactivated")) == 1 and len(ended_emails()) == 1

        reopened = race(visitors, f"{page}/reactivate")
        assert reopened[1].startswith("The practice is open again"), reopened
        assert re.fullmatch(
            r"Harbour Dental is already open by (Ada|Bo) Admin\. Nothing was changed\.", reopened[0]
        )
        assert len(lines_of(pid, "practice_reactivated")) == 1
        assert lines_of(pid, "status_changed").count("INACTIVE → CANCELLED") == 1


def test_stripe_saying_it_is_already_canceled_counts_as_ended(sandbox, auth, admin, active, owner, mailbox):
    """The subscription ended at Stripe before its events arrived: closing still closes."""
    sandbox.client().v1.subscriptions.cancel(active.stripe_subscription_id)
    page = close_through_the_page(auth, admin, active, reason="Sold to another group")
    assert "The practice is closed" in page
    db.session.refresh(active)
    assert active.deactivated and active.billing_status == BillingStatus.INACTIVE
    assert len(ended_emails()) == 1


def test_the_reason_reaches_the_managers(auth, admin, active, owner, mailbox):
    reason = "The platform contract ended on 30 November"  # no full stop: the sentence still ends
    close_through_the_page(auth, admin, active, reason=reason)
    text = body_text(mailbox.wait_for(owner.email, "the subscription has ended"))
    assert f"The practice was closed by the platform. The reason given: “{reason}”." in text
    page = login(auth, owner).get(f"/practices/{active.id}/billing").get_data(as_text=True)
    banner = page.split('data-banner="closed"', 1)[1].split("</div>", 1)[0]
    assert f"The reason given: “{reason}”." in banner
    notice = page.split('data-closed="1"', 1)[1].split("</p>", 1)[0]
    assert f"The reason given: “{reason}”.</span> To reopen it" in notice


def test_a_reason_over_400_characters_is_refused_as_typed(auth, admin, active):
    typed = "Contract ended. " * 26  # 416 characters
    client = login(auth, admin)
    token = extract_csrf(client.get(f"/admin/practices/{active.id}").get_data(as_text=True))
    form = {"csrf_token": token, "reason": typed, "confirm": "yes"}
    response = client.post(f"/admin/practices/{active.id}/deactivate", data=form)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    errors = page.split('id="close-reason-errors"', 1)[1].split("</ul>", 1)[0]
    assert "Keep the reason to 400 characters (it has 415); nothing was changed." in errors
    assert f">{typed}</textarea>" in page and 'aria-invalid="true"' in page
    db.session.refresh(active)
    assert not active.deactivated and active.billing_status == BillingStatus.DONE

    form["reason"] = "x" * 400  # the most: kept whole
    client.post(f"/admin/practices/{active.id}/deactivate", data=form)
    db.session.refresh(active)
    assert active.deactivated and active.closed_reason == "x" * 400


def test_closing_after_stripe_gave_up_leaves_nothing_to_pay(sandbox, auth, admin, active, inbox, owner):
    """Stripe gave up (the invoice marked uncollectible by the portal), then the platform closes it:
    no Pay button, no "still open" notice beside "its billing cannot be changed here"."""
    renew_on_card(sandbox, inbox, active, owner)
    sandbox.advance(days=30)  # every retry failed: Stripe cancels the subscription
    inbox.deliver()
    assert active.billing_status == BillingStatus.CANCELLED
    close_through_the_page(auth, admin, active)
    inbox.deliver()
    page = login(auth, owner).get(f"/practices/{active.id}/billing").get_data(as_text=True)
    assert 'data-closed="1"' in page and "data-open-invoices" not in page
    assert 'name="invoice"' not in page and "Pay each under Invoices" not in page
    assert 'data-invoice-status="open"' not in page


def test_closed_again_without_a_subscription_says_no_email_went(sandbox, auth, admin, active, mailbox):
    """Closed, reopened, closed again: the second close ends nothing, so the admin is not told the
    managers were emailed; the managers' pages carry the new reason."""
    practice = active
    assert "its managers were emailed" in close_through_the_page(auth, admin, practice, "Owner asked")
    closing.reactivate(practice.id, admin)
    page = close_through_the_page(auth, admin, practice, reason="Closed after review")
    assert html.unescape(closing.CLOSED_WITHOUT_SUBSCRIPTION) in html.unescape(page)
    assert "its managers were emailed" not in page
    assert len(ended_emails()) == 1
    db.session.refresh(practice)
    assert practice.deactivated and practice.closed_reason == "Closed after review"
