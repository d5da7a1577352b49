"""Issue 17: switching down at the end of the period (a Stripe subscription schedule), undoing it,
switching down now (the unused time becomes credit), and that credit paying the next invoices;
our services through the Stripe sandbox, its events through our handlers."""

from __future__ import annotations

import pytest

from portal.extensions import db
from portal.gateway.errors import StripeUnavailable
from portal.gateway.shapes import object_id
from portal.practices import errors, members, plan_changes, subscriptions
from portal.practices.history_words import describe
from portal.practices.models import BillingAuditEntry, Plan, PracticeInvoice
from portal.practices.plans import price_id
from portal.webhooks.handlers import EVENT_HANDLERS, customer, subscription_schedule
from tests.practices.conftest import login
from tests.practices.sandbox_helpers import HANDLERS, Inbox, save_card, subscribe_directly


class PlanInbox(Inbox):
    """The practice's events, the schedule's and its customer's own (the balance) included."""

    HANDLERS = {
        **HANDLERS,
        **{
            t: h
            for t, h in EVENT_HANDLERS.items()
            if h.__module__ in (subscription_schedule.__name__, customer.__name__)
        },
    }

    def deliver(self) -> list[str]:
        applied = []
        for event in self.sandbox.events():
            if event["id"] in self.seen:
                continue
            self.seen.add(event["id"])
            obj = event["data"]["object"]
            if self.customer_id not in (object_id(obj.get("customer")), obj.get("id")):
                continue
            handler = self.HANDLERS.get(event["type"])
            if handler is not None:
                handler(event)
                db.session.commit()
                applied.append(event["type"])
        self.applied.extend(applied)
        return applied


@pytest.fixture
def practice(owner, plans):
    practice = members.create_practice(owner, "Harbour Dental")
    assert practice.stripe_customer_id
    return practice


@pytest.fixture
def inbox(sandbox, practice):
    return PlanInbox(sandbox, practice.stripe_customer_id)


@pytest.fixture
def six_months(sandbox, practice, inbox):
    """Card saved, subscribed every 6 months, events applied."""
    save_card(sandbox, practice)
    subscribe_directly(sandbox, practice, Plan.SEMIANNUAL)
    inbox.deliver()
    assert practice.plan == Plan.SEMIANNUAL
    return practice


def test_downgrade_waits_for_the_period_end_and_can_be_undone(sandbox, six_months, inbox, owner):
    practice = six_months
    preview = subscriptions.preview_plan_change(practice, Plan.MONTHLY, owner)
    assert preview.downgrade
    plan_changes.schedule_switch(practice, Plan.MONTHLY, owner, "k1")
    assert practice.pending_plan == Plan.MONTHLY
    assert practice.pending_plan_at == practice.current_period_end
    assert practice.plan == Plan.SEMIANNUAL  # nothing changes before then
    assert plan_changes.pending_words(practice).startswith("Switches to Monthly on ")
    inbox.deliver()  # Stripe's events of it change nothing more
    assert practice.pending_plan == Plan.MONTHLY
    # The same request again (a double submit) is harmless: one schedule at Stripe.
    with pytest.raises(errors.PracticeError):
        plan_changes.schedule_switch(practice, Plan.MONTHLY, owner, "k1")
    schedules = sandbox.client().v1.subscription_schedules.list({"customer": practice.stripe_customer_id})
    assert len(schedules.data) == 1
    # A switch now is refused while one waits.
    with pytest.raises(errors.PracticeError):
        subscriptions.preview_plan_change(practice, Plan.MONTHLY, owner)

    plan_changes.undo_switch(practice, owner, "k2")
    assert practice.pending_plan is None and practice.schedule_id is None
    inbox.deliver()
    assert practice.pending_plan is None
    with pytest.raises(errors.PracticeError):
        plan_changes.undo_switch(practice, owner, "k3")
    assert sandbox.client().v1.subscriptions.retrieve(practice.stripe_subscription_id).schedule is None


def test_at_the_period_end_the_practice_is_on_monthly_and_billed_monthly(sandbox, six_months, inbox, owner):
    practice = six_months
    period_end = practice.current_period_end
    plan_changes.schedule_switch(practice, Plan.MONTHLY, owner)
    inbox.deliver()
    sandbox.settings(renewal_draft_hours=0)
    try:
        sandbox.advance(days=(period_end - practice.current_period_start).days + 1)
    finally:
        sandbox.settings(renewal_draft_hours=1)
    inbox.deliver()
    db.session.refresh(practice)
    assert practice.plan == Plan.MONTHLY
    assert practice.pending_plan is None  # it happened
    assert practice.current_period_start == period_end
    renewal = db.session.scalar(
        db.select(PracticeInvoice)
        .where(
            PracticeInvoice.practice_id == practice.id, PracticeInvoice.billing_reason == "subscription_cycle"
        )
        .order_by(PracticeInvoice.created.desc())
    )
    assert renewal is not None and renewal.status == "paid" and renewal.amount_paid == 9900


