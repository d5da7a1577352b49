"""A subscription's status changes: cancel, resume, pause, and the subscription an invoice belongs to."""

from __future__ import annotations

from typing import Any

from stripe_sandbox.core import Sandbox
from stripe_sandbox.errors import invalid_request
from stripe_sandbox.params import to_int

#: What Stripe does with the invoices of a subscription whose collection is paused
#: (https://docs.stripe.com/billing/subscriptions/pause-payment).
PAUSE_BEHAVIORS = ("keep_as_draft", "mark_uncollectible", "void")


def pause_collection_param(value: Any) -> dict[str, Any] | None:
    """``pause_collection``: ``""`` resumes collection; else a behavior and an optional ``resumes_at``.
    The subscription's status does not change (it stays ``active``)."""
    if value in ("", None):
        return None
    if not isinstance(value, dict) or not value.get("behavior"):
        raise invalid_request(
            "Missing required param: pause_collection[behavior].", param="pause_collection[behavior]"
        )
    if value["behavior"] not in PAUSE_BEHAVIORS:
        raise invalid_request(
            f"Invalid pause_collection[behavior]: must be one of {', '.join(PAUSE_BEHAVIORS)}",
            param="pause_collection[behavior]",
        )
    resumes_at = value.get("resumes_at")
    if resumes_at not in (None, ""):
        resumes_at = to_int(resumes_at, "pause_collection[resumes_at]")
    return {"behavior": value["behavior"], "resumes_at": resumes_at or None}


def set_status(sb: Sandbox, sub: dict[str, Any], status: str, **fields: Any) -> dict[str, Any]:
    before = {"status": sub["status"], **{k: sub.get(k) for k in fields}}
    if sub["status"] == status and all(sub.get(k) == v for k, v in fields.items()):
        return sub
    sub["status"] = status
    sub.update(fields)
    sb.save(sub)
    event_type = "customer.subscription.updated"
    if status in ("canceled", "incomplete_expired"):
        event_type = "customer.subscription.deleted"
        sb.emit(event_type, sub)
    else:
        sb.emit(event_type, sub, {k: v for k, v in before.items() if sub.get(k) != v})
    return sub


def cancel_subscription(sb: Sandbox, sub_id: str, params: dict[str, Any]) -> dict[str, Any]:
    sub = sb.require(sub_id, label="subscription")
    if sub["status"] in ("canceled", "incomplete_expired"):
        raise invalid_request(
            f"This subscription is already canceled: {sub_id}",
        )
    now = sb.now()
    sub["canceled_at"] = sub.get("canceled_at") or now
    sub["ended_at"] = now
    details = sub.get("cancellation_details") or {"comment": None, "feedback": None, "reason": None}
    if isinstance(params.get("cancellation_details"), dict):
        details["comment"] = params["cancellation_details"].get("comment") or details["comment"]
        details["feedback"] = params["cancellation_details"].get("feedback") or details["feedback"]
    details["reason"] = details.get("reason") or "cancellation_requested"
    sub["cancellation_details"] = details
    # Open invoices of a canceled subscription stop being retried.
    for invoice in sb.all("invoice", customer=sub["customer"]):
        if (
            subscription_of(invoice) == sub_id
            and invoice["status"] == "open"
            and invoice.get("next_payment_attempt")
        ):
            invoice["next_payment_attempt"] = None
            sb.save(invoice)
    _end_schedule(sb, sub)
    return set_status(sb, sub, "canceled")


def _end_schedule(sb: Sandbox, sub: dict[str, Any]) -> None:
    """A subscription that ends takes its schedule with it (``subscription_schedule.canceled``)."""
    schedule = sb.get(sub.get("schedule") or "")
    if schedule is None or schedule["status"] not in ("not_started", "active"):
        return
    schedule.update({"status": "canceled", "canceled_at": sb.now(), "current_phase": None})
    sb.save(schedule, "subscription_schedule")
    sb.emit("subscription_schedule.canceled", schedule)


def resume_subscription(sb: Sandbox, sub_id: str, params: dict[str, Any]) -> dict[str, Any]:
    sub = sb.require(sub_id, label="subscription")
    if sub["status"] != "paused":
        raise invalid_request("Only a paused subscription can be resumed.", param="subscription")
    sub["pause_collection"] = None
    set_status(sb, sub, "active")
    sb.emit("customer.subscription.resumed", sub)
    return sub


def pause_subscription(sb: Sandbox, sub_id: str) -> dict[str, Any]:
    """Not a Stripe endpoint (Stripe pauses at trial end); a control so tests can reach ``paused``."""
    sub = sb.require(sub_id, label="subscription")
    set_status(sb, sub, "paused")
    sb.emit("customer.subscription.paused", sub)
    return sub


def subscription_of(invoice: dict[str, Any]) -> str | None:
    parent = invoice.get("parent") or {}
    return (parent.get("subscription_details") or {}).get("subscription")


def list_subscriptions(sb: Sandbox, params: dict[str, Any]) -> list[dict[str, Any]]:
    subs = sb.all("subscription", customer=params.get("customer") or None)
    status = params.get("status")
    if status == "all":
        pass
    elif status:
        subs = [s for s in subs if s["status"] == status]
    else:
        subs = [s for s in subs if s["status"] not in ("canceled", "incomplete_expired")]
    if params.get("price"):
        subs = [s for s in subs if any(i["price"]["id"] == params["price"] for i in s["items"]["data"])]
    return subs
