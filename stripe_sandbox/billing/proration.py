"""Changing a subscription's items mid-period: the proration lines and the invoice they make."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

from stripe_sandbox.billing.common import TIMES, add_interval, product_name, recurring_price
from stripe_sandbox.billing.invoices import build_invoice
from stripe_sandbox.billing.lines import item_line, new_invoice_item, pending_items
from stripe_sandbox.catalog import plan_from_price
from stripe_sandbox.core import Sandbox
from stripe_sandbox.errors import invalid_request
from stripe_sandbox.params import as_list, to_int


def proration_lines(
    sb: Sandbox, sub: dict[str, Any], changes: list[tuple[dict[str, Any], dict[str, Any], int]], when: int
) -> tuple[list[dict[str, Any]], bool]:
    """The credit/debit pairs for switching item prices at ``when``; and whether the cycle resets.

    Each change is (item, new price, new quantity). A different interval resets the billing cycle
    (Stripe bills the new price in full right away); the same interval prorates the rest of the period.
    """
    specs: list[dict[str, Any]] = []
    reset = False
    if sub.get("status") == "trialing" and int(sub.get("trial_end") or 0) > when:
        # A trial's items cost nothing, so nothing is prorated and the cycle is kept: the trial goes
        # on and its end bills the new price (https://docs.stripe.com/billing/subscriptions/trials).
        return specs, reset
    for item, price, quantity in changes:
        old = item["price"]
        start, end = item["current_period_start"], item["current_period_end"]
        if (old["recurring"]["interval"], old["recurring"]["interval_count"]) != (
            price["recurring"]["interval"],
            price["recurring"]["interval_count"],
        ):
            reset = True
        fraction = max(0.0, min(1.0, (end - when) / (end - start))) if end > start else 0.0
        credit = -round(old["unit_amount"] * item["quantity"] * fraction)
        name_old, name_new = product_name(sb, old), product_name(sb, price)
        if credit:
            specs.append(
                {
                    "price": old,
                    "amount": credit,
                    "quantity": item["quantity"],
                    "description": f"Unused time on {item['quantity']} {TIMES} {name_old} after "
                    f"{dt.datetime.fromtimestamp(when, dt.UTC):%d %b %Y}",
                    "period": (when, end),
                    "item": item["id"],
                }
            )
        if not reset:
            debit = round(price["unit_amount"] * quantity * fraction)
            if debit:
                specs.append(
                    {
                        "price": price,
                        "amount": debit,
                        "quantity": quantity,
                        "description": f"Remaining time on {quantity} {TIMES} {name_new} after "
                        f"{dt.datetime.fromtimestamp(when, dt.UTC):%d %b %Y}",
                        "period": (when, end),
                        "item": item["id"],
                    }
                )
    return specs, reset


def parse_item_changes(
    sb: Sandbox, sub: dict[str, Any], raw_items: list[Any], prefix: str
) -> list[tuple[dict[str, Any], dict[str, Any], int]]:
    by_id = {item["id"]: item for item in sub["items"]["data"]}
    changes = []
    for index, raw in enumerate(raw_items):
        item_id = raw.get("id")
        if not item_id:
            # Stripe would add a second item; the sandbox supports switching an item's price only.
            raise invalid_request(
                "Pass the subscription item's id (items[0][id]) to change its price; adding items is not "
                "supported by the sandbox.",
                param=f"{prefix}[{index}][id]",
            )
        if item_id not in by_id:
            raise invalid_request(
                f"No such subscription item: '{item_id}'",
                param=f"{prefix}[{index}][id]",
                code="resource_missing",
            )
        item = by_id[item_id]
        price = (
            recurring_price(sb, raw["price"], f"{prefix}[{index}][price]")
            if raw.get("price")
            else item["price"]
        )
        quantity = to_int(raw.get("quantity", item["quantity"]), f"{prefix}[{index}][quantity]")
        changes.append((item, price, quantity))
    return changes


def change_items(sb: Sandbox, sub: dict[str, Any], params: dict[str, Any]) -> dict[str, Any] | None:
    """Switch prices; returns a draft invoice to finalize and charge now, if the change bills now."""
    behaviour = params.get("proration_behavior") or "create_prorations"
    if behaviour not in ("create_prorations", "always_invoice", "none"):
        raise invalid_request(f"Invalid proration_behavior: {behaviour}", param="proration_behavior")
    now = sb.now()
    when = to_int(params["proration_date"], "proration_date") if params.get("proration_date") else now
    changes = parse_item_changes(sb, sub, as_list(params["items"]), "items")
    specs, reset = proration_lines(sb, sub, changes, when)
    customer = sb.require(sub["customer"])
    prorations = []
    if behaviour != "none":
        for spec in specs:
            prorations.append(
                new_invoice_item(
                    sb,
                    customer["id"],
                    sub,
                    price=spec["price"],
                    quantity=spec["quantity"],
                    amount=spec["amount"],
                    description=spec["description"],
                    period=spec["period"],
                    proration=True,
                    subscription_item=spec["item"],
                )
            )
    for item, price, quantity in changes:
        item["price"] = copy.deepcopy(price)
        item["plan"] = plan_from_price(price)
        item["quantity"] = quantity
        if reset:
            recurring = price["recurring"]
            item["current_period_start"] = now
            item["current_period_end"] = add_interval(now, recurring["interval"], recurring["interval_count"])
    if reset:
        sub["billing_cycle_anchor"] = now
        if sub.get("cancel_at_period_end"):
            sub["cancel_at"] = min(i["current_period_end"] for i in sub["items"]["data"])
        lines = [item_line(sb, sub, item) for item, _, _ in changes]
        period = (now, now)
        return build_invoice(sb, customer, sub, "subscription_update", lines, prorations, period)
    if behaviour == "always_invoice" and prorations:
        return build_invoice(sb, customer, sub, "subscription_update", [], prorations, (now, now))
    return None


def unused_time_credits(sb: Sandbox, sub: dict[str, Any]) -> list[dict[str, Any]]:
    """``prorate=true`` on cancel: a proration invoice item crediting each item's unused time until
    its period end (https://docs.stripe.com/api/subscriptions/cancel#cancel_subscription-prorate)."""
    now = sb.now()
    credits = []
    for item in sub["items"]["data"]:
        start, end = item["current_period_start"], item["current_period_end"]
        fraction = max(0.0, min(1.0, (end - now) / (end - start))) if end > start else 0.0
        amount = -round(item["price"]["unit_amount"] * item["quantity"] * fraction)
        if not amount:
            continue
        credits.append(
            new_invoice_item(
                sb,
                sub["customer"],
                sub,
                price=item["price"],
                quantity=item["quantity"],
                amount=amount,
                description=f"Unused time on {item['quantity']} {TIMES} {product_name(sb, item['price'])} "
                f"after {dt.datetime.fromtimestamp(now, dt.UTC):%d %b %Y}",
                period=(now, end),
                proration=True,
                subscription_item=item["id"],
            )
        )
    return credits


def final_invoice(sb: Sandbox, sub: dict[str, Any], credits: list[dict[str, Any]]) -> dict[str, Any] | None:
    """``invoice_now=true`` on cancel: a last invoice of the subscription's pending items (the credits
    among them); None when there is nothing to invoice."""
    if not credits and not pending_items(sb, sub["customer"], sub["id"]):
        return None
    customer = sb.require(sub["customer"])
    now = sb.now()
    return build_invoice(
        sb, customer, sub, "subscription_update", [], credits, (now, now), include_pending=True
    )
