"""Creating and updating subscriptions (the first invoice, payment behaviour, item changes)."""

from __future__ import annotations

import contextlib
import copy
from typing import Any

from stripe_sandbox.billing.collection import attempt_payment, finalize_invoice
from stripe_sandbox.billing.common import (
    DAY,
    add_interval,
    claim_currency,
    customer_pm,
    default_pm,
    list_object,
    product_name,
    recurring_price,
)
from stripe_sandbox.billing.discounts import new_discounts
from stripe_sandbox.billing.invoices import build_invoice
from stripe_sandbox.billing.lifecycle import cancel_subscription, pause_collection_param
from stripe_sandbox.billing.lines import item_line, new_invoice_item
from stripe_sandbox.billing.proration import change_items, final_invoice, unused_time_credits
from stripe_sandbox.catalog import plan_from_price
from stripe_sandbox.core import Sandbox
from stripe_sandbox.errors import SandboxError, invalid_request, missing_param
from stripe_sandbox.params import as_list, metadata_update, to_bool, to_int
from stripe_sandbox.payments.common import diff
from stripe_sandbox.shapes.subscriptions import SUBSCRIPTION, SUBSCRIPTION_ITEM


def _new_item(
    sb: Sandbox, sub: dict[str, Any], price: dict[str, Any], quantity: int, start: int
) -> dict[str, Any]:
    item = sb.blank(SUBSCRIPTION_ITEM, "si", 14)
    recurring = price["recurring"]
    item.update(
        {
            "created": start,
            "current_period_start": start,
            "current_period_end": add_interval(start, recurring["interval"], recurring["interval_count"]),
            "metadata": {},
            "plan": plan_from_price(price),
            "price": copy.deepcopy(price),
            "quantity": quantity,
            "subscription": sub["id"],
            "tax_rates": [],
            "discounts": [],
        }
    )
    return item


#: The longest trial Stripe allows (https://docs.stripe.com/billing/subscriptions/trials).
MAX_TRIAL_DAYS = 730
#: ``customer.subscription.trial_will_end`` comes this long before the trial ends, or at once when
#: less of the trial is left (https://docs.stripe.com/api/events/types).
TRIAL_NOTICE = 3 * DAY


def _trial_end(params: dict[str, Any], now: int) -> int | None:
    """``trial_end`` (a time, or ``now`` for none) or ``trial_period_days`` (days from now)."""
    if params.get("trial_end") not in (None, ""):
        if params["trial_end"] == "now":
            return None
        end = to_int(params["trial_end"], "trial_end")
        if end <= now:
            raise invalid_request(
                "Invalid timestamp: must be an integer Unix timestamp in the future.", param="trial_end"
            )
        return end
    if params.get("trial_period_days") in (None, ""):
        return None
    days = to_int(params["trial_period_days"], "trial_period_days")
    if not 0 <= days <= MAX_TRIAL_DAYS:
        raise invalid_request(
            f"The maximum number of trial period days is {MAX_TRIAL_DAYS} (2 years).",
            param="trial_period_days",
        )
    return now + days * DAY if days else None


def trial_line(line: dict[str, Any], product: str) -> dict[str, Any]:
    """A plan's line while it is on trial: nothing to pay for the trial's period (Stripe's words)."""
    line.update({"amount": 0, "subtotal": 0, "description": f"Trial period for {product}"})
    return line


def send_trial_will_end(sb: Sandbox, sub: dict[str, Any]) -> None:
    """Once per trial end, as Stripe sends it."""
    sb.update_meta(sub["id"], trial_will_end_for=sub["trial_end"])
    sb.emit("customer.subscription.trial_will_end", sub)


