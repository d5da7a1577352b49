"""Customers and their payment methods (cards, the test shortcuts ``pm_card_visa``..., search)."""

from __future__ import annotations

import copy
import re
import time
from typing import Any

from stripe_sandbox import errors
from stripe_sandbox.cards import (
    DECLINE_MESSAGES,
    Behaviour,
    card_for,
    fingerprint,
    luhn_ok,
    shortcut_is_set_up,
    shortcut_number,
)
from stripe_sandbox.core import Sandbox
from stripe_sandbox.errors import SandboxError, invalid_request, missing_param
from stripe_sandbox.params import as_list, metadata_update, to_int
from stripe_sandbox.payments import balance
from stripe_sandbox.payments.common import ADDRESS_KEYS, address_param, card_of, diff
from stripe_sandbox.shapes.payments import CUSTOMER, PAYMENT_METHOD

CUSTOMER_FIELDS = ("name", "email", "description", "phone")
#: Stripe's longest values (https://docs.stripe.com/api/customers/create): email 512, name 256.
CUSTOMER_MAX_LENGTHS = {"email": 512, "name": 256}
#: What Stripe takes for an address: something@domain.tld, nothing blank around the @.
EMAIL_SHAPE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _check_customer_fields(params: dict[str, Any]) -> None:
    for field, longest in CUSTOMER_MAX_LENGTHS.items():
        value = params.get(field)
        if value and len(str(value)) > longest:
            raise invalid_request(
                f"Invalid string: {str(value)[:20]}...; must be at most {longest} characters", param=field
            )
    email = params.get("email")
    if email and not EMAIL_SHAPE.match(str(email)):
        raise invalid_request(f"Invalid email address: {email}", param="email", code="email_invalid")


def create_customer(sb: Sandbox, params: dict[str, Any]) -> dict[str, Any]:
    customer = sb.blank(CUSTOMER, "cus", 14)
    customer["invoice_prefix"] = customer["id"][4:12].upper()
    clock = params.get("test_clock")
    if clock:
        sb.require(clock, "test_clock")
        customer["test_clock"] = clock
    sb.save(customer)
    _apply_customer_params(sb, customer, params)
    if params.get("payment_method"):
        attach_payment_method(sb, params["payment_method"], {"customer": customer["id"]})
        customer = sb.require(customer["id"])
    sb.save(customer)
    sb.emit("customer.created", customer)
    return customer


def _apply_customer_params(sb: Sandbox, customer: dict[str, Any], params: dict[str, Any]) -> None:
    _check_customer_fields(params)
    for field in CUSTOMER_FIELDS:
        if field in params:
            customer[field] = params[field] or None
    if "metadata" in params:
        customer["metadata"] = metadata_update(customer.get("metadata"), params["metadata"])
    if "address" in params:
        customer["address"] = address_param(params["address"], customer.get("address"))
    if "preferred_locales" in params:
        customer["preferred_locales"] = as_list(params["preferred_locales"])
    if "shipping" in params:
        shipping = params["shipping"]
        customer["shipping"] = (
            None
            if shipping == ""
            else {
                "address": address_param(shipping.get("address", {})),
                "name": shipping.get("name"),
                "phone": None,
            }
        )
    settings = params.get("invoice_settings")
    if isinstance(settings, dict) and "default_payment_method" in settings:
        pm_id = settings["default_payment_method"] or None
        if pm_id:
            pm_id = _resolve_shortcut(sb, pm_id)
            pm = sb.get(pm_id)
            if pm is None:
                raise errors.not_found("PaymentMethod", pm_id, "invoice_settings[default_payment_method]")
            if pm.get("customer") != customer["id"]:
                raise invalid_request(
                    f"The customer does not have a payment method with the ID {pm_id}. The payment method "
                    "must be attached to the customer.",
                    param="invoice_settings[default_payment_method]",
                )
        customer["invoice_settings"]["default_payment_method"] = pm_id
    if "balance" in params:
        before = int(customer.get("balance") or 0)
        customer["balance"] = to_int(params["balance"], "balance")
        if customer["balance"] != before:
            balance.record_change(sb, customer, customer["balance"] - before, "adjustment")


def update_customer(sb: Sandbox, customer_id: str, params: dict[str, Any]) -> dict[str, Any]:
    customer = sb.require(customer_id)
    before = copy.deepcopy(customer)
    _apply_customer_params(sb, customer, params)
    sb.save(customer)
    changes = diff(before, customer)
    if changes:
        sb.emit("customer.updated", customer, changes)
    return customer


_SEARCH_CLAUSE = re.compile(
    r"""\s*(?:(AND|OR)\s+)?(metadata\[['"]([^'"]+)['"]\]|[a-z_]+)\s*(:|~)\s*['"]([^'"]*)['"]\s*""",
    re.IGNORECASE,
)


