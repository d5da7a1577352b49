"""What the sandbox clock does when it moves: renewals, ``invoice.upcoming``, retries, expiry."""

from __future__ import annotations

import contextlib
import copy
import heapq
from collections.abc import Callable
from typing import Any

from stripe_sandbox.billing.collection import after_last_retry, attempt_payment, finalize_invoice
from stripe_sandbox.billing.common import DAY, add_interval, default_pm, setting
from stripe_sandbox.billing.invoices import build_invoice, mark_uncollectible, void_invoice
from stripe_sandbox.billing.lifecycle import cancel_subscription, set_status, subscription_of
from stripe_sandbox.billing.lines import item_line, pending_items
from stripe_sandbox.billing.preview import next_cycle_preview
from stripe_sandbox.billing.schedules import OBJECT as SCHEDULE
from stripe_sandbox.billing.schedules import due_phase_ends, end_phase
from stripe_sandbox.billing.subscriptions import TRIAL_NOTICE, send_trial_will_end
from stripe_sandbox.core import Sandbox
from stripe_sandbox.errors import SandboxError, invalid_request

Action = tuple[int, int, str, str]


def _due_actions(sb: Sandbox, until: int) -> list[Action]:
    """(time, order, kind, id) of everything due at or before ``until``."""
    actions: list[Action] = []
    for sub in sb.all("subscription"):
        actions.extend(_due_for_subscription(sb, sub, until))
    for invoice in sb.all("invoice"):
        actions.extend(_due_for_invoice(sb, invoice, until))
    actions.extend(due_phase_ends(sb, until))
    return sorted(actions)


def _due_for_subscription(sb: Sandbox, sub: dict[str, Any], until: int) -> list[Action]:
    """What is due on one subscription: expiry, pause and trial notices, cancel or renewal, the
    ``invoice.upcoming`` notice. Depends on the subscription, its meta and the settings alone."""
    actions: list[Action] = []
    status = sub["status"]
    if status == "incomplete":
        expires = sub["created"] + int(setting(sb, "incomplete_expiry_hours") * 3600)
        if expires <= until:
            actions.append((expires, 3, "expire", sub["id"]))
        return actions
    if status not in ("active", "past_due", "trialing"):
        return actions
    actions.extend(_due_pause_and_trial(sb, sub, until))
    period_end = min(item["current_period_end"] for item in sub["items"]["data"])
    if sub.get("cancel_at") and sub["cancel_at"] <= period_end:
        if sub["cancel_at"] <= until:
            actions.append((sub["cancel_at"], 2, "cancel", sub["id"]))
        return actions
    if period_end <= until:
        actions.append((period_end, 2, "renew", sub["id"]))
    notice = period_end - int(setting(sb, "upcoming_days") * DAY)
    meta = sb.meta(sub["id"])
    if notice <= until and notice >= sub["created"] and meta.get("upcoming_for") != period_end:
        actions.append((notice, 0, "upcoming", sub["id"]))
    return actions


def _due_pause_and_trial(sb: Sandbox, sub: dict[str, Any], until: int) -> list[tuple[int, int, str, str]]:
    """Collection resuming at its ``resumes_at`` (before a renewal of the same second), and
    ``trial_will_end`` three days before the trial ends."""
    actions: list[tuple[int, int, str, str]] = []
    resumes_at = (sub.get("pause_collection") or {}).get("resumes_at")
    if resumes_at and resumes_at <= until:
        actions.append((resumes_at, -1, "resume_collection", sub["id"]))
    trial_end = sub.get("trial_end")
    sent_for = sb.meta(sub["id"]).get("trial_will_end_for")
    if sub["status"] == "trialing" and trial_end and sent_for != trial_end:
        notice = max(trial_end - TRIAL_NOTICE, sub.get("trial_start") or sub["created"])
        if notice <= until:
            actions.append((notice, 0, "trial_will_end", sub["id"]))
    return actions


def _resume_collection(sb: Sandbox, sub: dict[str, Any]) -> None:
    before = sub.get("pause_collection")
    sub["pause_collection"] = None
    sb.save(sub)
    sb.emit("customer.subscription.updated", sub, {"pause_collection": before})


def _due_for_invoice(sb: Sandbox, invoice: dict[str, Any], until: int) -> list[Action]:
    """Retries, the end of a retry window cut short by a hard decline, and drafts to finalize."""
    actions: list[Action] = []
    when = invoice.get("next_payment_attempt")
    if invoice["status"] == "open" and invoice.get("auto_advance") and when and when <= until:
        actions.append((when, 1, "retry", invoice["id"]))
    window_ends = sb.meta(invoice["id"]).get("retry_window_ends_at") if invoice["status"] == "open" else None
    if window_ends and invoice.get("auto_advance") and window_ends <= until:
        actions.append((window_ends, 1, "retry_window_end", invoice["id"]))
    finalizes = invoice.get("automatically_finalizes_at")
    if invoice["status"] == "draft" and invoice.get("auto_advance") and finalizes and finalizes <= until:
        actions.append((finalizes, 1, "finalize", invoice["id"]))
    return actions


