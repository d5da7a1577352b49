"""Subscriptions, invoices, invoice items, previews, and what the clock does to them."""

from __future__ import annotations

import calendar
import contextlib
import copy
import datetime as dt
from typing import Any

from stripe_sandbox import payments, shapes
from stripe_sandbox.catalog import plan_from_price
from stripe_sandbox.core import Sandbox
from stripe_sandbox.errors import SandboxError, invalid_request, missing_param
from stripe_sandbox.params import as_list, metadata_update, to_bool, to_int

DAY = 86_400

#: Stripe writes line quantities as "2 <multiplication sign> Product", not with an x.
TIMES = "\u00d7"

#: Live subscription statuses: those that renew and can be updated.
LIVE = ("active", "past_due", "trialing", "incomplete", "unpaid", "paused")

DEFAULTS = {
    #: ``invoice.upcoming`` is sent this many days before each renewal.
    "upcoming_days": 3,
    #: After a failed renewal charge, retry after these many days (each counted from the previous attempt).
    "retry_days": [3, 5, 7],
    #: When every retry failed: ``canceled`` (Stripe's default) or ``unpaid``.
    "after_failures": "canceled",
    #: An ``incomplete`` subscription whose first invoice is unpaid expires after this many hours.
    "incomplete_expiry_hours": 23,
}


def setting(sb: Sandbox, name: str) -> Any:
    return sb.setting(name, DEFAULTS[name])


def add_interval(timestamp: int, interval: str, count: int) -> int:
    """Calendar arithmetic like Stripe: months keep the day of month, clamped to the month's end."""
    if interval == "day":
        return timestamp + count * DAY
    if interval == "week":
        return timestamp + count * 7 * DAY
    months = count * (12 if interval == "year" else 1)
    start = dt.datetime.fromtimestamp(timestamp, dt.UTC)
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return int(start.replace(year=year, month=month, day=day).timestamp())


def _money(amount: int, currency: str) -> str:
    symbol = {"usd": "$", "eur": "€", "gbp": "£"}.get(currency, "")
    return f"{symbol}{amount / 100:,.2f}" + ("" if symbol else f" {currency.upper()}")


def _interval_text(price: dict[str, Any]) -> str:
    recurring = price.get("recurring") or {}
    count = recurring.get("interval_count", 1)
    interval = recurring.get("interval", "month")
    return f"every {count} {interval}s" if count > 1 else f"/ {interval}"


def _product_name(sb: Sandbox, price: dict[str, Any]) -> str:
    product = sb.get(price["product"])
    return product["name"] if product else price["product"]


def _list(data: list[dict[str, Any]], url: str) -> dict[str, Any]:
    return {"object": "list", "data": data, "has_more": False, "total_count": len(data), "url": url}


# subscriptions -------------------------------------------------------------------------------


def _recurring_price(sb: Sandbox, price_id: Any, param: str) -> dict[str, Any]:
    if not price_id:
        raise missing_param(param)
    price = sb.require(price_id, param, "price")
    if price["type"] != "recurring":
        raise invalid_request(
            "The price specified is set to `type=one_time` but this field only accepts prices with "
            "`type=recurring`.",
            param=param,
        )
    if not price["active"]:
        raise invalid_request(
            "The price specified is inactive. This field only accepts active prices.", param=param
        )
    return price


def _new_item(
    sb: Sandbox, sub: dict[str, Any], price: dict[str, Any], quantity: int, start: int
) -> dict[str, Any]:
    item = sb.blank(shapes.SUBSCRIPTION_ITEM, "si", 14)
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


def _default_pm(sb: Sandbox, sub: dict[str, Any] | None, customer_id: str) -> str | None:
    if sub and sub.get("default_payment_method"):
        return sub["default_payment_method"]
    customer = sb.get(customer_id) or {}
    return (customer.get("invoice_settings") or {}).get("default_payment_method")