def search_matches(obj: dict[str, Any], query: str) -> bool:
    """Stripe's search language, the part the portal uses: ``field:'v'`` clauses joined by AND/OR."""
    pos = 0
    result: bool | None = None
    joiner = "AND"
    if not query.strip():
        raise invalid_request("Missing required param: query.", param="query")
    while pos < len(query):
        match = _SEARCH_CLAUSE.match(query, pos)
        if not match or match.end() == pos:
            raise invalid_request(f"Invalid search query: {query}", param="query")
        joiner = (match.group(1) or joiner).upper()
        field, meta_key, op, wanted = match.group(2), match.group(3), match.group(4), match.group(5)
        actual = (obj.get("metadata") or {}).get(meta_key) if meta_key is not None else obj.get(field)
        actual_text = "" if actual is None else str(actual)
        ok = wanted.lower() in actual_text.lower() if op == "~" else actual_text == wanted
        if field == "email" and op == ":":
            ok = actual_text.lower() == wanted.lower()
        result = ok if result is None else (result and ok if joiner == "AND" else result or ok)
        pos = match.end()
    return bool(result)


def _new_card_pm(
    sb: Sandbox, number: str, exp_month: int, exp_year: int, params: dict[str, Any]
) -> dict[str, Any]:
    card = card_for(number)
    pm = sb.blank(PAYMENT_METHOD, "pm")
    pm["card"].update(
        {
            "brand": card.brand,
            "display_brand": card.brand,
            "country": card.country,
            "exp_month": exp_month,
            "exp_year": exp_year,
            "fingerprint": fingerprint(number),
            "funding": card.funding,
            "last4": number[-4:],
            "networks": {"available": [card.brand], "preferred": None},
            "generated_from": None,
            "wallet": None,
            "three_d_secure_usage": {"supported": True},
            "checks": {"address_line1_check": None, "address_postal_code_check": None, "cvc_check": "pass"},
        }
    )
    details = params.get("billing_details")
    if isinstance(details, dict):
        bd = pm["billing_details"]
        for key in ("email", "name", "phone"):
            if key in details:
                bd[key] = details[key] or None
        if "address" in details:
            bd["address"] = address_param(details["address"], bd["address"]) or dict.fromkeys(ADDRESS_KEYS)
    if "metadata" in params:
        pm["metadata"] = metadata_update({}, params["metadata"])
    if params.get("allow_redisplay"):
        pm["allow_redisplay"] = params["allow_redisplay"]
    sb.save(pm)
    # The full number stays in private metadata: it decides the card's behaviour, and it is never
    # returned, as at real Stripe.
    sb.update_meta(pm["id"], number=number)
    return pm


def create_payment_method(sb: Sandbox, params: dict[str, Any]) -> dict[str, Any]:
    pm_type = params.get("type")
    if not pm_type:
        raise missing_param("type")
    if pm_type != "card":
        raise invalid_request(f"The sandbox only supports card payment methods, not {pm_type}.", param="type")
    card = params.get("card")
    if not isinstance(card, dict):
        raise missing_param("card")
    token = card.get("token")
    if token:
        number = shortcut_number(token)
        if number is None:
            raise errors.not_found("token", token, "card[token]")
        pm = _new_card_pm(sb, number, 12, time.gmtime().tm_year + 3, params)
        sb.update_meta(pm["id"], set_up=shortcut_is_set_up(token))
        return pm
    number = re.sub(r"[\s-]", "", str(card.get("number", "")))
    if not number:
        raise missing_param("card[number]")
    if not number.isdigit() or not 12 <= len(number) <= 19 or not luhn_ok(number):
        raise SandboxError(
            402, "card_error", "Your card number is incorrect.", code="incorrect_number", param="card[number]"
        )
    if "exp_month" not in card:
        raise missing_param("card[exp_month]")
    if "exp_year" not in card:
        raise missing_param("card[exp_year]")
    exp_month = to_int(card["exp_month"], "card[exp_month]")
    exp_year = to_int(card["exp_year"], "card[exp_year]")
    if exp_year < 100:
        exp_year += 2000
    if not 1 <= exp_month <= 12:
        raise SandboxError(
            402,
            "card_error",
            "Your card's expiration month is invalid.",
            code="invalid_expiry_month",
            param="card[exp_month]",
        )
    today = time.gmtime()
    if (exp_year, exp_month) < (today.tm_year, today.tm_mon):
        raise SandboxError(
            402,
            "card_error",
            "Your card's expiration year is in the past.",
            code="invalid_expiry_year",
            param="card[exp_year]",
        )
    cvc = str(card.get("cvc", "123"))
    if cvc and (not cvc.isdigit() or len(cvc) not in (3, 4)):
        raise SandboxError(
            402, "card_error", "Your card's security code is invalid.", code="invalid_cvc", param="card[cvc]"
        )
    return _new_card_pm(sb, number, exp_month, exp_year, params)