def _due_for_schedule(schedule: dict[str, Any], until: int) -> list[Action]:
    """One schedule's share of ``due_phase_ends``."""
    current = schedule.get("current_phase")
    if schedule["status"] == "active" and current and current["end_date"] <= until:
        return [(current["end_date"], 1, "phase", schedule["id"])]
    return []


class _Agenda:
    """The due actions of a clock step, computed once and kept in a heap; after each action only the
    objects it wrote (``Store.touched``) are examined again. The next action is always the smallest
    (time, order, kind, id) of everything due, as a full rescan after every action would find."""

    def __init__(self, sb: Sandbox, until: int) -> None:
        self.sb = sb
        self.until = until
        self.by_id: dict[str, set[Action]] = {}
        self.heap: list[Action] = []
        for action in _due_actions(sb, until):
            self.by_id.setdefault(action[3], set()).add(action)
        self.heap = sorted({a for actions in self.by_id.values() for a in actions})

    def pop(self) -> Action | None:
        while self.heap:
            action = heapq.heappop(self.heap)
            pending = self.by_id.get(action[3])
            if pending and action in pending:
                pending.discard(action)
                return action
        return None

    def refresh(self, object_ids: set[str]) -> None:
        for object_id in object_ids:
            current = self._due_for(self.sb.get(object_id))
            old = self.by_id.get(object_id, set())
            for action in current - old:
                heapq.heappush(self.heap, action)
            if current:
                self.by_id[object_id] = current
            else:
                self.by_id.pop(object_id, None)

    def _due_for(self, obj: dict[str, Any] | None) -> set[Action]:
        kind = obj.get("object") if obj else None
        if kind == "subscription":
            return set(_due_for_subscription(self.sb, obj, self.until))
        if kind == "invoice":
            return set(_due_for_invoice(self.sb, obj, self.until))
        if kind == SCHEDULE:
            return set(_due_for_schedule(obj, self.until))
        return set()


def _renew(sb: Sandbox, sub: dict[str, Any]) -> None:
    # A schedule's phase starting now already set the new prices: one event tells both changes.
    before_items = sb.meta(sub["id"]).get("items_before_phase") or copy.deepcopy(sub["items"])
    sb.update_meta(sub["id"], items_before_phase=None)
    old_start = min(item["current_period_start"] for item in sub["items"]["data"])
    old_end = min(item["current_period_end"] for item in sub["items"]["data"])
    for item in sub["items"]["data"]:
        recurring = item["price"]["recurring"]
        item["current_period_start"] = item["current_period_end"]
        item["current_period_end"] = add_interval(
            item["current_period_end"], recurring["interval"], recurring["interval_count"]
        )
    previous: dict[str, Any] = {"items": before_items}
    if sub["status"] == "trialing":  # the trial ends: the first paid period starts now
        previous["status"] = "trialing"
        sub["status"] = "active"
    sb.save(sub)
    sb.emit("customer.subscription.updated", sub, previous)
    customer = sb.require(sub["customer"])
    lines = [item_line(sb, sub, item) for item in sub["items"]["data"]]
    invoice = build_invoice(sb, customer, sub, "subscription_cycle", lines, [], (old_start, old_end))
    if sub.get("pause_collection"):
        _paused_invoice(sb, invoice, sub["pause_collection"]["behavior"])
        return
    draft_seconds = int(float(setting(sb, "renewal_draft_hours")) * 3600)
    if draft_seconds > 0:
        # Stripe leaves a renewal in draft about an hour, so ``invoice.created`` can still change it
        # (https://docs.stripe.com/billing/subscriptions/overview#subscription-lifecycle).
        invoice["automatically_finalizes_at"] = sb.now() + draft_seconds
        sb.save(invoice)
        return
    _finalize_and_charge(sb, invoice)


def _paused_invoice(sb: Sandbox, invoice: dict[str, Any], behavior: str) -> None:
    """Collection paused: the renewal's invoice is kept as a draft Stripe never advances, or
    finalized and at once voided or marked uncollectible; nothing is charged."""
    if behavior == "keep_as_draft":
        invoice["auto_advance"] = False
        invoice["automatically_finalizes_at"] = None
        sb.save(invoice)
        return
    # A voided renewal is zero-value at Stripe: the customer's credit is not applied to it.
    invoice = finalize_invoice(sb, invoice["id"], {"auto_advance": False}, apply_balance=behavior != "void")
    if invoice["status"] != "open":
        return
    if behavior == "void":
        void_invoice(sb, invoice["id"])
    else:
        mark_uncollectible(sb, invoice["id"])


