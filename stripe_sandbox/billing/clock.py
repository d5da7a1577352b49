"""What the sandbox clock does when it moves: renewals, ``invoice.upcoming``, retries, expiry."""

from __future__ import annotations

import contextlib
import copy
from typing import Any

from stripe_sandbox.billing.collection import after_last_retry, attempt_payment, finalize_invoice
from stripe_sandbox.billing.common import DAY, add_interval, default_pm, setting
from stripe_sandbox.billing.invoices import build_invoice, void_invoice
from stripe_sandbox.billing.lifecycle import cancel_subscription, set_status, subscription_of
from stripe_sandbox.billing.lines import item_line, pending_items
from stripe_sandbox.billing.preview import next_cycle_preview
from stripe_sandbox.billing.schedules import due_phase_ends, end_phase
from stripe_sandbox.core import Sandbox
from stripe_sandbox.errors import SandboxError, invalid_request


def _due_actions(sb: Sandbox, until: int) -> list[tuple[int, int, str, str]]:
    """(time, order, kind, id) of everything due at or before ``until``."""
    actions: list[tuple[int, int, str, str]] = []
    upcoming_days = setting(sb, "upcoming_days")
    for sub in sb.all("subscription"):
        status = sub["status"]
        if status == "incomplete":
            expires = sub["created"] + int(setting(sb, "incomplete_expiry_hours") * 3600)
            if expires <= until:
                actions.append((expires, 3, "expire", sub["id"]))
            continue
        if status not in ("active", "past_due", "trialing"):
            continue
        period_end = min(item["current_period_end"] for item in sub["items"]["data"])
        if sub.get("cancel_at") and sub["cancel_at"] <= period_end:
            if sub["cancel_at"] <= until:
                actions.append((sub["cancel_at"], 2, "cancel", sub["id"]))
            continue
        if period_end <= until:
            actions.append((period_end, 2, "renew", sub["id"]))
        notice = period_end - int(upcoming_days * DAY)
        meta = sb.meta(sub["id"])
        if notice <= until and notice >= sub["created"] and meta.get("upcoming_for") != period_end:
            actions.append((notice, 0, "upcoming", sub["id"]))
    actions.extend(_due_invoice_actions(sb, until))
    actions.extend(due_phase_ends(sb, until))
    return sorted(actions)


def _due_invoice_actions(sb: Sandbox, until: int) -> list[tuple[int, int, str, str]]:
    """Retries, the end of a retry window cut short by a hard decline, and drafts to finalize."""
    actions: list[tuple[int, int, str, str]] = []
    for invoice in sb.all("invoice"):
        when = invoice.get("next_payment_attempt")
        if invoice["status"] == "open" and invoice.get("auto_advance") and when and when <= until:
            actions.append((when, 1, "retry", invoice["id"]))
        window_ends = (
            sb.meta(invoice["id"]).get("retry_window_ends_at") if invoice["status"] == "open" else None
        )
        if window_ends and invoice.get("auto_advance") and window_ends <= until:
            actions.append((window_ends, 1, "retry_window_end", invoice["id"]))
        finalizes = invoice.get("automatically_finalizes_at")
        if invoice["status"] == "draft" and invoice.get("auto_advance") and finalizes and finalizes <= until:
            actions.append((finalizes, 1, "finalize", invoice["id"]))
    return actions


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
    sb.save(sub)
    sb.emit("customer.subscription.updated", sub, {"items": before_items})
    customer = sb.require(sub["customer"])
    lines = [item_line(sb, sub, item) for item in sub["items"]["data"]]
    invoice = build_invoice(sb, customer, sub, "subscription_cycle", lines, [], (old_start, old_end))
    draft_seconds = int(float(setting(sb, "renewal_draft_hours")) * 3600)
    if draft_seconds > 0:
        # Stripe leaves a renewal in draft about an hour, so ``invoice.created`` can still change it
        # (https://docs.stripe.com/billing/subscriptions/overview#subscription-lifecycle).
        invoice["automatically_finalizes_at"] = sb.now() + draft_seconds
        sb.save(invoice)
        return
    _finalize_and_charge(sb, invoice)


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


def process_until(sb: Sandbox, until: int) -> int:
    """Run everything due up to ``until`` in time order; returns how many actions ran."""
    count = 0
    while count < 10_000:
        actions = _due_actions(sb, until)
        if not actions:
            break
        when, _, kind, object_id = actions[0]
        with sb.at(max(when, 0)):
            obj = sb.require(object_id)
            if kind == "renew":
                _renew(sb, obj)
            elif kind == "cancel":
                cancel_subscription(sb, object_id, {})
            elif kind == "phase":
                end_phase(sb, obj)
            elif kind == "upcoming":
                _send_upcoming(sb, obj)
            elif kind == "expire":
                _expire(sb, obj)
            elif kind == "retry":
                _retry(sb, obj)
            elif kind == "finalize":
                _finalize_and_charge(sb, obj)
            elif kind == "retry_window_end":
                _end_of_retry_window(sb, obj)
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