def test_a_dashboard_made_schedule_shows_too(sandbox, six_months, inbox, owner):
    practice = six_months
    client = sandbox.client()
    schedule = client.v1.subscription_schedules.create({"from_subscription": practice.stripe_subscription_id})
    phase = schedule.phases[0]
    client.v1.subscription_schedules.update(
        schedule.id,
        {
            "phases": [
                {
                    "items": [{"price": phase["items"][0].price}],
                    "start_date": phase.start_date,
                    "end_date": phase.end_date,
                },
                {"items": [{"price": price_id(Plan.MONTHLY.lookup_key)}]},
            ]
        },
    )
    inbox.deliver()
    assert practice.pending_plan == Plan.MONTHLY
    assert practice.schedule_id == schedule.id
    client.v1.subscription_schedules.release(schedule.id)
    inbox.deliver()
    assert practice.pending_plan is None


def test_switch_now_leaves_credit_that_the_next_invoice_uses(sandbox, six_months, inbox, owner):
    practice = six_months
    preview = subscriptions.preview_plan_change(practice, Plan.MONTHLY, owner)
    assert preview.amount_due == 0
    assert preview.left_over > 30000  # most of the $499 six months are unused, less the $99 month
    subscriptions.change_plan(practice, Plan.MONTHLY, owner, preview.proration_date)
    assert practice.plan == Plan.MONTHLY
    credit = -practice.customer_balance
    assert credit == pytest.approx(preview.left_over, abs=50)
    inbox.deliver()
    assert -practice.customer_balance == credit

    # The next preview says the credit is used first.
    later = subscriptions.preview_plan_change(practice, Plan.SEMIANNUAL, owner)
    assert later.credit_applied == min(credit, later.total)
    assert later.amount_due == later.total - later.credit_applied

    sandbox.settings(renewal_draft_hours=0)
    try:
        sandbox.advance(days=32)
    finally:
        sandbox.settings(renewal_draft_hours=1)
    inbox.deliver()
    db.session.refresh(practice)
    renewal = db.session.scalar(
        db.select(PracticeInvoice)
        .where(
            PracticeInvoice.practice_id == practice.id, PracticeInvoice.billing_reason == "subscription_cycle"
        )
        .order_by(PracticeInvoice.created.desc())
    )
    assert renewal is not None
    assert renewal.credit_applied == 9900  # the credit paid the whole month
    assert renewal.amount_due == 0
    assert -practice.customer_balance == credit - 9900


def test_cancelling_drops_the_waiting_switch(sandbox, six_months, inbox, owner):
    practice = six_months
    plan_changes.schedule_switch(practice, Plan.MONTHLY, owner)
    subscriptions.cancel_subscription(practice, "Closing the clinic", owner)
    assert practice.cancel_at_period_end
    assert practice.pending_plan is None and practice.schedule_id is None
    inbox.deliver()
    assert practice.pending_plan is None and practice.cancel_at_period_end


def _history(practice) -> list[tuple[str, object, object]]:
    rows = db.session.scalars(
        db.select(BillingAuditEntry).where(BillingAuditEntry.practice_id == practice.id)
    ).all()
    return [(row.action, row.created_at, row.actor_id) for row in rows]


def test_the_switch_done_line_is_dated_when_stripe_switched(sandbox, six_months, inbox, owner):
    """F27: "Plan switched ... at the end of the period" carries the phase's start, Stripe's time."""
    practice = six_months
    period_end = practice.current_period_end
    plan_changes.schedule_switch(practice, Plan.MONTHLY, owner)
    inbox.deliver()
    sandbox.advance(days=(period_end - practice.current_period_start).days + 1)
    inbox.deliver()
    [(_, at, actor)] = [row for row in _history(practice) if row[0] == "plan_switch_done"]
    assert actor is None and at == period_end


