"""Coupons, promotion codes and the discounts they make (https://docs.stripe.com/api/coupons,
https://docs.stripe.com/api/promotion_codes, https://docs.stripe.com/billing/subscriptions/coupons).

A coupon says how much (``percent_off`` or ``amount_off`` in a ``currency``) and for how long
(``once``: one invoice; ``repeating``: ``duration_in_months``; ``forever``). A promotion code is a
customer-facing code for one coupon (``promotion[coupon]`` in this API version). Applying either to a
subscription makes a ``discount`` object (``di_...``, its ``source.coupon``, ``start`` and ``end``) and
counts one redemption; every invoice the subscription makes while the discount lasts shows it:
``discounts``, ``total_discount_amounts``, each line's ``discount_amounts``, ``subtotal`` before and
``total`` after it.
"""

from __future__ import annotations

import copy
import re
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from stripe_sandbox.billing.common import add_interval
from stripe_sandbox.core import Sandbox
from stripe_sandbox.errors import SandboxError, invalid_request, missing_param, not_found
from stripe_sandbox.params import as_list, metadata_update, to_bool, to_int

COUPON: dict[str, Any] = {
    "id": None,
    "object": "coupon",
    "amount_off": None,
    "applies_to": None,
    "created": 0,
    "currency": None,
    "currency_options": None,
    "duration": "once",
    "duration_in_months": None,
    "livemode": False,
    "max_redemptions": None,
    "metadata": {},
    "name": None,
    "percent_off": None,
    "redeem_by": None,
    "times_redeemed": 0,
    "valid": True,
}

PROMOTION_CODE: dict[str, Any] = {
    "id": None,
    "object": "promotion_code",
    "active": True,
    "code": None,
    "created": 0,
    "customer": None,
    "customer_account": None,
    "expires_at": None,
    "livemode": False,
    "max_redemptions": None,
    "metadata": {},
    "promotion": {"coupon": None, "type": "coupon"},
    "restrictions": {
        "currency_options": {},
        "first_time_transaction": False,
        "minimum_amount": None,
        "minimum_amount_currency": None,
    },
    "times_redeemed": 0,
}

#: The characters Stripe allows in a promotion code (the SDK's ``code`` doc): letters, digits, dashes.
CODE_PATTERN = re.compile(r"^[A-Za-z0-9-]{1,500}$")
COUPON_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,200}$")


# coupons -------------------------------------------------------------------------------------


def _positive(value: Any, param: str) -> int:
    number = to_int(value, param)
    if number < 1:
        raise invalid_request(
            f"This value must be greater than or equal to 1 (it currently is '{number}').", param=param
        )
    return number


def _percent(value: Any) -> float:
    try:
        percent = float(value)
    except (TypeError, ValueError):
        raise invalid_request(f"Invalid decimal: {value}", param="percent_off") from None
    if not 0 < percent <= 100:
        raise invalid_request(
            "Invalid percent_off: must be greater than 0 and less than or equal to 100.", param="percent_off"
        )
    return percent


def _amounts(params: dict[str, Any]) -> dict[str, Any]:
    has_percent, has_amount = (
        params.get("percent_off") not in (None, ""),
        params.get("amount_off")
        not in (
            None,
            "",
        ),
    )
    if has_percent == has_amount:
        raise invalid_request(
            "You must pass exactly one of percent_off or amount_off.",
            param="amount_off" if has_amount else "percent_off",
        )
    if has_percent:
        return {"percent_off": _percent(params["percent_off"])}
    if not params.get("currency"):
        raise invalid_request("You must pass currency when passing amount_off.", param="currency")
    return {
        "amount_off": _positive(params["amount_off"], "amount_off"),
        "currency": str(params["currency"]).lower(),
    }


def _duration(params: dict[str, Any]) -> dict[str, Any]:
    duration = params.get("duration") or "once"
    if duration not in ("once", "repeating", "forever"):
        raise invalid_request(f"Invalid duration: {duration}", param="duration")
    months = params.get("duration_in_months")
    if duration == "repeating":
        if months in (None, ""):
            raise invalid_request(
                "You must specify duration_in_months when duration is repeating.", param="duration_in_months"
            )
        return {"duration": duration, "duration_in_months": _positive(months, "duration_in_months")}
    if months not in (None, ""):
        raise invalid_request(
            "duration_in_months can only be set when duration is repeating.", param="duration_in_months"
        )
    return {"duration": duration, "duration_in_months": None}


