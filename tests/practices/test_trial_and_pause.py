"""Free trials and paused payment collection, through the Stripe sandbox: the first Checkout's trial
(the fee now, the plan at the trial's end, one email three days before), no second trial, and a
platform admin pausing and resuming collection (renewals voided, access kept, History says who)."""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.mail.models import OutboundEmail
from portal.practices import checkout, history, history_words, members, pausing, plans
from portal.practices.errors import PracticeError
from portal.practices.models import BillingAuditEntry, Plan, Practice, PracticeInvoice
from portal.practices.status import BillingStatus
from portal.users.models import Role
from portal.webhooks.handlers import subscription as handlers
from tests.conftest import extract_csrf
from tests.factories import UserFactory
from tests.practices.conftest import login
from tests.practices.sandbox_helpers import Inbox, page_day, save_card, subscribe_directly
from tests.practices.test_views import HX, pay_checkout

TRIAL_DAYS = 14


@pytest.fixture
def app_overrides() -> dict:
    return {"PLAN_TRIAL_DAYS_MONTHLY": TRIAL_DAYS}


@pytest.fixture
def practice(owner, plans):
    return members.create_practice(owner, "Harbour Dental")


@pytest.fixture
def admin():
    return UserFactory(role=Role.ADMIN, name="Ada Admin")


def trial_emails() -> list[OutboundEmail]:
    query = sa.select(OutboundEmail).where(OutboundEmail.template == "practice_trial_ending")
    return list(db.session.scalars(query))


def history_sentences(practice: Practice) -> list[str]:
    entries = history.audit_page(practice, 1, per_page=50).items
    return [words.sentence for _, words in history_words.describe_all(entries)]


def subscribe_with_trial(practice: Practice, owner) -> Practice:
    url = checkout.start_checkout(practice, Plan.MONTHLY, owner)
    session_id = pay_checkout(url).split("session_id=")[1]
    return checkout.complete_checkout(practice, session_id)


def test_the_first_subscription_has_a_trial_the_fee_is_paid_now_the_plan_at_its_end(
    sandbox, practice, owner, owner_client
):
    offer = owner_client.get(f"/practices/{practice.id}/billing").get_data(as_text=True)
    assert f"the first {TRIAL_DAYS} days free" in offer
    inbox = Inbox(sandbox, practice.stripe_customer_id)
    subscribe_with_trial(practice, owner)
    inbox.deliver()
    db.session.refresh(practice)
    assert practice.subscription_status == "trialing"
    assert practice.billing_status == BillingStatus.DONE and practice.has_access
    assert practice.onboarding_paid_at is not None
    assert practice.trial_end == practice.current_period_end
    sub = sandbox.client().v1.subscriptions.retrieve(practice.stripe_subscription_id)
    assert sub.trial_end - sub.trial_start == TRIAL_DAYS * 86_400
    first = db.session.scalar(sa.select(PracticeInvoice).where(PracticeInvoice.practice_id == practice.id))
    assert first.status == "paid" and first.amount_paid == 49900  # the fee only

    page = owner_client.get(f"/practices/{practice.id}/billing").get_data(as_text=True)
    assert f"Trial until {page_day(practice, practice.trial_end)}, then $99.00 every month" in page

    # Three days before the end: one email to the billing managers, whatever is delivered twice.
    sandbox.advance(days=TRIAL_DAYS - 3, seconds=60)
    inbox.deliver()
    notice = [
        e
        for e in sandbox.events("customer.subscription.trial_will_end")
        if e["data"]["object"]["id"] == sub.id
    ]
    assert len(notice) == 1
    handlers.trial_will_end(notice[0])  # a duplicate delivery
    db.session.commit()
    emails = trial_emails()
    assert [e.recipient for e in emails] == [owner.email]
    assert f"ends on {page_day(practice, practice.trial_end)}" in emails[0].text_body  # the practice's day
    assert "$99.00 every month" in emails[0].text_body
    assert sum("Trial ending notice sent" in s for s in history_sentences(practice)) == 1

    # The trial ends: active, the plan charged.
    sandbox.advance(days=3, seconds=2 * 3600)
    inbox.deliver()
    db.session.refresh(practice)
    assert practice.subscription_status == "active" and practice.billing_status == BillingStatus.DONE
    invoices = db.session.scalars(
        sa.select(PracticeInvoice).where(
            PracticeInvoice.practice_id == practice.id, PracticeInvoice.status == "paid"
        )
    ).all()
    assert sorted(i.amount_paid for i in invoices) == [9900, 49900]
    page = owner_client.get(f"/practices/{practice.id}/billing").get_data(as_text=True)
    assert "Trial until" not in page and "Next renewal" in page


