"""Switching down at the end of the period, and undoing it (issue 17).

Stripe's way: a subscription schedule made from the subscription, this period as it is, then a
phase on the new price (``end_behavior=release``: after it, the subscription goes on by itself).
"Undo" releases the schedule, which leaves the subscription exactly as it is, as Stripe recommends
for dropping a scheduled change. Both are once-only by their Idempotency-Keys, and what Stripe
answers is mirrored through ``schedule_mirror`` (the code the webhooks run).
"""

from __future__ import annotations

from flask_babel import gettext as _

from portal.extensions import db
from portal.formatting import format_date
from portal.gateway import schedules as stripe_schedules
from portal.gateway import subscriptions as stripe_subscriptions
from portal.gateway.errors import BillingError, InvalidRequest, StripeUnavailable
from portal.gateway.shapes import as_dict, object_id
from portal.practices import schedule_mirror
from portal.practices.errors import PracticeError
from portal.practices.members import require_manager
from portal.practices.models import Plan, Practice
from portal.practices.plans import currency_of, plan_price_id
from portal.practices.subscriptions import attempt_token
from portal.text import N_
from portal.users.models import User

#: A phase of each plan lasts one billing period of it.
PLAN_DURATION = {
    Plan.MONTHLY: {"interval": "month", "interval_count": 1},
    Plan.SEMIANNUAL: {"interval": "month", "interval_count": 6},
}


def is_downgrade(current: Plan | None, plan: Plan) -> bool:
    """Every 6 months -> Monthly: by default at the end of the paid period."""
    return current == Plan.SEMIANNUAL and plan == Plan.MONTHLY


def pending_words(practice: Practice) -> str | None:
    """ "Switches to Monthly on 01 Jun 2027", or None."""
    if practice.pending_plan is None:
        return None
    plan = practice.pending_plan.label
    if practice.pending_plan_at:
        return _("Switches to %(plan)s on %(day)s", plan=plan, day=format_date(practice.pending_plan_at))
    return _("Switches to %(plan)s at period end", plan=plan)


def _live_subscription(practice: Practice, plan: Plan) -> str:
    if not practice.subscription_live or not practice.stripe_subscription_id:
        raise PracticeError(_("This practice has no active subscription."))
    if practice.plan == plan:
        raise PracticeError(_("The practice is already on the %(plan)s plan.", plan=plan.label))
    if practice.cancel_at_period_end or practice.cancel_at:
        raise PracticeError(_("The subscription is set to end. Resume it first, then switch plans."))
    if practice.pending_plan == plan:
        raise PracticeError(
            _("%(change)s already. Nothing was changed.", change=pending_words(practice)), status=409
        )
    return practice.stripe_subscription_id


def _current_phase(schedule: dict) -> dict:
    current = schedule.get("current_phase") or {}
    for phase in schedule.get("phases") or []:
        phase = as_dict(phase)
        if phase.get("start_date") == current.get("start_date"):
            return phase
    raise PracticeError(
        _("Stripe's schedule for this subscription has no current phase; nothing was changed.")
    )


def _phase_discounts(phase: dict, subscription: dict) -> list[dict]:
    """The current phase's discounts (reused by id), else the subscription's own."""
    found = []
    for entry in phase.get("discounts") or []:
        entry = as_dict(entry)
        for key in ("discount", "coupon", "promotion_code"):
            if entry.get(key):
                found.append({key: object_id(entry[key])})
                break
    if not found:
        found = [{"discount": object_id(d)} for d in subscription.get("discounts") or [] if object_id(d)]
    return found


