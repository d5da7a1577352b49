"""Subscription schedules (https://docs.stripe.com/api/subscription_schedules): a subscription's
planned changes as phases; the clock moves the subscription from one phase to the next.

The sandbox builds a schedule from an existing subscription (``from_subscription``), as Stripe
recommends for a change at period end, then takes its phases on update; it does not start new
subscriptions from a schedule.
"""

from __future__ import annotations

import copy
from typing import Any

from stripe_sandbox.billing.common import add_interval, recurring_price
from stripe_sandbox.billing.lifecycle import cancel_subscription
from stripe_sandbox.billing.subscriptions import cancel_now, update_subscription
from stripe_sandbox.catalog import plan_from_price
from stripe_sandbox.core import Sandbox
from stripe_sandbox.errors import invalid_request, missing_param
from stripe_sandbox.params import as_list, metadata_update, to_bool, to_int
from stripe_sandbox.shapes.subscriptions import SCHEDULE_PHASE, SUBSCRIPTION_SCHEDULE

OBJECT = "subscription_schedule"
UPDATABLE = ("not_started", "active")
END_BEHAVIORS = ("release", "cancel", "none", "renew")


def _period(sub: dict[str, Any]) -> tuple[int, int]:
    items = sub["items"]["data"]
    return min(i["current_period_start"] for i in items), min(i["current_period_end"] for i in items)