def _customer_pm(sb: Sandbox, customer_id: str, pm_id: str, param: str) -> str:
    pm = payments.resolve_payment_method(sb, pm_id, param)
    if pm.get("customer") is None:
        payments.attach_payment_method(sb, pm["id"], {"customer": customer_id})
    elif pm["customer"] != customer_id:
        raise invalid_request(
            f"The customer does not have a payment method with the ID {pm['id']}. The payment method must be "
            "attached to the customer.",
            param=param,
        )
    return pm["id"]


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
    sub = sb.blank(shapes.SUBSCRIPTION, "sub")
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
        price = _recurring_price(sb, raw.get("price"), f"items[{index}][price]")
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
    sub["currency"] = currencies.pop()
    sub["items"] = _list(items, f"/v1/subscription_items?subscription={sub['id']}")
    if params.get("default_payment_method"):
        sub["default_payment_method"] = _customer_pm(
            sb, customer["id"], params["default_payment_method"], "default_payment_method"
        )
    if "cancel_at_period_end" in params and to_bool(params["cancel_at_period_end"], "cancel_at_period_end"):
        sub["cancel_at_period_end"] = True
        sub["cancel_at"] = items[0]["current_period_end"]
        sub["canceled_at"] = now
    if customer.get("currency") is None:
        customer["currency"] = sub["currency"]
        sb.save(customer)
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
            _invoice_item(
                sb, customer["id"], sub, price=price, quantity=quantity, period=(now, now), proration=False
            )
        )
    lines = [_item_line(sb, sub, item) for item in items]
    invoice = _build_invoice(sb, customer, sub, "subscription_create", lines, extra, (now, now))
    invoice = finalize_invoice(sb, invoice["id"], {})
    if behaviour in ("default_incomplete", "pending_if_incomplete") or invoice["status"] == "paid":
        return sb.require(sub["id"])
    pm_id = _default_pm(sb, sub, customer["id"])
    try:
        _attempt(sb, invoice["id"], pm_id, off_session=False)
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


def _set_status(sb: Sandbox, sub: dict[str, Any], status: str, **fields: Any) -> dict[str, Any]:
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