def create_coupon(sb: Sandbox, params: dict[str, Any]) -> dict[str, Any]:
    coupon = sb.blank(COUPON, "", 8)
    coupon["id"] = coupon["id"].lstrip("_")
    if params.get("id"):
        if not COUPON_ID_PATTERN.match(str(params["id"])):
            raise invalid_request("Invalid coupon id.", param="id")
        if sb.get(str(params["id"])) is not None:
            raise invalid_request("Coupon already exists.", param="id", code="resource_already_exists")
        coupon["id"] = str(params["id"])
    coupon.update(_amounts(params))
    coupon.update(_duration(params))
    if params.get("max_redemptions") not in (None, ""):
        coupon["max_redemptions"] = _positive(params["max_redemptions"], "max_redemptions")
    if params.get("redeem_by") not in (None, ""):
        redeem_by = to_int(params["redeem_by"], "redeem_by")
        if redeem_by <= sb.now():
            raise invalid_request("Invalid timestamp: must be in the future", param="redeem_by")
        coupon["redeem_by"] = redeem_by
    applies_to = params.get("applies_to")
    if isinstance(applies_to, dict):
        coupon["applies_to"] = {"products": [str(p) for p in as_list(applies_to.get("products"))]}
    coupon["name"] = params.get("name") or None
    coupon["metadata"] = metadata_update({}, params.get("metadata", {}))
    sb.save(coupon, "coupon")
    sb.emit("coupon.created", coupon)
    return coupon


def coupon(sb: Sandbox, coupon_id: str, param: str = "id") -> dict[str, Any]:
    obj = sb.get(coupon_id) if isinstance(coupon_id, str) and coupon_id else None
    if obj is None or obj.get("object") != "coupon" or obj.get("deleted"):
        raise not_found("coupon", str(coupon_id), param)
    return with_validity(sb, obj)


def with_validity(sb: Sandbox, obj: dict[str, Any]) -> dict[str, Any]:
    """``valid``: not past ``redeem_by`` and not redeemed ``max_redemptions`` times."""
    expired = obj.get("redeem_by") is not None and obj["redeem_by"] <= sb.now()
    used_up = obj.get("max_redemptions") is not None and obj["times_redeemed"] >= obj["max_redemptions"]
    obj["valid"] = not (expired or used_up)
    return obj


def update_coupon(sb: Sandbox, coupon_id: str, params: dict[str, Any]) -> dict[str, Any]:
    obj = coupon(sb, coupon_id)
    before = copy.deepcopy(obj)
    if "name" in params:
        obj["name"] = params["name"] or None
    if "metadata" in params:
        obj["metadata"] = metadata_update(obj.get("metadata"), params["metadata"])
    sb.save(obj, "coupon")
    changes = {k: v for k, v in before.items() if obj.get(k) != v}
    if changes:
        sb.emit("coupon.updated", obj, changes)
    return obj


def delete_coupon(sb: Sandbox, coupon_id: str) -> dict[str, Any]:
    """Deleting a coupon stops new redemptions; discounts already made with it keep applying."""
    obj = coupon(sb, coupon_id)
    sb.emit("coupon.deleted", obj)
    sb.save({**obj, "deleted": True}, "coupon")
    return {"id": obj["id"], "object": "coupon", "deleted": True}


def list_coupons(sb: Sandbox) -> list[dict[str, Any]]:
    return [with_validity(sb, c) for c in sb.all("coupon") if not c.get("deleted")]


# promotion codes -----------------------------------------------------------------------------


def _promotion_coupon_id(params: dict[str, Any]) -> str:
    """``promotion[type]=coupon`` and ``promotion[coupon]`` (this API version's shape)."""
    promotion = params.get("promotion")
    if not isinstance(promotion, dict):
        raise missing_param("promotion")
    if promotion.get("type") != "coupon":
        raise invalid_request("Invalid promotion[type]: must be coupon", param="promotion[type]")
    if not promotion.get("coupon"):
        raise missing_param("promotion[coupon]")
    return str(promotion["coupon"])