def create_subscription(sb: Sandbox, params: dict[str, Any]) -> dict[str, Any]:
    if not params.get("customer"):
        raise missing_param("customer")
    customer = sb.require(params["customer"], "customer")
    raw_items = as_list(params.get("items"))
    if not raw_items:
        raise missing_param("items")
    behaviour = params.get("payment_behavior") or "allow_incomplete"
    if behaviour not in (
        "allow_incomplete",
        "default_incomplete",
        "error_if_incomplete",
        "pending_if_incomplete",
    ):
        raise invalid_request(f"Invalid payment_behavior: {behaviour}", param="payment_behavior")
    now = sb.now()
    sub = sb.blank(SUBSCRIPTION, "sub")
    sub.update(
        {
            "customer": customer["id"],
            "start_date": now,
            "billing_cycle_anchor": now,
            "metadata": metadata_update({}, params.get("metadata", {})),
            "description": params.get("description") or None,
            "status": "incomplete",
            "test_clock": customer.get("test_clock"),
            "latest_invoice": None,
        }
    )
    items = []
    for index, raw in enumerate(raw_items):
        price = recurring_price(sb, raw.get("price"), f"items[{index}][price]")
        quantity = to_int(raw.get("quantity", 1), f"items[{index}][quantity]")
        items.append(_new_item(sb, sub, price, quantity, now))
    currencies = {item["price"]["currency"] for item in items}
    if len(currencies) > 1:
        raise invalid_request("All prices on a subscription must have the same currency.", param="items")
    intervals = {
        (i["price"]["recurring"]["interval"], i["price"]["recurring"]["interval_count"]) for i in items
    }
    if len(intervals) > 1:
        raise invalid_request(
            "Currency and interval fields must match across all plans on this subscription.", param="items"
        )
    trial_end = _trial_end(params, now)
    if trial_end is not None:
        # On trial: trialing from the start, the first period ends with the trial, and the first
        # invoice charges only what is added to it (one-time items); the plan is billed at the end.
        sub.update({"status": "trialing", "trial_start": now, "trial_end": trial_end})
        for item in items:
            item["current_period_end"] = trial_end
    sub["currency"] = currencies.pop()
    sub["items"] = list_object(items, f"/v1/subscription_items?subscription={sub['id']}")
    if params.get("default_payment_method"):
        sub["default_payment_method"] = customer_pm(
            sb, customer["id"], params["default_payment_method"], "default_payment_method"
        )
    if "cancel_at_period_end" in params and to_bool(params["cancel_at_period_end"], "cancel_at_period_end"):
        sub["cancel_at_period_end"] = True
        sub["cancel_at"] = items[0]["current_period_end"]
        sub["canceled_at"] = now
    claim_currency(sb, customer["id"], sub["currency"], "items")
    if params.get("discounts"):
        made = new_discounts(
            sb, params["discounts"], customer["id"], subscription=sub["id"], currency=sub["currency"]
        )
        sub["discounts"] = [d["id"] for d in made]
    sb.save(sub)
    sb.update_meta(sub["id"], payment_behavior=behaviour)
    sb.emit("customer.subscription.created", sub)

    extra = []
    for index, raw in enumerate(as_list(params.get("add_invoice_items"))):
        price_id = raw.get("price")
        if not price_id:
            raise missing_param(f"add_invoice_items[{index}][price]")
        price = sb.require(price_id, f"add_invoice_items[{index}][price]", "price")
        quantity = to_int(raw.get("quantity", 1), f"add_invoice_items[{index}][quantity]")
        extra.append(
            new_invoice_item(
                sb, customer["id"], sub, price=price, quantity=quantity, period=(now, now), proration=False
            )
        )
    lines = [item_line(sb, sub, item) for item in items]
    if trial_end is not None:
        names = [product_name(sb, item["price"]) for item in items]
        lines = [trial_line(line, name) for line, name in zip(lines, names, strict=True)]
        if trial_end - now <= TRIAL_NOTICE:
            send_trial_will_end(sb, sub)
    invoice = build_invoice(sb, customer, sub, "subscription_create", lines, extra, (now, now))
    invoice = finalize_invoice(sb, invoice["id"], {})
    if behaviour in ("default_incomplete", "pending_if_incomplete") or invoice["status"] == "paid":
        return sb.require(sub["id"])
    pm_id = default_pm(sb, sub, customer["id"])
    # ``off_session=true``: the customer is away, so a card set up for it is charged without 3-D Secure.
    off_session = to_bool(params.get("off_session", False), "off_session")
    try:
        attempt_payment(sb, invoice["id"], pm_id, off_session=off_session)
    except SandboxError as error:
        if behaviour == "error_if_incomplete":
            # Nothing happened: Stripe creates no subscription when the first payment fails.
            error.keep_changes = False
            raise
    invoice = sb.require(invoice["id"])
    if behaviour == "error_if_incomplete" and invoice["status"] != "paid":
        raise SandboxError(
            402,
            "card_error",
            "Payment for this subscription requires additional user action before it can be completed "
            "successfully.",
            code="subscription_payment_intent_requires_action",
        )
    return sb.require(sub["id"])


def cancel_now(sb: Sandbox, sub_id: str, params: dict[str, Any]) -> dict[str, Any]:
    """``DELETE /v1/subscriptions/{id}``; ``prorate`` credits the unused time, ``invoice_now`` bills
    what is pending (those credits too) on a final invoice, finalized at once
    (https://docs.stripe.com/api/subscriptions/cancel)."""
    sub = sb.require(sub_id, label="subscription")
    live = sub["status"] not in ("canceled", "incomplete_expired")
    credits = (
        unused_time_credits(sb, sub) if live and to_bool(params.get("prorate", False), "prorate") else []
    )
    invoice = None
    if live and to_bool(params.get("invoice_now", False), "invoice_now"):
        invoice = final_invoice(sb, sub, credits)
    sub = cancel_subscription(sb, sub_id, params)
    if invoice is not None:
        invoice = finalize_invoice(sb, invoice["id"], {})
        if invoice["status"] == "open":
            with contextlib.suppress(SandboxError):  # declined: the final invoice stays open, as at Stripe
                attempt_payment(sb, invoice["id"], default_pm(sb, None, sub["customer"]), off_session=True)
    return sb.require(sub_id)