def update_subscription(sb: Sandbox, sub_id: str, params: dict[str, Any]) -> dict[str, Any]:
    sub = sb.require(sub_id, label="subscription")
    if sub["status"] in ("canceled", "incomplete_expired"):
        raise invalid_request(
            "A canceled subscription can only update its cancellation_details and metadata.",
            param="subscription",
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
            _customer_pm(sb, sub["customer"], pm_id, "default_payment_method") if pm_id else None
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
    pending_invoice = None
    if params.get("items"):
        pending_invoice = _change_items(sb, sub, params)
    sb.save(sub)
    changes = payments.diff(before, sub)
    if changes:
        sb.emit("customer.subscription.updated", sub, changes)
    if pending_invoice is not None:
        invoice = finalize_invoice(sb, pending_invoice["id"], {})
        if invoice["status"] == "open":
            try:
                _attempt(sb, invoice["id"], _default_pm(sb, sub, sub["customer"]), off_session=True)
            except SandboxError as error:
                if (params.get("payment_behavior") or "allow_incomplete") == "error_if_incomplete":
                    error.keep_changes = False
                    raise
    return sb.require(sub_id)


def _proration_lines(
    sb: Sandbox, sub: dict[str, Any], changes: list[tuple[dict[str, Any], dict[str, Any], int]], when: int
) -> tuple[list[dict[str, Any]], bool]:
    """The credit/debit pairs for switching item prices at ``when``; and whether the cycle resets.

    Each change is (item, new price, new quantity). A different interval resets the billing cycle
    (Stripe bills the new price in full right away); the same interval prorates the rest of the period.
    """
    specs: list[dict[str, Any]] = []
    reset = False
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
        name_old, name_new = _product_name(sb, old), _product_name(sb, price)
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


def _parse_item_changes(
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
            _recurring_price(sb, raw["price"], f"{prefix}[{index}][price]")
            if raw.get("price")
            else item["price"]
        )
        quantity = to_int(raw.get("quantity", item["quantity"]), f"{prefix}[{index}][quantity]")
        changes.append((item, price, quantity))
    return changes


def _change_items(sb: Sandbox, sub: dict[str, Any], params: dict[str, Any]) -> dict[str, Any] | None:
    """Switch prices; returns a draft invoice to finalize and charge now, if the change bills now."""
    behaviour = params.get("proration_behavior") or "create_prorations"
    if behaviour not in ("create_prorations", "always_invoice", "none"):
        raise invalid_request(f"Invalid proration_behavior: {behaviour}", param="proration_behavior")
    now = sb.now()
    when = to_int(params["proration_date"], "proration_date") if params.get("proration_date") else now
    changes = _parse_item_changes(sb, sub, as_list(params["items"]), "items")
    specs, reset = _proration_lines(sb, sub, changes, when)
    customer = sb.require(sub["customer"])
    prorations = []
    if behaviour != "none":
        for spec in specs:
            prorations.append(
                _invoice_item(
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
        lines = [_item_line(sb, sub, item) for item, _, _ in changes]
        period = (now, now)
        return _build_invoice(sb, customer, sub, "subscription_update", lines, prorations, period)
    if behaviour == "always_invoice" and prorations:
        return _build_invoice(sb, customer, sub, "subscription_update", [], prorations, (now, now))
    return None


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
        if _sub_of(invoice) == sub_id and invoice["status"] == "open" and invoice.get("next_payment_attempt"):
            invoice["next_payment_attempt"] = None
            sb.save(invoice)
    return _set_status(sb, sub, "canceled")


def resume_subscription(sb: Sandbox, sub_id: str, params: dict[str, Any]) -> dict[str, Any]:
    sub = sb.require(sub_id, label="subscription")
    if sub["status"] != "paused":
        raise invalid_request("Only a paused subscription can be resumed.", param="subscription")
    sub["pause_collection"] = None
    _set_status(sb, sub, "active")
    sb.emit("customer.subscription.resumed", sub)
    return sub


def pause_subscription(sb: Sandbox, sub_id: str) -> dict[str, Any]:
    """Not a Stripe endpoint (Stripe pauses at trial end); a control so tests can reach ``paused``."""
    sub = sb.require(sub_id, label="subscription")
    _set_status(sb, sub, "paused")
    sb.emit("customer.subscription.paused", sub)
    return sub


def _sub_of(invoice: dict[str, Any]) -> str | None:
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


# invoice items and lines -----------------------------------------------------------------------


def _pricing(price: dict[str, Any] | None, unit_amount: int) -> dict[str, Any]:
    return {
        "price_details": {"price": price["id"], "product": price["product"]} if price else None,
        "type": "price_details",
        "unit_amount_decimal": str(unit_amount),
    }


def _invoice_item(
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
) -> dict[str, Any]:
    ii = sb.blank(shapes.INVOICEITEM, "ii")
    unit = price["unit_amount"] if price else (amount or 0)
    total = amount if amount is not None else unit * quantity
    now = sb.now()
    ii.update(
        {
            "amount": total,
            "currency": (price or {}).get("currency") or currency or "usd",
            "customer": customer_id,
            "date": now,
            "description": description or (f"{_product_name(sb, price)}" if price else None),
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
            "pricing": _pricing(price, unit),
            "proration": proration,
            "quantity": quantity,
            "quantity_decimal": str(quantity),
            "tax_rates": [],
            "test_clock": (sb.get(customer_id) or {}).get("test_clock"),
        }
    )
    sb.save(ii)
    return ii


def _item_line(sb: Sandbox, sub: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    price = item["price"]
    line = shapes.blank(shapes.LINE_ITEM)
    amount = price["unit_amount"] * item["quantity"]
    line.update(
        {
            "amount": amount,
            "currency": price["currency"],
            "description": f"{item['quantity']} {TIMES} {_product_name(sb, price)} "
            f"(at {_money(price['unit_amount'], price['currency'])} {_interval_text(price)})",
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
            "pricing": _pricing(price, price["unit_amount"]),
            "quantity": item["quantity"],
            "quantity_decimal": str(item["quantity"]),
            "subscription": sub["id"],
            "subtotal": amount,
            "taxes": [],
        }
    )
    return line


def _ii_line(ii: dict[str, Any]) -> dict[str, Any]:
    line = shapes.blank(shapes.LINE_ITEM)
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


def _pending_items(sb: Sandbox, customer_id: str, sub_id: str | None) -> list[dict[str, Any]]:
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


# invoices ------------------------------------------------------------------------------------


def _build_invoice(
    sb: Sandbox,
    customer: dict[str, Any],
    sub: dict[str, Any] | None,
    billing_reason: str,
    lines: list[dict[str, Any]],
    items: list[dict[str, Any]],
    period: tuple[int, int],
    *,
    include_pending: bool = True,
    save: bool = True,
) -> dict[str, Any]:
    """A draft invoice; ``save=False`` builds a preview that touches nothing."""
    invoice = sb.blank(shapes.INVOICE, "in")
    if not save:
        invoice["id"] = "upcoming_" + invoice["id"]
    if include_pending and save:
        seen = {ii["id"] for ii in items}
        items = items + [
            ii
            for ii in _pending_items(sb, customer["id"], sub["id"] if sub else None)
            if ii["id"] not in seen
        ]
    all_lines = [*lines, *(_ii_line(ii) for ii in items)]
    for line in all_lines:
        line["id"] = sb.new_id("il")
        line["invoice"] = invoice["id"]
    total = sum(line["amount"] for line in all_lines)
    currency = (sub or {}).get("currency") or (all_lines[0]["currency"] if all_lines else "usd")
    invoice.update(
        {
            "account_country": "US",
            "account_name": "Practice Billing Sandbox",
            "amount_due": max(total, 0),
            "amount_paid": 0,
            "amount_remaining": max(total, 0),
            "attempt_count": 0,
            "attempted": False,
            "billing_reason": billing_reason,
            "currency": currency,
            "customer": customer["id"],
            "customer_email": customer.get("email"),
            "customer_name": customer.get("name"),
            "customer_phone": customer.get("phone"),
            "customer_address": customer.get("address"),
            "customer_shipping": customer.get("shipping") or None,
            "customer_tax_ids": [],
            "description": None,
            "discounts": [],
            "ending_balance": None,
            "hosted_invoice_url": None,
            "invoice_pdf": None,
            "issuer": {"type": "self"},
            "lines": _list(all_lines, f"/v1/invoices/{invoice['id']}/lines"),
            "metadata": {},
            "number": None,
            "parent": (
                {
                    "quote_details": None,
                    "subscription_details": {
                        "metadata": dict(sub.get("metadata") or {}),
                        "subscription": sub["id"],
                        "subscription_proration_date": None,
                    },
                    "type": "subscription_details",
                }
                if sub
                else None
            ),
            "payments": _list([], f"/v1/invoice_payments?invoice={invoice['id']}"),
            "period_start": period[0],
            "period_end": period[1],
            "starting_balance": 0,
            "status": "draft",
            "status_transitions": {
                "finalized_at": None,
                "marked_uncollectible_at": None,
                "paid_at": None,
                "voided_at": None,
            },
            "subtotal": total,
            "subtotal_excluding_tax": total,
            "test_clock": customer.get("test_clock"),
            "total": total,
            "total_discount_amounts": [],
            "total_excluding_tax": total,
            "total_pretax_credit_amounts": [],
            "total_taxes": [],
            "rendering": None,
            "default_payment_method": None,
            "due_date": None,
            "receipt_number": None,
            "latest_revision": None,
            "custom_fields": None,
            "footer": None,
            "account_tax_ids": None,
        }
    )
    if not save:
        return invoice
    for ii in items:
        ii["invoice"] = invoice["id"]
        sb.save(ii)
    sb.save(invoice)
    if sub is not None:
        sub["latest_invoice"] = invoice["id"]
        sb.save(sub)
    sb.emit("invoice.created", invoice)
    return invoice


def create_invoice(sb: Sandbox, params: dict[str, Any]) -> dict[str, Any]:
    if not params.get("customer"):
        raise missing_param("customer")
    customer = sb.require(params["customer"], "customer")
    sub = sb.require(params["subscription"], "subscription") if params.get("subscription") else None
    include = (params.get("pending_invoice_items_behavior") or "exclude") == "include"
    now = sb.now()
    invoice = _build_invoice(sb, customer, sub, "manual", [], [], (now, now), include_pending=include)
    if "metadata" in params:
        invoice["metadata"] = metadata_update({}, params["metadata"])
    if "description" in params:
        invoice["description"] = params["description"] or None
    if "auto_advance" in params:
        invoice["auto_advance"] = to_bool(params["auto_advance"], "auto_advance")
    else:
        invoice["auto_advance"] = False
    if params.get("default_payment_method"):
        invoice["default_payment_method"] = _customer_pm(
            sb, customer["id"], params["default_payment_method"], "default_payment_method"
        )
    sb.save(invoice)
    return invoice


def _recompute_totals(invoice: dict[str, Any]) -> None:
    total = sum(line["amount"] for line in invoice["lines"]["data"])
    invoice["lines"]["total_count"] = len(invoice["lines"]["data"])
    for key in ("subtotal", "subtotal_excluding_tax", "total", "total_excluding_tax"):
        invoice[key] = total
    invoice["amount_due"] = max(total, 0)
    invoice["amount_remaining"] = max(total, 0) - invoice["amount_paid"]


def create_invoice_item(sb: Sandbox, params: dict[str, Any]) -> dict[str, Any]:
    if not params.get("customer"):
        raise missing_param("customer")
    customer = sb.require(params["customer"], "customer")
    sub = sb.require(params["subscription"], "subscription") if params.get("subscription") else None
    price = None
    price_id = params.get("price") or (params.get("pricing") or {}).get("price")
    if price_id:
        price = sb.require(price_id, "price", "price")
    elif "amount" not in params:
        raise missing_param("amount")
    quantity = to_int(params.get("quantity", 1), "quantity")
    amount = to_int(params["amount"], "amount") if "amount" in params else None
    ii = _invoice_item(
        sb,
        customer["id"],
        sub,
        price=price,
        quantity=quantity,
        amount=amount,
        currency=params.get("currency"),
        description=params.get("description"),
        metadata=metadata_update({}, params.get("metadata", {})),
    )
    if params.get("invoice"):
        invoice = sb.require(params["invoice"], "invoice", "invoice")
        if invoice["status"] != "draft":
            raise invalid_request("You can only add invoice items to draft invoices.", param="invoice")
        line = _ii_line(ii)
        line["id"] = sb.new_id("il")
        line["invoice"] = invoice["id"]
        invoice["lines"]["data"].append(line)
        _recompute_totals(invoice)
        ii["invoice"] = invoice["id"]
        sb.save(ii)
        sb.save(invoice)
    sb.emit("invoiceitem.created", ii)
    return ii


def delete_invoice_item(sb: Sandbox, ii_id: str) -> dict[str, Any]:
    ii = sb.require(ii_id, label="invoiceitem")
    if ii.get("invoice"):
        invoice = sb.get(ii["invoice"])
        if invoice and invoice["status"] != "draft":
            raise invalid_request("This invoice item is on a finalized invoice and can't be deleted.")
    sb.store.delete(ii_id)
    return {"id": ii_id, "object": "invoiceitem", "deleted": True}


def _invoice_payment(sb: Sandbox, invoice: dict[str, Any], pi: dict[str, Any]) -> dict[str, Any]:
    payment = shapes.blank(shapes.INVOICE_PAYMENT)
    payment.update(
        {
            "id": sb.new_id("inpay"),
            "amount_paid": None,
            "amount_requested": invoice["amount_due"],
            "created": sb.now(),
            "currency": invoice["currency"],
            "invoice": invoice["id"],
            "is_default": True,
            "livemode": False,
            "payment": {
                "charge": None,
                "payment_intent": pi["id"],
                "payment_record": None,
                "type": "payment_intent",
            },
            "status": "open",
            "status_transitions": {"canceled_at": None, "paid_at": None},
        }
    )
    return payment


def finalize_invoice(sb: Sandbox, invoice_id: str, params: dict[str, Any]) -> dict[str, Any]:
    invoice = sb.require(invoice_id, label="invoice")
    if invoice["status"] != "draft":
        raise invalid_request(
            "This invoice is already finalized, you can't re-finalize a non-draft invoice.",
        )
    customer = sb.get(invoice["customer"]) or {}
    if customer.get("deleted"):
        invoice["last_finalization_error"] = {
            "advice_code": None,
            "code": "customer_deleted",
            "doc_url": None,
            "message": "The customer was deleted.",
            "param": None,
            "payment_method_type": None,
            "type": "invalid_request_error",
        }
        sb.save(invoice)
        sb.emit("invoice.finalization_failed", invoice)
        raise invalid_request("The invoice's customer was deleted.", code="invoice_finalization_failed")
    now = sb.now()
    if "auto_advance" in params:
        invoice["auto_advance"] = to_bool(params["auto_advance"], "auto_advance")
    sequence = customer.get("next_invoice_sequence", 1)
    invoice["number"] = f"{customer.get('invoice_prefix', 'SANDBOX')}-{sequence:04d}"
    customer["next_invoice_sequence"] = sequence + 1
    sb.save(customer)
    invoice["status"] = "open"
    invoice["status_transitions"]["finalized_at"] = now
    invoice["effective_at"] = now
    invoice["last_finalization_error"] = None
    invoice["hosted_invoice_url"] = f"{sb.public_url}/invoices/{invoice['id']}"
    invoice["invoice_pdf"] = f"{sb.public_url}/invoices/{invoice['id']}/pdf"
    invoice["webhooks_delivered_at"] = now
    if invoice["amount_due"] > 0:
        pm_id = invoice.get("default_payment_method") or _default_pm(
            sb, sb.get(_sub_of(invoice) or "") if _sub_of(invoice) else None, invoice["customer"]
        )
        pi_params: dict[str, Any] = {
            "amount": invoice["amount_due"],
            "currency": invoice["currency"],
            "customer": invoice["customer"],
            "description": {
                "subscription_create": "Subscription creation",
                "subscription_cycle": "Subscription update",
                "subscription_update": "Subscription update",
            }.get(invoice["billing_reason"], f"Invoice {invoice['number']}"),
        }
        if pm_id:
            pi_params["payment_method"] = pm_id
        pi = payments.create_payment_intent(sb, pi_params, invoice_id=invoice["id"])
        invoice["confirmation_secret"] = {"client_secret": pi["client_secret"], "type": "payment_intent"}
        invoice["payments"]["data"] = [_invoice_payment(sb, invoice, pi)]
        invoice["payments"]["total_count"] = 1
        sb.save(invoice)
        sb.emit("invoice.finalized", invoice)
        return invoice
    sb.save(invoice)
    sb.emit("invoice.finalized", invoice)
    return _mark_paid(sb, invoice)


def _invoice_pi(sb: Sandbox, invoice: dict[str, Any]) -> dict[str, Any] | None:
    for payment in invoice["payments"]["data"]:
        if payment["is_default"]:
            return sb.get(payment["payment"]["payment_intent"])
    return None


def _mark_paid(sb: Sandbox, invoice: dict[str, Any]) -> dict[str, Any]:
    now = sb.now()
    invoice["status"] = "paid"
    invoice["amount_paid"] = invoice["amount_due"]
    invoice["amount_remaining"] = 0
    invoice["next_payment_attempt"] = None
    invoice["status_transitions"]["paid_at"] = now
    for payment in invoice["payments"]["data"]:
        if payment["is_default"]:
            payment["status"] = "paid"
            payment["amount_paid"] = invoice["amount_due"]
            payment["status_transitions"]["paid_at"] = now
    sb.save(invoice)
    sb.emit("invoice.paid", invoice)
    sb.emit("invoice.payment_succeeded", invoice)
    sub_id = _sub_of(invoice)
    if sub_id:
        sub = sb.get(sub_id)
        # Only the newest invoice decides: paying an old one while a newer one fails keeps past_due.
        newest = sub is not None and (
            sub.get("latest_invoice") == invoice["id"] or sub["status"] == "incomplete"
        )
        if sub and newest and sub["status"] in ("incomplete", "past_due", "unpaid"):
            _set_status(sb, sub, "active")
    return invoice


def on_invoice_payment(sb: Sandbox, invoice_id: str, pi: dict[str, Any]) -> None:
    """Called whenever the invoice's PaymentIntent was confirmed, by anyone (API, Stripe.js, the clock)."""
    invoice = sb.require(invoice_id)
    if invoice["status"] != "open":
        return
    now = sb.now()
    invoice["attempt_count"] += 1
    invoice["attempted"] = True
    sub_id = _sub_of(invoice)
    sub = sb.get(sub_id) if sub_id else None
    if pi["status"] == "succeeded":
        _mark_paid(sb, invoice)
        return
    if pi["status"] == "requires_action":
        invoice["next_payment_attempt"] = None
        sb.save(invoice)
        sb.emit("invoice.payment_action_required", invoice)
        if sub and sub["status"] == "active":
            _set_status(sb, sub, "past_due")
        return
    # Failed: schedule the next retry (renewals only; a first invoice leaves the subscription incomplete).
    retry_days = list(setting(sb, "retry_days"))
    exhausted = False
    if invoice["billing_reason"] == "subscription_create" or not invoice.get("auto_advance"):
        invoice["next_payment_attempt"] = None
    elif invoice["attempt_count"] <= len(retry_days):
        invoice["next_payment_attempt"] = now + int(retry_days[invoice["attempt_count"] - 1] * DAY)
    else:
        invoice["next_payment_attempt"] = None
        exhausted = True
    sb.save(invoice)
    sb.emit("invoice.payment_failed", invoice)
    if sub is None:
        return
    if exhausted and sub["status"] in ("active", "past_due"):
        if setting(sb, "after_failures") == "unpaid":
            _set_status(sb, sub, "unpaid")
        else:
            sub["cancellation_details"] = {"comment": None, "feedback": None, "reason": "payment_failed"}
            cancel_subscription(sb, sub["id"], {})
    elif sub["status"] == "active":
        _set_status(sb, sub, "past_due")


def _attempt(sb: Sandbox, invoice_id: str, pm_id: str | None, *, off_session: bool) -> dict[str, Any]:
    """Charge an open invoice. Declines raise (as the API does); the invoice is updated either way."""
    invoice = sb.require(invoice_id)
    pi = _invoice_pi(sb, invoice)
    if pi is None:
        return _mark_paid(sb, invoice)
    if not pm_id:
        invoice["attempt_count"] += 1
        invoice["attempted"] = True
        sb.save(invoice)
        sb.emit("invoice.payment_failed", invoice)
        raise invalid_request(
            "This customer has no attached payment source or default payment method. Please consider "
            "adding a default payment method.",
            code="invoice_no_payment_method_types",
        )
    params: dict[str, Any] = {"payment_method": pm_id, "off_session": "true" if off_session else "false"}
    if pi["status"] == "requires_action":
        # A new attempt replaces the pending authentication.
        pi["status"] = "requires_confirmation"
        sb.save(pi)
    payments.confirm_payment_intent(sb, pi["id"], params)
    return sb.require(invoice_id)


def pay_invoice(sb: Sandbox, invoice_id: str, params: dict[str, Any]) -> dict[str, Any]:
    invoice = sb.require(invoice_id, label="invoice")
    if invoice["status"] == "draft":
        invoice = finalize_invoice(sb, invoice_id, {})
    if invoice["status"] == "paid":
        raise invalid_request("Invoice is already paid", code="invoice_already_paid")
    if invoice["status"] not in ("open", "uncollectible"):
        raise invalid_request(
            f"You can only pay an invoice that is open or uncollectible; this one is {invoice['status']}.",
        )
    if invoice["status"] == "uncollectible":
        invoice["status"] = "open"
        sb.save(invoice)
    if params.get("paid_out_of_band") and to_bool(params["paid_out_of_band"], "paid_out_of_band"):
        return _mark_paid(sb, invoice)
    pm_id = None
    if params.get("payment_method"):
        pm_id = _customer_pm(sb, invoice["customer"], params["payment_method"], "payment_method")
    else:
        sub = sb.get(_sub_of(invoice) or "") if _sub_of(invoice) else None
        pm_id = invoice.get("default_payment_method") or _default_pm(sb, sub, invoice["customer"])
    off_session = to_bool(params.get("off_session", True), "off_session")
    invoice = _attempt(sb, invoice_id, pm_id, off_session=off_session)
    if invoice["status"] == "open":
        raise SandboxError(
            402,
            "card_error",
            "This payment requires additional user action before it can be completed successfully. "
            "Payment can be completed using the PaymentIntent associated with the invoice.",
            code="invoice_payment_intent_requires_action",
            keep_changes=True,
        )
    return invoice


def void_invoice(sb: Sandbox, invoice_id: str) -> dict[str, Any]:
    invoice = sb.require(invoice_id, label="invoice")
    if invoice["status"] not in ("open", "uncollectible"):
        raise invalid_request(
            f"You can only void an open or uncollectible invoice, not a {invoice['status']} one."
        )
    invoice["status"] = "void"
    invoice["status_transitions"]["voided_at"] = sb.now()
    invoice["next_payment_attempt"] = None
    invoice["amount_remaining"] = 0
    for payment in invoice["payments"]["data"]:
        if payment["status"] == "open":
            payment["status"] = "canceled"
            payment["status_transitions"]["canceled_at"] = sb.now()
    pi = _invoice_pi(sb, invoice)
    if pi and pi["status"] not in ("succeeded", "canceled"):
        pi["status"] = "canceled"
        pi["canceled_at"] = sb.now()
        pi["cancellation_reason"] = "void_invoice"
        pi["next_action"] = None
        sb.save(pi)
    sb.save(invoice)
    sb.emit("invoice.voided", invoice)
    return invoice


def mark_uncollectible(sb: Sandbox, invoice_id: str) -> dict[str, Any]:
    invoice = sb.require(invoice_id, label="invoice")
    if invoice["status"] != "open":
        raise invalid_request(
            f"You can only mark an open invoice uncollectible, not a {invoice['status']} one."
        )
    invoice["status"] = "uncollectible"
    invoice["status_transitions"]["marked_uncollectible_at"] = sb.now()
    invoice["next_payment_attempt"] = None
    sb.save(invoice)
    sb.emit("invoice.marked_uncollectible", invoice)
    return invoice


def update_invoice(sb: Sandbox, invoice_id: str, params: dict[str, Any]) -> dict[str, Any]:
    invoice = sb.require(invoice_id, label="invoice")
    before = copy.deepcopy(invoice)
    if "metadata" in params:
        invoice["metadata"] = metadata_update(invoice.get("metadata"), params["metadata"])
    if "description" in params:
        invoice["description"] = params["description"] or None
    if "auto_advance" in params:
        invoice["auto_advance"] = to_bool(params["auto_advance"], "auto_advance")
    if "default_payment_method" in params:
        pm_id = params["default_payment_method"]
        invoice["default_payment_method"] = (
            _customer_pm(sb, invoice["customer"], pm_id, "default_payment_method") if pm_id else None
        )
    sb.save(invoice)
    changes = payments.diff(before, invoice)
    if changes:
        sb.emit("invoice.updated", invoice, changes)
    return invoice


def list_invoices(sb: Sandbox, params: dict[str, Any]) -> list[dict[str, Any]]:
    invoices = sb.all("invoice", customer=params.get("customer") or None)
    if params.get("subscription"):
        invoices = [i for i in invoices if _sub_of(i) == params["subscription"]]
    if params.get("status"):
        invoices = [i for i in invoices if i["status"] == params["status"]]
    if params.get("collection_method"):
        invoices = [i for i in invoices if i["collection_method"] == params["collection_method"]]
    return invoices


def preview_invoice(sb: Sandbox, params: dict[str, Any]) -> dict[str, Any]:
    """``POST /v1/invoices/create_preview``: the next invoice, or the one a plan switch would bring."""
    sub_id = params.get("subscription")
    if not sub_id:
        raise invalid_request(
            "The sandbox previews subscription invoices only: pass `subscription`.", param="subscription"
        )
    sub = copy.deepcopy(sb.require(sub_id, "subscription", "subscription"))
    customer = sb.require(sub["customer"])
    details = params.get("subscription_details") or {}
    now = sb.now()
    when = (
        to_int(details["proration_date"], "subscription_details[proration_date]")
        if details.get("proration_date")
        else now
    )
    behaviour = details.get("proration_behavior") or "create_prorations"
    pending = [ii for ii in _pending_items(sb, customer["id"], sub_id)]
    if details.get("items"):
        changes = _parse_item_changes(sb, sub, as_list(details["items"]), "subscription_details[items]")
        specs, reset = _proration_lines(sb, sub, changes, when)
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
            lines = [_item_line(sb, sub, item) for item, _, _ in changes]
            invoice = _build_invoice(
                sb, customer, sub, "subscription_update", lines, virtual, (now, now), save=False
            )
        elif behaviour == "always_invoice":
            invoice = _build_invoice(
                sb, customer, sub, "subscription_update", [], virtual, (now, now), save=False
            )
        else:
            invoice = _next_cycle_preview(sb, customer, sub, pending + virtual)
    else:
        invoice = _next_cycle_preview(sb, customer, sub, pending)
    invoice["parent"]["subscription_details"]["subscription_proration_date"] = when
    return invoice


def _virtual_item(sb: Sandbox, customer_id: str, sub: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    ii = shapes.blank(shapes.INVOICEITEM)
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
            "pricing": _pricing(spec["price"], spec["price"]["unit_amount"]),
            "proration": True,
            "quantity": spec["quantity"],
        }
    )
    return ii


def _next_cycle_preview(
    sb: Sandbox, customer: dict[str, Any], sub: dict[str, Any], items: list[dict[str, Any]]
) -> dict[str, Any]:
    period_end = min(item["current_period_end"] for item in sub["items"]["data"])
    preview_items = copy.deepcopy(sub["items"]["data"])
    for item in preview_items:
        recurring = item["price"]["recurring"]
        item["current_period_start"] = item["current_period_end"]
        item["current_period_end"] = add_interval(
            item["current_period_end"], recurring["interval"], recurring["interval_count"]
        )
    lines = [_item_line(sb, sub, item) for item in preview_items]
    start = min(item["current_period_start"] for item in sub["items"]["data"])
    invoice = _build_invoice(sb, customer, sub, "upcoming", lines, items, (start, period_end), save=False)
    invoice["created"] = period_end
    invoice["next_payment_attempt"] = period_end
    return invoice


# the clock -----------------------------------------------------------------------------------


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
    for invoice in sb.all("invoice"):
        when = invoice.get("next_payment_attempt")
        if invoice["status"] == "open" and invoice.get("auto_advance") and when and when <= until:
            actions.append((when, 1, "retry", invoice["id"]))
    return sorted(actions)


def _renew(sb: Sandbox, sub: dict[str, Any]) -> None:
    before_items = copy.deepcopy(sub["items"])
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
    lines = [_item_line(sb, sub, item) for item in sub["items"]["data"]]
    invoice = _build_invoice(sb, customer, sub, "subscription_cycle", lines, [], (old_start, old_end))
    invoice = finalize_invoice(sb, invoice["id"], {})
    if invoice["status"] != "open":
        return
    pm_id = _default_pm(sb, sub, sub["customer"])
    # A failure is already recorded on the invoice and the subscription; nothing to raise here.
    with contextlib.suppress(SandboxError):
        _attempt(sb, invoice["id"], pm_id, off_session=True)


def _send_upcoming(sb: Sandbox, sub: dict[str, Any]) -> None:
    period_end = min(item["current_period_end"] for item in sub["items"]["data"])
    customer = sb.require(sub["customer"])
    preview = _next_cycle_preview(sb, customer, sub, _pending_items(sb, customer["id"], sub["id"]))
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
            elif kind == "upcoming":
                _send_upcoming(sb, obj)
            elif kind == "expire":
                _expire(sb, obj)
            elif kind == "retry":
                _retry(sb, obj)
        count += 1
    return count


def _expire(sb: Sandbox, sub: dict[str, Any]) -> None:
    latest = sb.get(sub.get("latest_invoice") or "")
    if latest and latest["status"] == "open":
        void_invoice(sb, latest["id"])
    sub["ended_at"] = sb.now()
    _set_status(sb, sub, "incomplete_expired")


def _retry(sb: Sandbox, invoice: dict[str, Any]) -> None:
    sub = sb.get(_sub_of(invoice) or "") if _sub_of(invoice) else None
    pm_id = invoice.get("default_payment_method") or _default_pm(sb, sub, invoice["customer"])
    invoice["next_payment_attempt"] = None
    sb.save(invoice)
    with contextlib.suppress(SandboxError):
        _attempt(sb, invoice["id"], pm_id, off_session=True)


def advance_clock(sb: Sandbox, seconds: int) -> dict[str, Any]:
    """Move sandbox time forward, running renewals, retries and expiries on the way."""
    if seconds < 0:
        raise invalid_request("The sandbox clock only moves forward.")
    target = sb.now() + seconds
    ran = process_until(sb, target)
    sb.set_setting("clock_offset", int(sb.setting("clock_offset", 0)) + seconds)
    return {"now": sb.now(), "actions": ran}