def schedule_switch(practice: Practice, plan: Plan, actor: User, attempt: str | None = None) -> None:
    """Switch to ``plan`` when the paid period ends (nothing is charged or credited now)."""
    require_manager(practice, actor)
    subscription_id = _live_subscription(practice, plan)
    key = ("plan-later", subscription_id, plan.value, attempt or attempt_token())
    subscription = as_dict(stripe_subscriptions.retrieve_subscription(subscription_id))
    existing = object_id(subscription.get("schedule"))
    schedule = as_dict(
        stripe_schedules.retrieve_schedule(existing)
        if existing
        else stripe_schedules.schedule_from_subscription(subscription_id, key)
    )
    phase = _current_phase(schedule)
    current_items = [
        {"price": object_id(as_dict(item).get("price")), "quantity": as_dict(item).get("quantity") or 1}
        for item in phase.get("items") or []
    ]
    # A phase without discounts has none at Stripe: the subscription's go into both, so they survive
    # the phase change (Stripe's advice for schedules made from a subscription).
    discounts = _phase_discounts(phase, subscription)
    params = {
        "end_behavior": "release",
        "phases": [
            {
                "items": current_items,
                "start_date": phase["start_date"],
                "end_date": phase["end_date"],
                "discounts": discounts or "",
            },
            {
                "items": [{"price": plan_price_id(plan, currency_of(practice)), "quantity": 1}],
                "duration": PLAN_DURATION[plan],
                "discounts": discounts or "",
            },
        ],
    }
    try:
        updated = stripe_schedules.update_schedule(schedule["id"], params, key)
    except BillingError as error:
        updated = _after_failed_update(schedule["id"], plan, key, error, made_now=not existing)
    schedule_mirror.apply_schedule(practice, updated, actor_id=actor.id)
    db.session.commit()


UNKNOWN_SWITCH = N_(
    "Stripe did not answer in time, so we cannot tell yet whether the switch is scheduled. Reload the "
    "page in a minute to see it; nothing is charged either way."
)


def _after_failed_update(
    schedule_id: str, plan: Plan, key: tuple, error: BillingError, made_now: bool
) -> dict:
    """The phases were not set, or we do not know (a retry may have reached Stripe, attack 3 F11).

    Read the schedule: if the switch is in it, it is done (said as done). Otherwise a schedule made
    by this request is released, so no bare schedule is left managing the subscription (it would
    refuse every cancellation), and the error stands: nothing changed. Stripe unreadable: the words
    say we do not know yet (never "try again" for what may be done)."""
    ambiguous = isinstance(error, StripeUnavailable) and error.reached_stripe
    try:
        if ambiguous:
            found = as_dict(stripe_schedules.retrieve_schedule(schedule_id))
            if schedule_mirror.next_switch(found)[1] == plan:
                return found
        if made_now:
            stripe_schedules.release_schedule(schedule_id, (*key, "failed-update"))
    except BillingError:
        if ambiguous:
            raise PracticeError(_(UNKNOWN_SWITCH), status=503) from error
        raise error from None
    raise error


def undo_switch(practice: Practice, actor: User, attempt: str | None = None) -> None:
    """Drop the switch waiting for the period's end: the subscription renews on its plan."""
    require_manager(practice, actor)
    schedule_id = practice.schedule_id
    if practice.pending_plan is None or not schedule_id:
        raise PracticeError(_("No plan switch is waiting, so there is nothing to undo."), status=409)
    key = ("plan-undo", schedule_id, attempt or attempt_token())
    try:
        released = stripe_schedules.release_schedule(schedule_id, key)
    except InvalidRequest:  # released or ended meanwhile (another tab, the Dashboard): as it is now
        released = stripe_schedules.retrieve_schedule(schedule_id)
    schedule_mirror.apply_schedule(practice, released, actor_id=actor.id)
    db.session.commit()


def carry_discounts(practice: Practice, key: tuple) -> None:
    """The subscription's discounts (as just mirrored) into the current and later phases of the
    switch waiting for the period's end (attack 3 F5): a phase starting sets the subscription's
    discounts to its own, so one added to the subscription alone (a retention offer accepted) would
    be dropped at the switch. Each is reused by id, so a "for 3 months" discount keeps its end."""
    if not practice.schedule_id:
        return
    schedule = as_dict(stripe_schedules.retrieve_schedule(practice.schedule_id))
    current = schedule.get("current_phase")
    if schedule.get("status") not in schedule_mirror.LIVE or not current:
        return
    discounts = [{"discount": d} for d in (practice.discount_ids or "").split(",") if d]
    phases = []
    for phase in (as_dict(p) for p in schedule.get("phases") or []):
        if phase.get("end_date", 0) <= current["start_date"]:
            continue  # past phases may be left out
        items = [
            {"price": object_id(as_dict(item).get("price")), "quantity": as_dict(item).get("quantity") or 1}
            for item in phase.get("items") or []
        ]
        entry = {"items": items, "end_date": phase["end_date"], "discounts": discounts or ""}
        if not phases:  # the current phase: its start cannot move; each next starts where it ends
            entry["start_date"] = phase["start_date"]
        phases.append(entry)
    updated = stripe_schedules.update_schedule(schedule["id"], {"phases": phases}, key)
    schedule_mirror.apply_schedule(practice, updated)