def _phase(start: int, end: int, currency: str, items: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    phase = copy.deepcopy(SCHEDULE_PHASE)
    phase.update({"start_date": start, "end_date": end, "currency": currency, "items": items, **extra})
    return phase


def _phase_item(
    price: dict[str, Any], quantity: int, metadata: dict[str, str] | None = None
) -> dict[str, Any]:
    return {
        "billing_thresholds": None,
        "discounts": [],
        "metadata": metadata or {},
        "plan": price["id"],
        "price": price["id"],
        "quantity": quantity,
        "tax_rates": [],
    }


def _phase_discounts(raw: Any, prefix: str) -> list[dict[str, Any]]:
    """A phase's ``discounts``: each an existing ``discount`` to reuse, or a ``coupon`` or a
    ``promotion_code`` to make one from; none given: the phase has none (Stripe's schedules doc: a
    phase without the coupon removes it)."""
    if raw in (None, ""):
        return []
    found = []
    for index, entry in enumerate(as_list(raw)):
        if not isinstance(entry, dict) or not any(
            entry.get(k) for k in ("coupon", "discount", "promotion_code")
        ):
            raise invalid_request("Invalid hash", param=f"{prefix}[discounts][{index}]")
        found.append({k: entry.get(k) or None for k in ("coupon", "discount", "promotion_code")})
    return found


def _apply_phase_discounts(sb: Sandbox, sub: dict[str, Any], phase: dict[str, Any]) -> None:
    """The phase starting sets the subscription's discounts to its own (a discount it reuses is kept
    while the subscription still has it)."""
    entries = []
    for entry in phase.get("discounts") or []:
        if entry.get("discount"):
            if entry["discount"] in (sub.get("discounts") or []):
                entries.append({"discount": entry["discount"]})
        else:
            entries.append({k: v for k, v in entry.items() if v})
    if [e.get("discount") for e in entries] == list(sub.get("discounts") or []):
        return
    update_subscription(sb, sub["id"], {"discounts": entries or ""})


def _attach(sb: Sandbox, sub: dict[str, Any], schedule_id: str | None) -> None:
    before = sub.get("schedule")
    if before == schedule_id:
        return
    sub["schedule"] = schedule_id
    sb.save(sub)
    sb.emit("customer.subscription.updated", sub, {"schedule": before})


def create_schedule(sb: Sandbox, params: dict[str, Any]) -> dict[str, Any]:
    source = params.get("from_subscription")
    if not source:
        if params.get("customer") or params.get("phases"):
            raise invalid_request(
                "The sandbox creates subscription schedules from an existing subscription only: pass "
                "`from_subscription`.",
                param="from_subscription",
            )
        raise missing_param("from_subscription")
    for name in ("customer", "phases", "start_date", "end_behavior", "default_settings"):
        if name in params:
            raise invalid_request(f"You cannot set `{name}` if `from_subscription` is set.", param=name)
    sub = sb.require(source, "from_subscription", "subscription")
    if sub["status"] in ("canceled", "incomplete_expired"):
        raise invalid_request(
            f"You cannot migrate a subscription that is `{sub['status']}` to a subscription schedule.",
            param="from_subscription",
        )
    if sub.get("schedule"):
        raise invalid_request(
            f"The subscription `{sub['id']}` is already attached to a schedule (`{sub['schedule']}`).",
            param="from_subscription",
        )
    start, end = _period(sub)
    schedule = sb.blank(SUBSCRIPTION_SCHEDULE, "sub_sched")
    items = [_phase_item(item["price"], item["quantity"]) for item in sub["items"]["data"]]
    schedule.update(
        {
            "customer": sub["customer"],
            "current_phase": {"start_date": start, "end_date": end},
            "metadata": metadata_update({}, params.get("metadata", {})),
            "phases": [
                _phase(
                    start,
                    end,
                    sub["currency"],
                    items,
                    discounts=[
                        {"coupon": None, "discount": d, "promotion_code": None}
                        for d in sub.get("discounts") or []
                    ],
                )
            ],
            "status": "active",
            "subscription": sub["id"],
            "test_clock": sub.get("test_clock"),
        }
    )
    sb.save(schedule, OBJECT)
    _attach(sb, sub, schedule["id"])
    sb.emit("subscription_schedule.created", schedule)
    return schedule


def _require_updatable(schedule: dict[str, Any], verb: str) -> None:
    if schedule["status"] not in UPDATABLE:
        raise invalid_request(
            f"You cannot {verb} a subscription schedule that is currently in the `{schedule['status']}` "
            f"status. It must be in either the `not_started` or `active` status to be {verb}d."
            if verb != "release"
            else f"You cannot release a subscription schedule that is currently in the "
            f"`{schedule['status']}` status. It must be in either the `not_started` or `active` status "
            "to be released.",
        )


def _timestamp(value: Any, param: str, now: int) -> int:
    return now if value == "now" else to_int(value, param)


def _parse_items(sb: Sandbox, raw: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    raw_items = as_list(raw.get("items"))
    if not raw_items:
        raise missing_param(f"{prefix}[items]")
    items = []
    for index, item in enumerate(raw_items):
        price = recurring_price(sb, item.get("price") or item.get("plan"), f"{prefix}[items][{index}][price]")
        quantity = to_int(item.get("quantity", 1), f"{prefix}[items][{index}][quantity]")
        items.append(_phase_item(price, quantity, metadata_update({}, item.get("metadata", {}))))
    return items


def _phase_end(sb: Sandbox, raw: dict[str, Any], start: int, items: list[dict[str, Any]], prefix: str) -> int:
    now = sb.now()
    if raw.get("end_date") not in (None, "") and raw.get("duration"):
        raise invalid_request(
            "You may only specify one of these parameters: duration, end_date.", param=f"{prefix}[end_date]"
        )
    if raw.get("end_date") not in (None, ""):
        return _timestamp(raw["end_date"], f"{prefix}[end_date]", now)
    if isinstance(raw.get("duration"), dict):
        duration = raw["duration"]
        if not duration.get("interval"):
            raise missing_param(f"{prefix}[duration][interval]")
        count = to_int(duration.get("interval_count", 1), f"{prefix}[duration][interval_count]")
        return add_interval(start, duration["interval"], count)
    recurring = sb.require(items[0]["price"])["recurring"]  # one price interval, as Stripe defaults
    return add_interval(start, recurring["interval"], recurring["interval_count"])


def _parse_phases(sb: Sandbox, schedule: dict[str, Any], raw_phases: list[Any]) -> list[dict[str, Any]]:
    """The new phases: past ones may be left out; the first given starts the current phase (its start
    cannot move), each next one starts where the one before ends."""
    now = sb.now()
    current = schedule.get("current_phase")
    phases: list[dict[str, Any]] = []
    for index, raw in enumerate(raw_phases):
        prefix = f"phases[{index}]"
        if not isinstance(raw, dict):
            raise invalid_request("Invalid hash", param=prefix)
        items = _parse_items(sb, raw, prefix)
        if index == 0:
            start = current["start_date"] if current else now
            if raw.get("start_date") not in (None, ""):
                given = _timestamp(raw["start_date"], f"{prefix}[start_date]", now)
                if current and given != current["start_date"]:
                    raise invalid_request(
                        "You can not modify the start date of the current phase.",
                        param=f"{prefix}[start_date]",
                    )
                start = given
        else:
            start = phases[-1]["end_date"]
            given = raw.get("start_date")
            if given not in (None, "") and _timestamp(given, f"{prefix}[start_date]", now) != start:
                raise invalid_request(
                    "The start_date of a phase must be the end_date of the phase before it.",
                    param=f"{prefix}[start_date]",
                )
        if index < len(raw_phases) - 1 and raw.get("end_date") in (None, "") and not raw.get("duration"):
            raise invalid_request(
                "Every phase but the last needs an `end_date` or a `duration`.", param=f"{prefix}[end_date]"
            )
        end = _phase_end(sb, raw, start, items, prefix)
        if end <= start:
            raise invalid_request(
                "The end_date of a phase must be after its start_date.", param=f"{prefix}[end_date]"
            )
        if current and index == 0 and end <= now:
            raise invalid_request("The current phase cannot end in the past.", param=f"{prefix}[end_date]")
        currency = sb.require(items[0]["price"])["currency"]
        behaviour = raw.get("proration_behavior") or "create_prorations"
        phases.append(
            _phase(
                start,
                end,
                currency,
                items,
                proration_behavior=behaviour,
                discounts=_phase_discounts(raw.get("discounts"), prefix),
                metadata=metadata_update({}, raw.get("metadata", {})),
                description=raw.get("description") or None,
            )
        )
    return phases


def _phase_changes(sub: dict[str, Any], phase: dict[str, Any]) -> list[dict[str, Any]]:
    """``items`` for a subscription update moving it onto ``phase`` (empty: nothing changes)."""
    current = sub["items"]["data"]
    wanted = phase["items"]
    if [(i["price"]["id"], i["quantity"]) for i in current] == [(w["price"], w["quantity"]) for w in wanted]:
        return []
    if len(current) != len(wanted):
        raise invalid_request("The sandbox switches a schedule's items one for one only.", param="phases")
    return [
        {"id": item["id"], "price": want["price"], "quantity": want["quantity"]}
        for item, want in zip(current, wanted, strict=True)
    ]


def update_schedule(sb: Sandbox, schedule_id: str, params: dict[str, Any]) -> dict[str, Any]:
    schedule = sb.require(schedule_id, label="subscription_schedule")
    _require_updatable(schedule, "update")
    before = copy.deepcopy(schedule)
    if "end_behavior" in params:
        if params["end_behavior"] not in END_BEHAVIORS:
            raise invalid_request(f"Invalid end_behavior: {params['end_behavior']}", param="end_behavior")
        schedule["end_behavior"] = params["end_behavior"]
    if "metadata" in params:
        schedule["metadata"] = metadata_update(schedule.get("metadata"), params["metadata"])
    if "phases" in params:
        raw_phases = as_list(params["phases"])
        if not raw_phases:
            raise missing_param("phases")
        phases = _parse_phases(sb, schedule, raw_phases)
        schedule["phases"] = phases
        if schedule["current_phase"]:
            schedule["current_phase"] = {
                "start_date": phases[0]["start_date"],
                "end_date": phases[0]["end_date"],
            }
            sub = sb.require(schedule["subscription"])
            changes = _phase_changes(sub, phases[0])
            if changes:
                behaviour = params.get("proration_behavior") or "create_prorations"
                update_subscription(sb, sub["id"], {"items": changes, "proration_behavior": behaviour})
    sb.save(schedule, OBJECT)
    changed = {k: v for k, v in before.items() if schedule.get(k) != v}
    if changed:
        sb.emit("subscription_schedule.updated", schedule, changed)
    return schedule


def release_schedule(sb: Sandbox, schedule_id: str, params: dict[str, Any]) -> dict[str, Any]:
    """The schedule stops; its subscription stays exactly as it is (``preserve_cancel_date``: keep a
    cancellation the schedule set; the sandbox's schedules set none)."""
    schedule = sb.require(schedule_id, label="subscription_schedule")
    _require_updatable(schedule, "release")
    if "preserve_cancel_date" in params:
        to_bool(params["preserve_cancel_date"], "preserve_cancel_date")
    return _release(sb, schedule)


def _release(sb: Sandbox, schedule: dict[str, Any]) -> dict[str, Any]:
    sub_id = schedule.get("subscription")
    schedule.update(
        {
            "status": "released",
            "released_at": sb.now(),
            "released_subscription": sub_id,
            "subscription": None,
            "current_phase": None,
        }
    )
    sb.save(schedule, OBJECT)
    sub = sb.get(sub_id or "")
    if sub is not None:
        _attach(sb, sub, None)
    sb.emit("subscription_schedule.released", schedule)
    return schedule


def cancel_schedule(sb: Sandbox, schedule_id: str, params: dict[str, Any]) -> dict[str, Any]:
    """Cancels the schedule and its subscription at once (``invoice_now`` and ``prorate``: true unless
    told otherwise, https://docs.stripe.com/api/subscription_schedules/cancel)."""
    schedule = sb.require(schedule_id, label="subscription_schedule")
    _require_updatable(schedule, "cancel")
    invoice_now = to_bool(params.get("invoice_now", True), "invoice_now")
    prorate = to_bool(params.get("prorate", True), "prorate")
    schedule.update({"status": "canceled", "canceled_at": sb.now(), "current_phase": None})
    sb.save(schedule, OBJECT)
    sub = sb.get(schedule.get("subscription") or "")
    if sub is not None and sub["status"] not in ("canceled", "incomplete_expired"):
        cancel_now(sb, sub["id"], {"invoice_now": invoice_now, "prorate": prorate})
    sb.emit("subscription_schedule.canceled", schedule)
    return sb.require(schedule_id)


def list_schedules(sb: Sandbox, params: dict[str, Any]) -> list[dict[str, Any]]:
    found = sb.all(OBJECT, customer=params.get("customer") or None)
    if "scheduled" in params:
        scheduled = to_bool(params["scheduled"], "scheduled")
        found = [s for s in found if (s["status"] == "not_started") == scheduled]
    return sorted(found, key=lambda s: s["created"], reverse=True)


# --- what the clock does ---------------------------------------------------------------------------


def due_phase_ends(sb: Sandbox, until: int) -> list[tuple[int, int, str, str]]:
    """(time, order, "phase", id) of active schedules whose current phase ends by ``until``; before a
    renewal at the same moment (order 1 < 2), so the renewal bills the next phase's price."""
    actions = []
    for schedule in sb.all(OBJECT):
        current = schedule.get("current_phase")
        if schedule["status"] == "active" and current and current["end_date"] <= until:
            actions.append((current["end_date"], 1, "phase", schedule["id"]))
    return actions


def end_phase(sb: Sandbox, schedule: dict[str, Any]) -> None:
    """The current phase ends: the next one starts (the subscription takes its items), or the schedule
    ends by its ``end_behavior``."""
    ended = schedule["current_phase"]["end_date"]
    following = [p for p in schedule["phases"] if p["start_date"] >= ended]
    sub = sb.get(schedule.get("subscription") or "")
    if not following or sub is None:
        _finish(sb, schedule, sub)
        return
    phase = following[0]
    previous = {"current_phase": copy.deepcopy(schedule["current_phase"])}
    schedule["current_phase"] = {"start_date": phase["start_date"], "end_date": phase["end_date"]}
    sb.save(schedule, OBJECT)
    changes = _phase_changes(sub, phase)
    if changes:
        _, period_end = _period(sub)
        if period_end == phase["start_date"]:
            _switch_at_period_end(sb, sub, phase)  # the renewal due now bills the new price
        else:
            update_subscription(
                sb, sub["id"], {"items": changes, "proration_behavior": phase["proration_behavior"]}
            )
    _apply_phase_discounts(sb, sb.require(sub["id"]), phase)
    sb.emit("subscription_schedule.updated", schedule, previous)


def _switch_at_period_end(sb: Sandbox, sub: dict[str, Any], phase: dict[str, Any]) -> None:
    """The new prices, billed by the renewal due at this same moment, whose one
    ``customer.subscription.updated`` says both (``previous_attributes``: the items before either)."""
    sb.update_meta(sub["id"], items_before_phase=copy.deepcopy(sub["items"]))
    for item, want in zip(sub["items"]["data"], phase["items"], strict=True):
        price = sb.require(want["price"])
        item["price"] = copy.deepcopy(price)
        item["plan"] = plan_from_price(price)
        item["quantity"] = want["quantity"]
    sb.save(sub)


def _finish(sb: Sandbox, schedule: dict[str, Any], sub: dict[str, Any] | None) -> None:
    behaviour = schedule["end_behavior"]
    if behaviour == "release" or sub is None:
        _release(sb, schedule)
        return
    schedule.update({"status": "completed", "completed_at": sb.now(), "current_phase": None})
    sb.save(schedule, OBJECT)
    if behaviour == "cancel" and sub["status"] not in ("canceled", "incomplete_expired"):
        cancel_subscription(sb, sub["id"], {})
    sb.emit("subscription_schedule.completed", schedule)