def create_promotion_code(sb: Sandbox, params: dict[str, Any]) -> dict[str, Any]:
    linked = coupon(sb, _promotion_coupon_id(params), "promotion[coupon]")
    promo = sb.blank(PROMOTION_CODE, "promo")
    code = params.get("code") or sb.new_id("X", 8)[2:].upper()
    if not CODE_PATTERN.match(str(code)):
        raise invalid_request(
            "Invalid code: a promotion code may contain only letters, digits and dashes, "
            "and at most 500 characters.",
            param="code",
        )
    if find_active_code(sb, str(code)) is not None:
        raise invalid_request(
            f"An active promotion code with `code: {code}` already exists.",
            param="code",
            code="resource_already_exists",
        )
    promo.update({"code": str(code), "promotion": {"coupon": linked["id"], "type": "coupon"}})
    if "active" in params:
        promo["active"] = to_bool(params["active"], "active")
    if params.get("customer"):
        promo["customer"] = sb.require(params["customer"], "customer", "customer")["id"]
    if params.get("max_redemptions") not in (None, ""):
        limit = _positive(params["max_redemptions"], "max_redemptions")
        if linked.get("max_redemptions") is not None and limit > linked["max_redemptions"]:
            raise invalid_request(
                "The promotion code's max_redemptions cannot be greater than the coupon's.",
                param="max_redemptions",
            )
        promo["max_redemptions"] = limit
    if params.get("expires_at") not in (None, ""):
        expires_at = to_int(params["expires_at"], "expires_at")
        if expires_at <= sb.now():
            raise invalid_request("Invalid timestamp: must be in the future", param="expires_at")
        if linked.get("redeem_by") is not None and expires_at > linked["redeem_by"]:
            raise invalid_request(
                "The promotion code's expires_at cannot be after the coupon's redeem_by.", param="expires_at"
            )
        promo["expires_at"] = expires_at
    promo["metadata"] = metadata_update({}, params.get("metadata", {}))
    sb.save(promo, "promotion_code")
    sb.emit("promotion_code.created", promo)
    return promo


def promotion_code(sb: Sandbox, promo_id: str, param: str = "id") -> dict[str, Any]:
    obj = sb.get(promo_id) if isinstance(promo_id, str) and promo_id else None
    if obj is None or obj.get("object") != "promotion_code":
        raise not_found("promotion code", str(promo_id), param)
    return obj


def find_active_code(sb: Sandbox, code: str) -> dict[str, Any] | None:
    """Codes are unique, whatever their case, among active promotion codes."""
    for promo in sb.all("promotion_code"):
        if promo["active"] and promo["code"].lower() == code.lower():
            return promo
    return None


def update_promotion_code(sb: Sandbox, promo_id: str, params: dict[str, Any]) -> dict[str, Any]:
    promo = promotion_code(sb, promo_id)
    before = copy.deepcopy(promo)
    if "active" in params:
        active = to_bool(params["active"], "active")
        if active and not promo["active"] and find_active_code(sb, promo["code"]) is not None:
            raise invalid_request(
                f"An active promotion code with `code: {promo['code']}` already exists.",
                param="active",
                code="resource_already_exists",
            )
        promo["active"] = active
    if "metadata" in params:
        promo["metadata"] = metadata_update(promo.get("metadata"), params["metadata"])
    sb.save(promo, "promotion_code")
    changes = {k: v for k, v in before.items() if promo.get(k) != v}
    if changes:
        sb.emit("promotion_code.updated", promo, changes)
    return promo


def list_promotion_codes(sb: Sandbox, params: dict[str, Any]) -> list[dict[str, Any]]:
    promos = sb.all("promotion_code")
    if params.get("code"):
        promos = [p for p in promos if p["code"].lower() == str(params["code"]).lower()]
    if "active" in params:
        active = to_bool(params["active"], "active")
        promos = [p for p in promos if p["active"] == active]
    if params.get("coupon"):
        promos = [p for p in promos if p["promotion"]["coupon"] == params["coupon"]]
    if params.get("customer"):
        promos = [p for p in promos if p.get("customer") == params["customer"]]
    return promos


# redemption ----------------------------------------------------------------------------------


def _coupon_expired(coupon_id: str, param: str) -> SandboxError:
    return invalid_request(f"Coupon expired: {coupon_id}", param=param, code="coupon_expired")