def test_a_practice_that_had_a_subscription_gets_no_second_trial(practice):
    assert plans.trial_days(Plan.MONTHLY, practice) == TRIAL_DAYS
    assert plans.trial_days(Plan.SEMIANNUAL, practice) == 0  # no days set for that plan
    practice.stripe_subscription_id = "sub_old"
    practice.subscription_status = "canceled"
    assert plans.trial_days(Plan.MONTHLY, practice) == 0


@pytest.fixture
def active(sandbox, practice):
    inbox = Inbox(sandbox, practice.stripe_customer_id)
    save_card(sandbox, practice)
    subscribe_directly(sandbox, practice)
    inbox.deliver()
    practice.inbox = inbox
    assert practice.billing_status == BillingStatus.DONE
    return practice


def test_paused_collection_voids_renewals_and_keeps_access(sandbox, auth, active, admin, owner):
    practice = active
    said = pausing.pause_collection(practice.id, admin, "Clinic flooded; free until repaired")
    assert said == pausing.PAUSED
    sub = sandbox.client().v1.subscriptions.retrieve(practice.stripe_subscription_id)
    assert sub.pause_collection.behavior == "void" and sub.status == "active"
    active.inbox.deliver()  # Stripe's echo: nothing more
    practice = db.session.get(Practice, practice.id)
    assert (
        practice.collection_paused and practice.billing_status == BillingStatus.DONE and practice.has_access
    )

    inbox = active.inbox
    sandbox.advance(days=32, seconds=2 * 3600)
    inbox.deliver()
    db.session.refresh(practice)
    renewal = db.session.scalar(
        sa.select(PracticeInvoice)
        .where(PracticeInvoice.practice_id == practice.id)
        .order_by(PracticeInvoice.created.desc(), PracticeInvoice.id.desc())
        .limit(1)
    )
    assert renewal.status == "void" and renewal.amount_paid == 0
    assert practice.billing_status == BillingStatus.DONE and practice.has_access
    assert practice.last_payment_error is None
    client = login(auth, owner)
    page = client.get(f"/practices/{practice.id}/billing").get_data(as_text=True)
    assert "Voided: payment collection was paused by the platform, so nothing is owed." in page
    auth.logout()

    assert pausing.resume_collection(practice.id, admin) == pausing.RESUMED
    sub = sandbox.client().v1.subscriptions.retrieve(practice.stripe_subscription_id)
    assert sub.pause_collection is None
    sentences = history_sentences(db.session.get(Practice, practice.id))
    assert any(
        "Payment collection paused by platform admin Ada Admin" in s and "flooded" in s for s in sentences
    )
    assert any("Payment collection resumed by platform admin Ada Admin" in s for s in sentences)
    assert not any(s.startswith("Payment collection paused at Stripe") for s in sentences)  # said once


def test_a_resume_day_is_kept_and_stripe_resumes_by_itself(sandbox, active, admin):
    practice = active
    stripe_today = dt.datetime.fromtimestamp(sandbox.now(), dt.UTC).date()  # its clock runs ahead in tests
    resumes_on = max(stripe_today, dt.datetime.now(dt.UTC).date()) + dt.timedelta(days=10)
    pausing.pause_collection(practice.id, admin, "Grace period", resumes_on)
    practice = db.session.get(Practice, practice.id)
    assert practice.pause_resumes_at == dt.datetime.combine(resumes_on, dt.time())
    sub = sandbox.client().v1.subscriptions.retrieve(practice.stripe_subscription_id)
    assert sub.pause_collection.resumes_at is not None
    inbox = Inbox(sandbox, practice.stripe_customer_id)
    sandbox.advance(days=11)  # past the resume day, on whichever clock
    inbox.deliver()
    db.session.refresh(practice)
    assert not practice.collection_paused and practice.pause_reason is None
    assert "Payment collection resumed: renewals are charged again" in history_sentences(practice)