def test_cancelling_says_it_dropped_the_waiting_switch(sandbox, six_months, inbox, owner):
    """F30: History names the person's cancellation, not Stripe, and the words say so."""
    practice = six_months
    plan_changes.schedule_switch(practice, Plan.MONTHLY, owner)
    inbox.deliver()
    subscriptions.cancel_subscription(practice, "Closing the clinic", owner)
    inbox.deliver()
    lines = _history(practice)
    assert [
        (a, actor) for a, _, actor in lines if a.startswith("plan_switch_") and a != "plan_switch_scheduled"
    ] == [("plan_switch_dropped", owner.id)]
    words = describe("plan_switch_dropped", "Monthly", owner.name)
    assert words.sentence == "Switch to Monthly dropped by the cancellation" and words.who == owner.name


def test_the_cancel_form_says_it_drops_the_waiting_switch(sandbox, six_months, inbox, owner, auth):
    practice = six_months
    plan_changes.schedule_switch(practice, Plan.MONTHLY, owner)
    page = login(auth, owner).get(f"/practices/{practice.id}/billing").get_data(as_text=True)
    assert "Cancelling also drops the switch to Monthly waiting for" in page


def test_a_switch_at_period_end_keeps_the_subscriptions_discounts(sandbox, six_months, inbox, owner):
    """F16: the schedule's phases carry the subscription's discounts, so the Monthly renewal after
    the phase change is still discounted (a phase without discounts has none, as at Stripe)."""
    practice = six_months
    client = sandbox.client()
    coupon = client.v1.coupons.create({"amount_off": 1000, "currency": "usd", "duration": "forever"})
    sub = client.v1.subscriptions.update(
        practice.stripe_subscription_id, {"discounts": [{"coupon": coupon.id}]}
    )
    inbox.deliver()
    period_end = practice.current_period_end
    plan_changes.schedule_switch(practice, Plan.MONTHLY, owner)
    schedule = client.v1.subscription_schedules.retrieve(practice.schedule_id)
    assert [p.discounts[0].discount for p in schedule.phases] == [sub.discounts[0]] * 2
    sandbox.settings(renewal_draft_hours=0)
    try:
        sandbox.advance(days=(period_end - practice.current_period_start).days + 1)
    finally:
        sandbox.settings(renewal_draft_hours=1)
    inbox.deliver()
    renewal = db.session.scalar(
        db.select(PracticeInvoice)
        .where(
            PracticeInvoice.practice_id == practice.id, PracticeInvoice.billing_reason == "subscription_cycle"
        )
        .order_by(PracticeInvoice.created.desc())
    )
    assert renewal.amount_paid == 9900 - 1000


def _outage_on_phase_update(monkeypatch, *, applied: bool) -> None:
    """The phase update fails as in an outage; ``applied``: it reached Stripe, its answer was lost."""
    from portal.gateway import schedules as stripe_schedules

    real = stripe_schedules.update_schedule

    def failing(schedule_id, params, key):
        if applied:
            real(schedule_id, params, key)
        raise StripeUnavailable(reached_stripe=applied)

    monkeypatch.setattr(stripe_schedules, "update_schedule", failing)


def test_a_switch_cut_short_by_an_outage_leaves_no_schedule_behind(
    sandbox, six_months, inbox, owner, monkeypatch
):
    """Attack 3 F11: the schedule made before the failed phase update is released, so the practice
    can still cancel (Stripe refuses the end of a subscription a schedule manages)."""
    practice = six_months
    _outage_on_phase_update(monkeypatch, applied=False)
    with pytest.raises(StripeUnavailable):
        plan_changes.schedule_switch(practice, Plan.MONTHLY, owner, "k1")
    monkeypatch.undo()
    assert sandbox.client().v1.subscriptions.retrieve(practice.stripe_subscription_id).schedule is None
    inbox.deliver()
    assert practice.pending_plan is None
    subscriptions.cancel_subscription(practice, "Closing the clinic", owner)
    assert practice.cancel_at_period_end


def test_a_switch_whose_answer_was_lost_is_said_as_done(sandbox, six_months, inbox, owner, monkeypatch):
    """Attack 3 F11: the phase update reached Stripe but its answer was lost: the switch is there,
    so the person is not told "try again"."""
    practice = six_months
    _outage_on_phase_update(monkeypatch, applied=True)
    plan_changes.schedule_switch(practice, Plan.MONTHLY, owner, "k1")
    assert practice.pending_plan == Plan.MONTHLY
    assert practice.pending_plan_at == practice.current_period_end


def test_a_switch_neither_done_nor_readable_says_so(sandbox, six_months, inbox, owner, monkeypatch):
    from portal.gateway import schedules as stripe_schedules

    practice = six_months
    _outage_on_phase_update(monkeypatch, applied=True)

    def unreachable(*args, **kwargs):
        raise StripeUnavailable(reached_stripe=False)

    monkeypatch.setattr(stripe_schedules, "retrieve_schedule", unreachable)
    with pytest.raises(errors.PracticeError) as refused:
        plan_changes.schedule_switch(practice, Plan.MONTHLY, owner, "k1")
    assert "cannot tell yet whether the switch is scheduled" in refused.value.message
    assert "try again" not in refused.value.message.lower()


