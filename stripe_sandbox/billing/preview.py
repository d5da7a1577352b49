"""``/v1/invoices/create_preview``: the next invoice, or what a change would cost, without saving."""

from __future__ import annotations

import copy
from typing import Any

from stripe_sandbox.billing.collection import with_balance
from stripe_sandbox.billing.common import add_interval, line_pricing
from stripe_sandbox.billing.discounts import active_discounts, new_discounts
from stripe_sandbox.billing.invoices import build_invoice
from stripe_sandbox.billing.lines import item_line, pending_items
from stripe_sandbox.billing.proration import parse_item_changes, proration_lines
from stripe_sandbox.core import Sandbox
from stripe_sandbox.errors import invalid_request
from stripe_sandbox.params import as_list, to_int
from stripe_sandbox.shapes import blank
from stripe_sandbox.shapes.invoices import INVOICEITEM


def preview_invoice(sb: Sandbox, params: dict[str, Any]) -> dict[str, Any]:
    """``POST /v1/invoices/create_preview``: the next invoice, or the one a plan switch would bring."""
    sub_id = params.get("subscription")
    if not sub_id:
        raise invalid_request(
            "The sandbox previews subscription invoices only: pass `subscription`.", param="subscription"
        )
    sub = copy.deepcopy(sb.require(sub_id, "subscription", "subscription"))
    if params.get("customer") and params["customer"] != sub["customer"]:
        # https://docs.stripe.com/api/invoices/create_preview: the subscription must be the customer's.
        raise invalid_request(
            f"The subscription {sub_id} does not belong to the customer {params['customer']}.",
            param="subscription",
        )
    customer = sb.require(sub["customer"])
    if "discounts" in params:
        # What the invoice would be with these discounts instead; nothing is redeemed by a preview.
        entries = as_list(params["discounts"])
        kept = [e["discount"] for e in entries if isinstance(e, dict) and e.get("discount")]
        fresh = [e for e in entries if not (isinstance(e, dict) and e.get("discount"))]
        made = new_discounts(
            sb, fresh, customer["id"], subscription=sub_id, currency=sub["currency"], redeem=False
        )
        sub["discounts"] = [*kept, *made]
    details = params.get("subscription_details") or {}
    now = sb.now()
    when = (
        to_int(details["proration_date"], "subscription_details[proration_date]")
        if details.get("proration_date")
        else now
    )
    behaviour = details.get("proration_behavior") or "create_prorations"
    pending = [ii for ii in pending_items(sb, customer["id"], sub_id)]
    if details.get("items"):
        changes = parse_item_changes(sb, sub, as_list(details["items"]), "subscription_details[items]")
        specs, reset = proration_lines(sb, sub, changes, when)
        virtual = []
        if behaviour != "none":
            for spec in specs:
                virtual.append(_virtual_item(sb, customer["id"], sub, spec))
        for item, price, quantity in changes:
            item["price"] = price
            item["quantity"] = quantity
            if reset:
                recurring = price["recurring"]
                item["current_period_start"] = now
                item["current_period_end"] = add_interval(
                    now, recurring["interval"], recurring["interval_count"]
                )
        if reset:
            lines = [item_line(sb, sub, item) for item, _, _ in changes]
            invoice = build_invoice(
                sb, customer, sub, "subscription_update", lines, virtual, (now, now), save=False
            )
        elif behaviour == "always_invoice":
            invoice = build_invoice(
                sb, customer, sub, "subscription_update", [], virtual, (now, now), save=False
            )
        else:
            invoice = next_cycle_preview(sb, customer, sub, pending + virtual)
    else:
        invoice = next_cycle_preview(sb, customer, sub, pending)
    invoice["parent"]["subscription_details"]["subscription_proration_date"] = when
    return with_balance(invoice, int(customer.get("balance") or 0))


def _virtual_item(sb: Sandbox, customer_id: str, sub: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    ii = blank(INVOICEITEM)
    ii.update(
        {
            "id": sb.new_id("ii"),
            "amount": spec["amount"],
            "currency": spec["price"]["currency"],
            "customer": customer_id,
            "description": spec["description"],
            "parent": {
                "subscription_details": {"subscription": sub["id"], "subscription_item": spec["item"]},
                "type": "subscription_details",
            },
            "period": {"start": spec["period"][0], "end": spec["period"][1]},
            "pricing": line_pricing(spec["price"], spec["price"]["unit_amount"]),
            "proration": True,
            "quantity": spec["quantity"],
        }
    )
    return ii


def next_cycle_preview(
    sb: Sandbox, customer: dict[str, Any], sub: dict[str, Any], items: list[dict[str, Any]]
) -> dict[str, Any]:
    period_end = min(item["current_period_end"] for item in sub["items"]["data"])
    preview_items = copy.deepcopy(sub["items"]["data"])
    _take_next_phase(sb, sub, preview_items, period_end)
    for item in preview_items:
        recurring = item["price"]["recurring"]
        item["current_period_start"] = item["current_period_end"]
        item["current_period_end"] = add_interval(
            item["current_period_end"], recurring["interval"], recurring["interval_count"]
        )
    lines = [item_line(sb, sub, item) for item in preview_items]
    start = min(item["current_period_start"] for item in sub["items"]["data"])
    invoice = build_invoice(
        sb,
        customer,
        sub,
        "upcoming",
        lines,
        items,
        (start, period_end),
        save=False,
        discounts=active_discounts(sb, sub, period_end),
    )
    invoice["created"] = period_end
    invoice["next_payment_attempt"] = period_end
    return with_balance(invoice, int(customer.get("balance") or 0))


def _take_next_phase(sb: Sandbox, sub: dict[str, Any], items: list[dict[str, Any]], period_end: int) -> None:
    """A schedule's phase starting when this period ends sets the prices of the next invoice (Stripe's
    upcoming invoice follows the schedule)."""
    schedule = sb.get(sub.get("schedule") or "")
    if schedule is None or schedule.get("status") != "active":
        return
    phase = next((p for p in schedule["phases"] if p["start_date"] == period_end), None)
    if phase is None or len(phase["items"]) != len(items):
        return
    for item, want in zip(items, phase["items"], strict=True):
        item["price"] = copy.deepcopy(sb.require(want["price"]))
        item["quantity"] = want["quantity"]
