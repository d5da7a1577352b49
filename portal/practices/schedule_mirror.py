"""The plan switch waiting for the end of the period, mirrored from Stripe's subscription schedule.

A schedule made here ("Switch at period end") or in Stripe's Dashboard shows the same: the
subscription's ``schedule`` field names it, and the schedule, always read fresh through the gateway,
says what comes next. Reading it fresh makes every event order converge (a late
``subscription_schedule.created`` reads the schedule as it is now, released or not) and a repeated
event writes nothing new. Never commits.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging

from portal.extensions import db
from portal.gateway import schedules as stripe_schedules
from portal.gateway.errors import BillingError
from portal.gateway.shapes import as_dict, object_id
from portal.practices import audit
from portal.practices.errors import PracticeError
from portal.practices.models import Plan, Practice
from portal.practices.plans import plan_price_id, practice_currencies

log = logging.getLogger(__name__)

#: Schedule statuses that still change the subscription.
LIVE = ("not_started", "active")


def to_datetime(timestamp: int | None) -> dt.datetime | None:
    return (
        None if timestamp is None else dt.datetime.fromtimestamp(int(timestamp), dt.UTC).replace(tzinfo=None)
    )


def plan_of_price(price: object) -> Plan | None:
    """The portal's plan of a schedule item's price (an id, or an expanded price)."""
    wanted = object_id(price)
    for currency in practice_currencies():
        for plan in Plan:
            try:
                if plan_price_id(plan, currency) == wanted:
                    return plan
            except PracticeError:  # plans not set up: no plan is named
                return None
    return None


def _phase_plan(phase: dict) -> Plan | None:
    items = phase.get("items") or []
    return plan_of_price(as_dict(items[0]).get("price")) if items else None


def next_switch(schedule: dict) -> tuple[Plan | None, Plan | None, int | None]:
    """(the plan now, the plan next, when) as the schedule has them; None when nothing is next."""
    current = schedule.get("current_phase") or {}
    phases = [as_dict(p) for p in schedule.get("phases") or []]
    start = current.get("start_date")
    now_phase = next((p for p in phases if p.get("start_date") == start), None)
    now_plan = _phase_plan(now_phase) if now_phase else None
    if schedule.get("status") not in LIVE or not current:
        return now_plan, None, None
    for phase in phases:
        if phase.get("start_date", 0) >= current.get("end_date", 0):
            plan = _phase_plan(phase)
            if plan is not None and plan != now_plan:
                return now_plan, plan, int(phase["start_date"])
    return now_plan, None, None


def _switched_at(practice: Practice, schedule: dict, done: bool) -> int | None:
    """Stripe's time of what ended the switch: the new phase's start, or the schedule's release."""
    if done and practice.pending_plan_at is not None:
        return int(practice.pending_plan_at.replace(tzinfo=dt.UTC).timestamp())
    return schedule.get("released_at") or schedule.get("canceled_at") or None


def apply_schedule(
    practice: Practice, obj: object, actor_id: int | None = None, undone_as: str = "plan_switch_undone"
) -> bool:
    """Mirror the schedule ``obj`` (as just read from Stripe) onto the practice; True if it changed.

    Only the practice's own subscription's schedule counts; clearing needs the schedule the
    practice shows (or none), so one ended schedule never clears a newer one. A line Stripe's side
    writes (no ``actor_id``) is dated on Stripe's clock: the phase's start, or the release.
    ``undone_as``: the History line of a switch dropped (a cancellation names its own).
    """
    schedule = as_dict(obj)
    subscription = object_id(schedule.get("subscription")) or schedule.get("released_subscription")
    if not subscription or subscription != practice.stripe_subscription_id:
        return False
    now_plan, plan, at = next_switch(schedule)
    if plan is not None:
        when = to_datetime(at)
        if (practice.schedule_id, practice.pending_plan, practice.pending_plan_at) == (
            schedule["id"],
            plan,
            when,
        ):
            return False
        practice.schedule_id, practice.pending_plan, practice.pending_plan_at = schedule["id"], plan, when
        audit.record(
            practice, "plan_switch_scheduled", f"{plan.record_label} on {when:%Y-%m-%d}", actor_id=actor_id
        )
        return True
    if practice.schedule_id not in (None, schedule["id"]) or practice.pending_plan is None:
        if practice.schedule_id == schedule["id"]:
            practice.schedule_id = None
        return False
    done = now_plan is not None and now_plan == practice.pending_plan
    at = _switched_at(practice, schedule, done)
    with audit.written_for_event(at) if at else contextlib.nullcontext():
        audit.record(
            practice,
            "plan_switch_done" if done else undone_as,
            practice.pending_plan.record_label,
            actor_id=actor_id,
        )
    practice.schedule_id, practice.pending_plan, practice.pending_plan_at = None, None, None
    return True


def refresh(practice: Practice, schedule_id: str | None, *, quiet: bool = False) -> None:
    """Read the schedule ``schedule_id`` fresh and mirror it (``quiet``: Stripe unreachable is only
    logged, for a person's action that already happened at Stripe; a webhook retries instead)."""
    if not schedule_id:
        return
    try:
        schedule = stripe_schedules.retrieve_schedule(schedule_id)
    except BillingError as error:
        if not quiet:
            raise
        log.warning("could not read schedule %s practice_id=%s: %s", schedule_id, practice.id, error)
        return
    apply_schedule(practice, schedule)
    db.session.flush()


def schedule_to_read(practice: Practice, sub: dict) -> str | None:
    """The schedule ``follow_subscription`` reads for ``sub``: None when the one shown is named."""
    named = object_id(sub.get("schedule"))
    return None if named == practice.schedule_id else named or practice.schedule_id


def follow_subscription(practice: Practice, sub: dict, *, quiet: bool) -> None:
    """The subscription names a schedule other than the one shown (made, released, or none): read
    whichever it is now from Stripe."""
    refresh(practice, schedule_to_read(practice, sub), quiet=quiet)