def test_cancel_releases_a_schedule_the_page_does_not_show(sandbox, six_months, inbox, owner):
    """Attack 3 F11: a bare schedule (one phase, no switch) manages the subscription; cancelling
    releases it first instead of showing Stripe's refusal."""
    practice = six_months
    client = sandbox.client()
    bare = client.v1.subscription_schedules.create({"from_subscription": practice.stripe_subscription_id})
    inbox.deliver()
    assert practice.pending_plan is None
    subscriptions.cancel_subscription(practice, "Closing the clinic", owner)
    assert practice.cancel_at_period_end
    assert client.v1.subscription_schedules.retrieve(bare.id).status == "released"
    assert client.v1.subscriptions.retrieve(practice.stripe_subscription_id).cancel_at_period_end


def _renewal(practice) -> PracticeInvoice | None:
    return db.session.scalar(
        db.select(PracticeInvoice)
        .where(
            PracticeInvoice.practice_id == practice.id, PracticeInvoice.billing_reason == "subscription_cycle"
        )
        .order_by(PracticeInvoice.created.desc())
    )


def test_an_offer_accepted_while_a_switch_waits_survives_the_switch(sandbox, six_months, inbox, owner):
    """Attack 3 F5: the waiting switch's phases take the accepted offer too, so the Monthly renewal
    after the phase change is still discounted (a phase starting sets the subscription's discounts)."""
    from portal.practices import retention
    from portal.promotions.models import RetentionCoupon

    practice = six_months
    client = sandbox.client()
    coupon = client.v1.coupons.create({"percent_off": 30, "duration": "forever"})
    db.session.add(RetentionCoupon(coupon_id=coupon.id, percent_off=30, duration="forever"))
    db.session.commit()
    period_end = practice.current_period_end
    plan_changes.schedule_switch(practice, Plan.MONTHLY, owner)
    inbox.deliver()
    retention.accept_offer(practice, owner, coupon.id)
    inbox.deliver()
    schedule = client.v1.subscription_schedules.retrieve(practice.schedule_id)
    assert all(p.discounts for p in schedule.phases)
    sandbox.settings(renewal_draft_hours=0)
    try:
        sandbox.advance(days=(period_end - practice.current_period_start).days + 1)
    finally:
        sandbox.settings(renewal_draft_hours=1)
    inbox.deliver()
    db.session.refresh(practice)
    assert practice.plan == Plan.MONTHLY
    assert _renewal(practice).amount_paid == 6930  # $99.00, 30% off
    sub = client.v1.subscriptions.retrieve(practice.stripe_subscription_id)
    assert len(sub.discounts) == 1 and practice.discount_summary


def test_an_offer_the_schedule_could_not_take_says_so_and_a_second_accept_finishes(
    sandbox, six_months, inbox, owner, monkeypatch
):
    """Attack 3 F5: Stripe unreachable for the schedule's update: the answer says the offer applies
    now but not yet after the switch (and how to keep it); accepting again finishes it."""
    from portal.gateway import schedules as stripe_schedules
    from portal.practices import retention
    from portal.promotions.models import RetentionCoupon

    practice = six_months
    client = sandbox.client()
    coupon = client.v1.coupons.create({"percent_off": 30, "duration": "forever"})
    db.session.add(RetentionCoupon(coupon_id=coupon.id, percent_off=30, duration="forever"))
    db.session.commit()
    plan_changes.schedule_switch(practice, Plan.MONTHLY, owner)
    inbox.deliver()

    def unreachable(*args, **kwargs):
        raise StripeUnavailable(reached_stripe=False)

    monkeypatch.setattr(stripe_schedules, "update_schedule", unreachable)
    with pytest.raises(errors.PracticeError) as refused:
        retention.accept_offer(practice, owner, coupon.id)
    assert (
        "The offer applies now, but Stripe could not be reached to keep it after the switch to Monthly"
        in (refused.value.message)
    )
    assert client.v1.subscriptions.retrieve(practice.stripe_subscription_id).discounts
    monkeypatch.undo()
    with pytest.raises(errors.PracticeError, match="already accepted"):
        retention.accept_offer(practice, owner, coupon.id)
    schedule = client.v1.subscription_schedules.retrieve(practice.schedule_id)
    assert all(p.discounts for p in schedule.phases)
