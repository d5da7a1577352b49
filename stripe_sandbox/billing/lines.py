"""Invoice items and invoice lines: the pending items a next invoice picks up and the lines it shows."""

from __future__ import annotations

import copy
from typing import Any

from stripe_sandbox.billing.common import TIMES, interval_text, line_pricing, money, product_name
from stripe_sandbox.core import Sandbox
from stripe_sandbox.shapes import blank
from stripe_sandbox.shapes.invoices import INVOICEITEM, LINE_ITEM


def new_invoice_item(
    sb: Sandbox,
    customer_id: str,
    sub: dict[str, Any] | None,
    *,
    price: dict[str, Any] | None = None,
    quantity: int = 1,
    amount: int | None = None,
    currency: str | None = None,
    description: str | None = None,
    period: tuple[int, int] | None = None,
    proration: bool = False,
    subscription_item: str | None = None,
    metadata: dict[str, str] | None = None,
    emit: bool = True,
) -> dict[str, Any]:
    ii = sb.blank(INVOICEITEM, "ii")
    unit = price["unit_amount"] if price else (amount or 0)
    total = amount if amount is not None else unit * quantity
    now = sb.now()
    ii.update(
        {
            "amount": total,
            "currency": (price or {}).get("currency") or currency or "usd",
            "customer": customer_id,
            "date": now,
            "description": description or (f"{product_name(sb, price)}" if price else None),
            "discounts": [],
            "invoice": None,
            "metadata": metadata or {},
            "net_amount": total,
            "parent": (
                {
                    "subscription_details": {
                        "subscription": sub["id"],
                        "subscription_item": subscription_item,
                    },
                    "type": "subscription_details",
                }
                if sub
                else None
            ),
            "period": {"start": (period or (now, now))[0], "end": (period or (now, now))[1]},
            "pricing": line_pricing(price, unit),
            "proration": proration,
            "quantity": quantity,
            "quantity_decimal": str(quantity),
            "tax_rates": [],
            "test_clock": (sb.get(customer_id) or {}).get("test_clock"),
        }
    )
    sb.save(ii)
    if emit:
        sb.emit("invoiceitem.created", ii)
    return ii


def item_line(sb: Sandbox, sub: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    price = item["price"]
    line = blank(LINE_ITEM)
    amount = price["unit_amount"] * item["quantity"]
    line.update(
        {
            "amount": amount,
            "currency": price["currency"],
            "description": f"{item['quantity']} {TIMES} {product_name(sb, price)} "
            f"(at {money(price['unit_amount'], price['currency'])} {interval_text(price)})",
            "discount_amounts": [],
            "discounts": [],
            "metadata": {},
            "parent": {
                "invoice_item_details": None,
                "subscription_item_details": {
                    "invoice_item": None,
                    "proration": False,
                    "proration_details": {"credited_items": None},
                    "subscription": sub["id"],
                    "subscription_item": item["id"],
                },
                "type": "subscription_item_details",
            },
            "period": {"start": item["current_period_start"], "end": item["current_period_end"]},
            "pricing": line_pricing(price, price["unit_amount"]),
            "quantity": item["quantity"],
            "quantity_decimal": str(item["quantity"]),
            "subscription": sub["id"],
            "subtotal": amount,
            "taxes": [],
        }
    )
    return line


def ii_line(ii: dict[str, Any]) -> dict[str, Any]:
    line = blank(LINE_ITEM)
    sub_id = ((ii.get("parent") or {}).get("subscription_details") or {}).get("subscription")
    line.update(
        {
            "amount": ii["amount"],
            "currency": ii["currency"],
            "description": ii["description"],
            "discount_amounts": [],
            "discounts": [],
            "metadata": dict(ii.get("metadata") or {}),
            "parent": {
                "invoice_item_details": {
                    "invoice_item": ii["id"],
                    "proration": ii["proration"],
                    "proration_details": {"credited_items": None},
                    "subscription": sub_id,
                },
                "subscription_item_details": None,
                "type": "invoice_item_details",
            },
            "period": dict(ii["period"]),
            "pricing": copy.deepcopy(ii["pricing"]),
            "quantity": ii["quantity"],
            "quantity_decimal": str(ii["quantity"]),
            "subscription": sub_id,
            "subtotal": ii["amount"],
            "taxes": [],
        }
    )
    return line


def pending_items(sb: Sandbox, customer_id: str, sub_id: str | None) -> list[dict[str, Any]]:
    items = sb.all("invoiceitem", customer=customer_id)
    pending = [
        ii
        for ii in items
        if ii.get("invoice") is None
        and (
            ((ii.get("parent") or {}).get("subscription_details") or {}).get("subscription") in (None, sub_id)
        )
    ]
    return list(reversed(pending))