def _check_promotion_code(sb: Sandbox, promo: dict[str, Any], customer_id: str | None, param: str) -> None:
    if not promo["active"]:
        raise invalid_request(f"Promotion code {promo['id']} is inactive.", param=param)
    if promo.get("expires_at") is not None and promo["expires_at"] <= sb.now():
        raise invalid_request(
            f"Promotion code {promo['id']} has expired.", param=param, code="promotion_code_expired"
        )
    if promo.get("max_redemptions") is not None and promo["times_redeemed"] >= promo["max_redemptions"]:
        raise invalid_request(
            f"Promotion code {promo['id']} has reached its maximum number of redemptions.", param=param
        )
    if promo.get("customer") and promo["customer"] != customer_id:
        raise invalid_request(
            f"Promotion code {promo['id']} cannot be redeemed by this customer.", param=param
        )


def _resolve(
    sb: Sandbox, raw: Any, index: int, customer_id: str | None, prefix: str
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(coupon, promotion code or None) of one ``discounts[i]`` entry, checked as redeemable."""
    if not isinstance(raw, dict) or not (raw.get("coupon") or raw.get("promotion_code")):
        raise invalid_request(
            "Each discount must have a coupon or a promotion_code.", param=f"{prefix}[{index}]"
        )
    if raw.get("coupon") and raw.get("promotion_code"):
        raise invalid_request(
            "You may only specify one of these parameters: coupon, promotion_code.",
            param=f"{prefix}[{index}][promotion_code]",
            code="parameters_exclusive",
        )
    promo = None
    if raw.get("promotion_code"):
        param = f"{prefix}[{index}][promotion_code]"
        promo = promotion_code(sb, str(raw["promotion_code"]), param)
        _check_promotion_code(sb, promo, customer_id, param)
        linked = coupon(sb, promo["promotion"]["coupon"], param)
    else:
        param = f"{prefix}[{index}][coupon]"
        linked = coupon(sb, str(raw["coupon"]), param)
    if not linked["valid"]:
        raise _coupon_expired(linked["id"], param)
    return linked, promo


def new_discounts(
    sb: Sandbox,
    raw_discounts: Any,
    customer_id: str | None,
    *,
    subscription: str | None = None,
    currency: str | None = None,
    prefix: str = "discounts",
    redeem: bool = True,
    start: int | None = None,
) -> list[dict[str, Any]]:
    """The discounts ``discounts=[{coupon}|{promotion_code}]`` asks for; ``redeem`` saves them and
    counts one redemption of each coupon and code (a preview passes ``False`` and changes nothing)."""
    made = []
    seen: set[str] = set()
    for index, raw in enumerate(as_list(raw_discounts)):
        linked, promo = _resolve(sb, raw, index, customer_id, prefix)
        if linked["id"] in seen:
            raise invalid_request(
                "The same coupon cannot be applied more than once.", param=f"{prefix}[{index}]"
            )
        seen.add(linked["id"])
        if currency and linked.get("currency") and linked["currency"] != currency:
            raise invalid_request(
                f"The coupon {linked['id']} is in {linked['currency']}, but this is billed in {currency}.",
                param=f"{prefix}[{index}]",
            )
        when = sb.now() if start is None else start
        end = None
        if linked["duration"] == "repeating":
            end = add_interval(when, "month", linked["duration_in_months"])
        made.append(
            {
                "id": sb.new_id("di"),
                "object": "discount",
                "checkout_session": None,
                "customer": customer_id,
                "customer_account": None,
                "end": end,
                "invoice": None,
                "invoice_item": None,
                "promotion_code": promo["id"] if promo else None,
                "source": {"coupon": linked["id"], "type": "coupon"},
                "start": when,
                "subscription": subscription,
                "subscription_item": None,
            }
        )
        if redeem:
            linked["times_redeemed"] += 1
            sb.save(with_validity(sb, linked), "coupon")
            if promo is not None:
                promo["times_redeemed"] += 1
                sb.save(promo, "promotion_code")
            sb.save(made[-1], "discount")
            sb.update_meta(made[-1]["id"], coupon=copy.deepcopy(linked))
    return made


def active_discounts(sb: Sandbox, sub: dict[str, Any] | None, at: int) -> list[dict[str, Any]]:
    """The subscription's discounts that still apply to an invoice made at ``at``."""
    out = []
    for discount_id in (sub or {}).get("discounts") or []:
        discount = sb.get(discount_id) if isinstance(discount_id, str) else discount_id
        if discount is None:
            continue
        if discount.get("end") is not None and at >= discount["end"]:
            continue
        out.append(discount)
    return out


def _coupon_of(sb: Sandbox, discount: dict[str, Any]) -> dict[str, Any]:
    return sb.meta(discount["id"]).get("coupon") or sb.get(discount["source"]["coupon"]) or {}


def apply_discounts(
    sb: Sandbox, invoice: dict[str, Any], lines: list[dict[str, Any]], discounts: list[dict[str, Any]]
) -> int:
    """Write each discount's share on the lines and the invoice; answer the total taken off.

    ``percent_off`` takes its share of every line (a proration credit too, as it was discounted);
    ``amount_off`` takes at most what the invoice comes to, shared over its positive lines."""
    taken = 0
    totals = []
    for discount in discounts:
        coupon_obj = _coupon_of(sb, discount)
        shares = _shares(coupon_obj, lines, taken)
        for line, share in zip(lines, shares, strict=True):
            if share:
                line["discount_amounts"] = [
                    *line.get("discount_amounts", []),
                    {"amount": share, "discount": discount["id"]},
                ]
                line["discounts"] = [*line.get("discounts", []), discount["id"]]
        amount = sum(shares)
        taken += amount
        totals.append({"amount": amount, "discount": discount["id"]})
    invoice["discounts"] = [d["id"] for d in discounts]
    invoice["total_discount_amounts"] = totals
    return taken


def _shares(coupon_obj: dict[str, Any], lines: list[dict[str, Any]], taken: int) -> list[int]:
    if coupon_obj.get("percent_off") is not None:
        percent = float(coupon_obj["percent_off"])
        # Half a cent rounds up (away from zero), as on Stripe's invoices.
        return [
            int((Decimal(line["amount"]) * Decimal(str(percent)) / 100).quantize(Decimal("1"), ROUND_HALF_UP))
            for line in lines
        ]
    subtotal = sum(line["amount"] for line in lines) - taken
    off = max(0, min(int(coupon_obj.get("amount_off") or 0), subtotal))
    positive = [line["amount"] if line["amount"] > 0 else 0 for line in lines]
    base = sum(positive)
    if not base or not off:
        return [0 for _ in lines]
    shares = [off * amount // base for amount in positive]
    last = max(range(len(lines)), key=lambda i: positive[i])
    shares[last] += off - sum(shares)
    return shares


def drop_ended(sb: Sandbox, sub: dict[str, Any], at: int) -> None:
    """Discounts whose ``end`` has passed leave the subscription, as at Stripe: a
    ``customer.discount.deleted`` for each, and the ``customer.subscription.updated`` that says so."""
    before = list(sub.get("discounts") or [])
    ended = []
    for discount_id in before:
        discount = sb.get(discount_id) if isinstance(discount_id, str) else discount_id
        if discount is not None and discount.get("end") is not None and at >= discount["end"]:
            ended.append(discount)
    if not ended:
        return
    gone = {d["id"] for d in ended}
    sub["discounts"] = [d for d in before if (d if isinstance(d, str) else d.get("id")) not in gone]
    sb.save(sub)
    for discount in ended:
        sb.emit("customer.discount.deleted", discount)
    sb.emit("customer.subscription.updated", sub, {"discounts": before})


def after_invoice(sb: Sandbox, sub: dict[str, Any], used: list[dict[str, Any]]) -> None:
    """A ``once`` discount is spent by the first invoice it applies to: the subscription drops it."""
    spent = {d["id"] for d in used if _coupon_of(sb, d).get("duration") == "once"}
    if spent:
        sub["discounts"] = [d for d in sub.get("discounts") or [] if d not in spent]


def amount_off(sb: Sandbox, discounts: list[dict[str, Any]], amounts: list[int]) -> list[int]:
    """Each amount's discount (a Checkout session's line items), as an invoice would share it."""
    lines = [{"amount": amount} for amount in amounts]
    apply_discounts(sb, {}, lines, discounts)
    return [sum(d["amount"] for d in line.get("discount_amounts", [])) for line in lines]


def redeemable_code(sb: Sandbox, code: str, customer_id: str | None) -> dict[str, Any] | None:
    """The active promotion code a customer typed, if it can be redeemed now (a hosted page's check)."""
    promo = find_active_code(sb, code) if CODE_PATTERN.match(code or "") else None
    if promo is None:
        return None
    try:
        _resolve(sb, {"promotion_code": promo["id"]}, 0, customer_id, "discounts")
    except SandboxError:
        return None
    return promo