def test_a_pause_made_in_stripes_dashboard_is_mirrored(sandbox, active):
    practice = active
    inbox = Inbox(sandbox, practice.stripe_customer_id)
    sandbox.client().v1.subscriptions.update(
        practice.stripe_subscription_id, {"pause_collection": {"behavior": "void"}}
    )
    inbox.deliver()
    db.session.refresh(practice)
    assert practice.collection_paused and practice.billing_status == BillingStatus.DONE
    entry = db.session.scalar(
        sa.select(BillingAuditEntry).where(
            BillingAuditEntry.practice_id == practice.id, BillingAuditEntry.action == "collection_paused"
        )
    )
    assert entry is not None and entry.actor_id is None


def test_pausing_refuses_without_a_reason_when_closed_or_twice(sandbox, active, admin):
    with pytest.raises(PracticeError) as refused:
        pausing.pause_collection(active.id, admin, "   ")
    assert refused.value.message == pausing.NO_REASON
    with pytest.raises(PracticeError):
        pausing.pause_collection(active.id, admin, "x" * 401)
    with pytest.raises(PracticeError) as past:
        pausing.pause_collection(active.id, admin, "Late", dt.datetime.now(dt.UTC).date())
    assert past.value.message == pausing.RESUME_IN_PAST
    pausing.pause_collection(active.id, admin, "Hardship")
    with pytest.raises(PracticeError) as twice:
        pausing.pause_collection(active.id, admin, "Hardship")
    assert "already paused by Ada Admin" in twice.value.message
    pausing.resume_collection(active.id, admin)
    with pytest.raises(PracticeError) as not_paused:
        pausing.resume_collection(active.id, admin)
    assert "is not paused (resumed by Ada Admin)" in not_paused.value.message


# --- The admin practice page ----------------------------------------------------------------------


def pause_through_the_page(client, practice_id: int, **form):
    token = extract_csrf(client.get(f"/admin/practices/{practice_id}").get_data(as_text=True))
    return client.post(f"/admin/practices/{practice_id}/pause-collection", data={"csrf_token": token, **form})


def test_the_admin_page_pauses_once_and_resumes(sandbox, auth, active, admin, owner):
    client = login(auth, admin)
    token = extract_csrf(client.get(f"/admin/practices/{active.id}").get_data(as_text=True))
    form = {"csrf_token": token, "reason": "Hardship, agreed by phone"}
    first = client.post(f"/admin/practices/{active.id}/pause-collection", data=form, follow_redirects=True)
    second = client.post(f"/admin/practices/{active.id}/pause-collection", data=form, follow_redirects=True)
    assert str(pausing.PAUSED) in first.get_data(as_text=True)
    assert "already paused by Ada Admin" in second.get_data(as_text=True)
    lines = db.session.scalars(
        sa.select(BillingAuditEntry).where(
            BillingAuditEntry.practice_id == active.id,
            BillingAuditEntry.action == "collection_paused_by_admin",
        )
    ).all()
    assert len(lines) == 1
    page = client.get(f"/admin/practices/{active.id}").get_data(as_text=True)
    assert 'data-collection="paused"' in page and "Hardship, agreed by phone" in page

    auth.logout()
    member_page = login(auth, owner).get(f"/practices/{active.id}/billing").get_data(as_text=True)
    assert 'data-banner="collection_paused"' in member_page and "data-collection-paused" in member_page
    auth.logout()

    client = login(auth, admin)
    token = extract_csrf(client.get(f"/admin/practices/{active.id}").get_data(as_text=True))
    resumed = client.post(
        f"/admin/practices/{active.id}/resume-collection", data={"csrf_token": token}, follow_redirects=True
    )
    assert str(pausing.RESUMED) in resumed.get_data(as_text=True)


def test_the_pause_form_says_what_is_wrong_under_the_field(auth, active, admin):
    client = login(auth, admin)
    answer = pause_through_the_page(client, active.id, reason="")
    assert answer.status_code == 422
    assert str(pausing.NO_REASON) in html.unescape(answer.get_data(as_text=True))
    long = "y" * 401
    answer = pause_through_the_page(client, active.id, reason=long)
    assert answer.status_code == 422 and long in answer.get_data(as_text=True)  # kept as typed
    assert db.session.get(Practice, active.id).pause_behavior is None