def _resolve_shortcut(sb: Sandbox, pm_id: str) -> str:
    """``pm_card_visa`` means "a new PaymentMethod for 4242...": create it and use its id."""
    number = shortcut_number(pm_id)
    if number is None or sb.get(pm_id) is not None:
        return pm_id
    pm = _new_card_pm(sb, number, 12, time.gmtime().tm_year + 3, {})
    sb.update_meta(pm["id"], set_up=shortcut_is_set_up(pm_id))
    return pm["id"]


def resolve_payment_method(sb: Sandbox, pm_id: Any, param: str = "payment_method") -> dict[str, Any]:
    if not isinstance(pm_id, str) or not pm_id:
        raise missing_param(param)
    pm = sb.get(_resolve_shortcut(sb, pm_id))
    if pm is None:
        raise errors.not_found("PaymentMethod", pm_id, param)
    return pm


def update_payment_method(sb: Sandbox, pm_id: str, params: dict[str, Any]) -> dict[str, Any]:
    pm = sb.require(pm_id, label="PaymentMethod")
    before = copy.deepcopy(pm)
    details = params.get("billing_details")
    if isinstance(details, dict):
        for key in ("email", "name", "phone"):
            if key in details:
                pm["billing_details"][key] = details[key] or None
        if "address" in details:
            pm["billing_details"]["address"] = address_param(
                details["address"], pm["billing_details"]["address"]
            ) or dict.fromkeys(ADDRESS_KEYS)
    card = params.get("card")
    if isinstance(card, dict):
        for key in ("exp_month", "exp_year"):
            if key in card:
                pm["card"][key] = to_int(card[key], f"card[{key}]")
    if "metadata" in params:
        pm["metadata"] = metadata_update(pm.get("metadata"), params["metadata"])
    if "allow_redisplay" in params:
        pm["allow_redisplay"] = params["allow_redisplay"]
    sb.save(pm)
    changes = diff(before, pm)
    if changes:
        sb.emit("payment_method.updated", pm, changes)
    return pm


def attach_payment_method(
    sb: Sandbox, pm_id: str, params: dict[str, Any], *, emit: bool = True, verify: bool = True
) -> dict[str, Any]:
    customer_id = params.get("customer")
    if not customer_id:
        raise missing_param("customer")
    customer = sb.require(customer_id, "customer")
    pm = resolve_payment_method(sb, pm_id, "payment_method")
    if pm.get("customer") == customer["id"]:
        return pm
    if pm.get("customer"):
        raise invalid_request(
            "The payment method you provided has already been attached to a customer.",
            param="payment_method",
            code="payment_method_already_attached",
        )
    if sb.meta(pm["id"]).get("consumed"):
        raise invalid_request(
            "The provided PaymentMethod was previously used with a PaymentIntent without Customer "
            "attachment, shared with a connected account without Customer attachment, or was detached "
            "from a Customer. It may not be used again. To use a PaymentMethod multiple times, you must "
            "attach it to a Customer first.",
            param="payment_method",
        )
    card = card_of(sb, pm["id"])
    if verify and card.behaviour is Behaviour.DECLINED:
        # Attaching runs a card check at Stripe: cards declined everywhere fail here already.
        raise SandboxError(
            402,
            "card_error",
            DECLINE_MESSAGES.get(card.decline_code or "", "Your card was declined."),
            code=card.code,
            decline_code=card.decline_code if card.code == "card_declined" else None,
            param="payment_method",
        )
    pm["customer"] = customer["id"]
    sb.save(pm)
    if emit:
        sb.emit("payment_method.attached", pm)
    return pm


def detach_payment_method(sb: Sandbox, pm_id: str) -> dict[str, Any]:
    pm = sb.require(pm_id, label="PaymentMethod")
    customer_id = pm.get("customer")
    if not customer_id:
        raise invalid_request(
            "The payment method you provided is not attached to a customer so detachment is impossible.",
            param="payment_method",
        )
    pm["customer"] = None
    sb.save(pm)
    sb.update_meta(pm["id"], consumed=True)
    customer = sb.get(customer_id)
    is_default = customer and customer.get("invoice_settings", {}).get("default_payment_method") == pm_id
    if is_default:
        update_customer(sb, customer_id, {"invoice_settings": {"default_payment_method": ""}})
    for sub in sb.all("subscription", customer=customer_id):
        if sub.get("default_payment_method") == pm_id:
            sub["default_payment_method"] = None
            sb.save(sub)
    sb.emit("payment_method.detached", pm, {"customer": customer_id})
    return pm


def payment_method_from_params(
    sb: Sandbox, params: dict[str, Any], current: str | None
) -> dict[str, Any] | None:
    if params.get("payment_method"):
        return resolve_payment_method(sb, params["payment_method"])
    data = params.get("payment_method_data")
    if isinstance(data, dict):
        return create_payment_method(sb, data)
    if current:
        return sb.get(current)
    return None