def _finalize_and_charge(sb: Sandbox, invoice: dict[str, Any]) -> None:
    invoice["automatically_finalizes_at"] = None
    sb.save(invoice)
    invoice = finalize_invoice(sb, invoice["id"], {})
    if invoice["status"] != "open":
        return
    sub_id = subscription_of(invoice)
    sub = sb.get(sub_id) if sub_id else None
    pm_id = invoice.get("default_payment_method") or default_pm(sb, sub, invoice["customer"])
    # A failure is already recorded on the invoice and the subscription; nothing to raise here.
    with contextlib.suppress(SandboxError):
        attempt_payment(sb, invoice["id"], pm_id, off_session=True)


def _send_upcoming(sb: Sandbox, sub: dict[str, Any]) -> None:
    period_end = min(item["current_period_end"] for item in sub["items"]["data"])
    customer = sb.require(sub["customer"])
    preview = next_cycle_preview(sb, customer, sub, pending_items(sb, customer["id"], sub["id"]))
    preview.pop("id", None)  # upcoming invoices have no id at Stripe
    preview["id"] = None
    sb.update_meta(sub["id"], upcoming_for=period_end)
    sb.emit("invoice.upcoming", preview)


#: A guard against an action that never moves its object on (it would be due again at once), not a
#: limit Stripe has: 10,000 practices renewing in one step take 20,000 actions (each renewal's draft
#: is finalized an hour later), plus retries.
MAX_ACTIONS = 100_000


def process_until(sb: Sandbox, until: int) -> int:
    """Run everything due up to ``until`` in time order; returns how many actions ran."""
    agenda = _Agenda(sb, until)
    count = 0
    while count < MAX_ACTIONS:
        action = agenda.pop()
        if action is None:
            break
        when, _, kind, object_id = action
        touched: set[str] = set()
        outer, sb.store.touched = sb.store.touched, touched
        try:
            with sb.at(max(when, 0)):
                _ACTIONS[kind](sb, sb.require(object_id))
        finally:
            sb.store.touched = outer
            if outer is not None:
                outer.update(touched)
        agenda.refresh(touched | {object_id})
        count += 1
    return count


def _expire(sb: Sandbox, sub: dict[str, Any]) -> None:
    latest = sb.get(sub.get("latest_invoice") or "")
    if latest and latest["status"] == "open":
        void_invoice(sb, latest["id"])
    sub["ended_at"] = sb.now()
    set_status(sb, sub, "incomplete_expired")


def _end_of_retry_window(sb: Sandbox, invoice: dict[str, Any]) -> None:
    """A hard decline stopped the retries: at the end of the window, what follows the last retry."""
    sb.update_meta(invoice["id"], retry_window_ends_at=None)
    sub = sb.get(subscription_of(invoice) or "") if subscription_of(invoice) else None
    if sub is not None and sub["status"] in ("active", "past_due"):
        after_last_retry(sb, invoice, sub)


def _retry(sb: Sandbox, invoice: dict[str, Any]) -> None:
    sub = sb.get(subscription_of(invoice) or "") if subscription_of(invoice) else None
    pm_id = invoice.get("default_payment_method") or default_pm(sb, sub, invoice["customer"])
    invoice["next_payment_attempt"] = None
    sb.save(invoice)
    with contextlib.suppress(SandboxError):
        attempt_payment(sb, invoice["id"], pm_id, off_session=True)


def advance_clock(sb: Sandbox, seconds: int) -> dict[str, Any]:
    """Move sandbox time forward, running renewals, retries and expiries on the way."""
    if seconds < 0:
        raise invalid_request("The sandbox clock only moves forward.")
    target = sb.now() + seconds
    ran = process_until(sb, target)
    sb.set_setting("clock_offset", int(sb.setting("clock_offset", 0)) + seconds)
    return {"now": sb.now(), "actions": ran}


#: What each due action does to its object (a subscription, a schedule or an invoice).
_ACTIONS: dict[str, Callable[[Sandbox, dict[str, Any]], object]] = {
    "renew": _renew,
    "cancel": lambda sb, sub: cancel_subscription(sb, sub["id"], {}),
    "trial_will_end": send_trial_will_end,
    "resume_collection": _resume_collection,
    "phase": end_phase,
    "upcoming": _send_upcoming,
    "expire": _expire,
    "retry": _retry,
    "finalize": _finalize_and_charge,
    "retry_window_end": _end_of_retry_window,
}