def test_only_platform_admins_pause_and_other_ids_are_404(auth, active, owner, admin):
    client = login(auth, owner)
    token = extract_csrf(client.get(f"/practices/{active.id}/billing").get_data(as_text=True))
    refused = client.post(
        f"/admin/practices/{active.id}/pause-collection", data={"csrf_token": token, "reason": "mine"}
    )
    assert refused.status_code == 403
    auth.logout()
    client = login(auth, admin)
    token = extract_csrf(client.get(f"/admin/practices/{active.id}").get_data(as_text=True))
    form = {"csrf_token": token, "reason": "x"}
    assert client.post("/admin/practices/999999/pause-collection", data=form).status_code == 404
    assert (
        client.post("/admin/practices/999999/resume-collection", data={"csrf_token": token}).status_code
        == 404
    )


def test_reconcile_repairs_a_missed_pause(sandbox, active, runner):
    """A pause made in Stripe's dashboard whose event never arrived: reconcile applies it."""
    sandbox.client().v1.subscriptions.update(
        active.stripe_subscription_id, {"pause_collection": {"behavior": "void"}}
    )
    result = runner.invoke(args=["billing", "reconcile", "--fix"])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert db.session.get(Practice, active.id).pause_behavior == "void"


def test_nothing_to_pause_or_resume_without_a_live_subscription(practice, admin):
    with pytest.raises(PracticeError) as refused:
        pausing.pause_collection(practice.id, admin, "Hardship")
    assert refused.value.message == pausing.NOT_LIVE % {"name": practice.name}
    with pytest.raises(PracticeError) as ended:
        pausing.resume_collection(practice.id, admin)
    assert ended.value.message == pausing.ENDED % {"name": practice.name}
    assert db.session.get(Practice, practice.id).pause_behavior is None


def test_a_plan_switch_during_the_trial_charges_nothing_and_the_trial_ends_on_the_new_plan(
    sandbox, practice, owner, owner_client
):
    inbox = Inbox(sandbox, practice.stripe_customer_id)
    subscribe_with_trial(practice, owner)
    inbox.deliver()
    db.session.refresh(practice)
    trial_end = practice.trial_end
    page = owner_client.get(f"/practices/{practice.id}/billing").get_data(as_text=True)
    day = re.search(r"Trial until (\d\d \w+ \d{4})", page).group(1)  # as every page writes the day
    preview = owner_client.post(
        f"/practices/{practice.id}/billing/plan/preview",
        data={"plan": "semiannual", "csrf_token": extract_csrf(page)},
        headers=HX,
    ).get_data(as_text=True)
    said = html.unescape(preview)
    assert f"Nothing is charged during your trial; from {day} you pay $499.00 every 6 months" in said
    assert "Unused time" not in said and "You will be charged" not in said

    form = {
        "plan": "semiannual",
        "csrf_token": extract_csrf(page),
        "attempt": re.search(r'name="attempt" value="([^"]+)"', preview).group(1),
        "billing_version": re.search(r'name="billing_version" value="([^"]+)"', preview).group(1),
        "proration_date": re.search(r'name="proration_date" value="([^"]+)"', preview).group(1),
    }
    owner_client.post(f"/practices/{practice.id}/billing/plan", data=form, headers=HX)
    inbox.deliver()
    sub = sandbox.client().v1.subscriptions.retrieve(practice.stripe_subscription_id)
    assert sub.status == "trialing" and sub.trial_end == int(trial_end.replace(tzinfo=dt.UTC).timestamp())
    assert sub["items"].data[0].price.recurring.interval_count == 6
    invoices = sandbox.client().v1.invoices.list({"customer": practice.stripe_customer_id}).data
    assert [i.amount_paid for i in invoices] == [49900]  # the fee only: nothing charged for the switch
    page = html.unescape(owner_client.get(f"/practices/{practice.id}/billing").get_data(as_text=True))
    assert f"Trial until {day}, then $499.00 every 6 months" in page

    sandbox.advance(days=TRIAL_DAYS - 3, seconds=60)  # the trial email names the plan then in force
    inbox.deliver()
    assert "$499.00 every 6 months" in trial_emails()[0].text_body

    sandbox.advance(days=3, seconds=2 * 3600)  # the trial ends: the new plan is charged, in full
    inbox.deliver()
    db.session.refresh(practice)
    assert practice.subscription_status == "active" and practice.plan == Plan.SEMIANNUAL
    paid = sorted(i.amount_paid for i in sandbox.client().v1.invoices.list({"customer": sub.customer}).data)
    assert paid == [49900, 49900]
    page = owner_client.get(f"/practices/{practice.id}/billing").get_data(as_text=True)
    assert "Trial until" not in page