#: What a canceled subscription still lets change (https://docs.stripe.com/api/subscriptions/update).
CANCELED_UPDATABLE = frozenset({"metadata", "cancellation_details"})


def replace_discounts(sb: Sandbox, sub: dict[str, Any], raw: Any) -> list[str]:
    """``discounts`` on an update replaces the subscription's: ``[{"discount": "di_..."}]`` keeps one it
    has, ``{coupon}``/``{promotion_code}`` adds a new one (one redemption), ``""`` removes them all."""
    entries = as_list(raw)
    kept = []
    for index, entry in enumerate(entries):
        if isinstance(entry, dict) and entry.get("discount"):
            if entry["discount"] not in (sub.get("discounts") or []):
                raise invalid_request(
                    f"No such discount on this subscription: '{entry['discount']}'",
                    param=f"discounts[{index}][discount]",
                )
            kept.append(entry["discount"])
    fresh = [e for e in entries if not (isinstance(e, dict) and e.get("discount"))]
    made = new_discounts(sb, fresh, sub["customer"], subscription=sub["id"], currency=sub["currency"])
    return kept + [d["id"] for d in made]


def update_subscription(sb: Sandbox, sub_id: str, params: dict[str, Any]) -> dict[str, Any]:
    sub = sb.require(sub_id, label="subscription")
    if sub["status"] in ("canceled", "incomplete_expired") and not set(params) <= CANCELED_UPDATABLE:
        raise invalid_request(
            "A canceled subscription can only update its cancellation_details and metadata.",
            param=sorted(set(params) - CANCELED_UPDATABLE)[0],
            code="invalid_canceled_subscription_fields",
        )
    schedule = sb.get(sub.get("schedule") or "")
    if (
        schedule
        and schedule["status"] in ("not_started", "active")
        and {"cancel_at_period_end", "cancel_at"} & set(params)
    ):
        raise invalid_request(
            f"The subscription is managed by the subscription schedule `{schedule['id']}`, and updating any "
            "cancelation behavior directly is not allowed. Please update the schedule instead."
        )
    before = copy.deepcopy(sub)
    now = sb.now()
    if "metadata" in params:
        sub["metadata"] = metadata_update(sub.get("metadata"), params["metadata"])
    if "description" in params:
        sub["description"] = params["description"] or None
    if "default_payment_method" in params:
        pm_id = params["default_payment_method"]
        sub["default_payment_method"] = (
            customer_pm(sb, sub["customer"], pm_id, "default_payment_method") if pm_id else None
        )
    period_end = min(item["current_period_end"] for item in sub["items"]["data"])
    if "cancel_at_period_end" in params:
        flag = to_bool(params["cancel_at_period_end"], "cancel_at_period_end")
        sub["cancel_at_period_end"] = flag
        sub["cancel_at"] = period_end if flag else None
        sub["canceled_at"] = now if flag else None
        sub["cancellation_details"] = {
            "comment": None,
            "feedback": None,
            "reason": "cancellation_requested" if flag else None,
        }
    if "cancel_at" in params:
        at = params["cancel_at"]
        sub["cancel_at"] = to_int(at, "cancel_at") if at not in ("", None) else None
        sub["cancel_at_period_end"] = sub["cancel_at"] == period_end
        sub["canceled_at"] = now if sub["cancel_at"] else None
    if "cancellation_details" in params and isinstance(params["cancellation_details"], dict):
        details = sub.get("cancellation_details") or {"comment": None, "feedback": None, "reason": None}
        for key in ("comment", "feedback"):
            if key in params["cancellation_details"]:
                details[key] = params["cancellation_details"][key] or None
        sub["cancellation_details"] = details
    if "pause_collection" in params:
        sub["pause_collection"] = pause_collection_param(params["pause_collection"])
    if "discounts" in params:
        sub["discounts"] = replace_discounts(sb, sub, params["discounts"])
    pending_invoice = None
    if params.get("items"):
        pending_invoice = change_items(sb, sub, params)
    sb.save(sub)
    changes = diff(before, sub)
    if changes:
        sb.emit("customer.subscription.updated", sub, changes)
    if pending_invoice is not None:
        invoice = finalize_invoice(sb, pending_invoice["id"], {})
        if invoice["status"] == "open":
            try:
                attempt_payment(sb, invoice["id"], default_pm(sb, sub, sub["customer"]), off_session=True)
            except SandboxError as error:
                if (params.get("payment_behavior") or "allow_incomplete") == "error_if_incomplete":
                    error.keep_changes = False
                    raise
    return sb.require(sub_id)
