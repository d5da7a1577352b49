"""What every billing module shares: settings, calendar arithmetic, prices and a customer's card."""

from __future__ import annotations

import calendar
import datetime as dt
from typing import Any

from stripe_sandbox.core import Sandbox
from stripe_sandbox.currencies import format_amount
from stripe_sandbox.errors import invalid_request, missing_param
from stripe_sandbox.payments.customers import attach_payment_method, resolve_payment_method

DAY = 86_400


#: Stripe writes line quantities as "2 <multiplication sign> Product", not with an x.
TIMES = "\u00d7"


#: Live subscription statuses: those that renew and can be updated.
LIVE = ("active", "past_due", "trialing", "incomplete", "unpaid", "paused")


DEFAULTS = {
    #: ``invoice.upcoming`` is sent this many days before each renewal.
    "upcoming_days": 3,
    #: Retries of a failed renewal (https://docs.stripe.com/billing/revenue-recovery/smart-retries):
    #: ``smart`` (Stripe's default: ``smart_retry_attempts`` within ``smart_retry_window_days``) or
    #: ``custom`` (``retry_days``: days after the previous attempt, one entry per retry).
    "retry_schedule": "smart",
    "smart_retry_attempts": 8,
    "smart_retry_window_days": 14,
    "retry_days": [3, 5, 7],
    #: When every retry failed: ``canceled`` (Stripe's default), ``unpaid``, or ``past_due`` (leave it).
    "after_failures": "canceled",
    #: When every retry failed, also mark the invoice uncollectible (Stripe's default: leave it past due).
    "mark_uncollectible": False,
    #: A renewal invoice stays a draft this long before it is finalized and charged (Stripe: about 1 h).
    "renewal_draft_hours": 1,
    #: An ``incomplete`` subscription whose first invoice is unpaid expires after this many hours.
    "incomplete_expiry_hours": 23,
}

#: Declines Smart Retries never retry: the card will not work again.
HARD_DECLINES = frozenset(
    {"lost_card", "stolen_card", "fraudulent", "pickup_card", "restricted_card", "incorrect_number"}
)


def retry_delays(sb: Sandbox) -> list[float]:
    """Days from each failed attempt to the next retry, one per retry, under the current settings."""
    if setting(sb, "retry_schedule") == "custom":
        return [float(d) for d in setting(sb, "retry_days")]
    attempts = int(setting(sb, "smart_retry_attempts"))
    window = float(setting(sb, "smart_retry_window_days"))
    # Smart Retries picks the times; the sandbox spreads the attempts evenly over the window.
    return [window / attempts] * attempts if attempts > 0 else []


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


def money(amount: int, currency: str) -> str:
    return format_amount(amount, currency)


def interval_text(price: dict[str, Any]) -> str:
    recurring = price.get("recurring") or {}
    count = recurring.get("interval_count", 1)
    interval = recurring.get("interval", "month")
    return f"every {count} {interval}s" if count > 1 else f"/ {interval}"


def product_name(sb: Sandbox, price: dict[str, Any]) -> str:
    product = sb.get(price["product"])
    return product["name"] if product else price["product"]


def list_object(data: list[dict[str, Any]], url: str) -> dict[str, Any]:
    return {"object": "list", "data": data, "has_more": False, "total_count": len(data), "url": url}


def recurring_price(sb: Sandbox, price_id: Any, param: str) -> dict[str, Any]:
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


def claim_currency(sb: Sandbox, customer_id: str, currency: str, param: str) -> None:
    """A customer bills in one currency: the first subscription, invoice or invoice item sets
    ``customer.currency``; another currency is refused as Stripe refuses it
    (https://docs.stripe.com/api/customers/object#customer_object-currency)."""
    customer = sb.require(customer_id, "customer")
    if customer.get("currency") is None:
        customer["currency"] = currency
        sb.save(customer)
    elif customer["currency"] != currency:
        raise invalid_request(
            "You cannot combine currencies on a single customer. This customer has an active "
            f"subscription, subscription schedule, discount, quote, or invoice item with currency "
            f"{customer['currency']}.",
            param=param,
        )


def default_pm(sb: Sandbox, sub: dict[str, Any] | None, customer_id: str) -> str | None:
    if sub and sub.get("default_payment_method"):
        return sub["default_payment_method"]
    customer = sb.get(customer_id) or {}
    return (customer.get("invoice_settings") or {}).get("default_payment_method")


def customer_pm(sb: Sandbox, customer_id: str, pm_id: str, param: str) -> str:
    pm = resolve_payment_method(sb, pm_id, param)
    if pm.get("customer") is None:
        attach_payment_method(sb, pm["id"], {"customer": customer_id})
    elif pm["customer"] != customer_id:
        raise invalid_request(
            f"The customer does not have a payment method with the ID {pm['id']}. The payment method must be "
            "attached to the customer.",
            param=param,
        )
    return pm["id"]


def line_pricing(price: dict[str, Any] | None, unit_amount: int) -> dict[str, Any]:
    return {
        "price_details": {"price": price["id"], "product": price["product"]} if price else None,
        "type": "price_details",
        "unit_amount_decimal": str(unit_amount),
    }