def test_a_discounted_trial_says_the_price_as_charged_and_free_until_not_paid_until(
    sandbox, practice, owner, owner_client
):
    """Third attack F8: a trial with 50% off for 3 months was told "then $99.00 every month", the
    trial's switch preview "you pay $499.00 every 6 months", "Access: Yes, paid until" (nothing was
    paid for the plan) and offered a code field that refuses every code."""
    from portal.gateway import discounts as stripe_discounts
    from portal.practices import discounts

    inbox = Inbox(sandbox, practice.stripe_customer_id)
    subscribe_with_trial(practice, owner)
    inbox.deliver()
    coupon = sandbox.client().v1.coupons.create(
        {"percent_off": 50, "duration": "repeating", "duration_in_months": 3}
    )
    sandbox.client().v1.subscriptions.update(
        practice.stripe_subscription_id, {"discounts": [{"coupon": coupon.id}]}
    )
    discounts.mirror_discounts(
        practice, stripe_discounts.subscription_discounts(practice.stripe_subscription_id)
    )
    db.session.commit()
    ends = page_day(practice, practice.discount_end)
    page = html.unescape(owner_client.get(f"/practices/{practice.id}/billing").get_data(as_text=True))
    day = re.search(r"Trial until (\d\d \w+ \d{4})", page).group(1)
    assert f"Trial until {day}, then $99.00 every month, $49.50 until {ends}." in page
    assert f'<dd data-access="yes">Yes, free trial until {day}</dd>' in page
    assert "paid until" not in page

    preview = html.unescape(
        owner_client.post(
            f"/practices/{practice.id}/billing/plan/preview",
            data={"plan": "semiannual", "csrf_token": extract_csrf(page)},
            headers=HX,
        ).get_data(as_text=True)
    )
    assert (
        f"Nothing is charged during your trial; from {day} you pay $499.00 every 6 months, "
        f"$249.50 until {ends}." in preview
    )
    assert 'id="promotion_code"' not in preview  # no code is taken on a trial's switch


def test_while_collection_is_paused_access_is_not_said_paid_until(sandbox, active, admin, owner_client):
    pausing.pause_collection(active.id, admin, "Clinic flooded")
    db.session.refresh(active)
    page = owner_client.get(f"/practices/{active.id}/billing").get_data(as_text=True)
    assert '<dd data-access="yes">Yes, collection paused</dd>' in page
    assert "paid until" not in page


def test_a_cancellation_during_the_trial_says_it_ends_with_the_trial(sandbox, practice, owner, owner_client):
    """Attack 3 F15: nothing was paid for the plan; the answer names the trial's end, not a paid period."""
    from tests.practices.test_promotion_codes import billing_form

    subscribe_with_trial(practice, owner)
    db.session.refresh(practice)
    assert practice.on_trial
    page = owner_client.get(f"/practices/{practice.id}/billing").get_data(as_text=True)
    day = re.search(r"Trial until (\d\d \w+ \d{4})", page).group(1)
    answer = owner_client.post(
        f"/practices/{practice.id}/billing/cancel",
        data={**billing_form(owner_client, practice), "reason": "Trying another tool"},
        headers=HX,
    )
    said = html.unescape(answer.get_data(as_text=True))
    assert f"The subscription will end when the free trial ends, on {day}." in said
    assert "paid period" not in said
    sub = sandbox.client().v1.subscriptions.retrieve(practice.stripe_subscription_id)
    assert sub.cancel_at_period_end and sub["items"].data[0].current_period_end == sub.trial_end
