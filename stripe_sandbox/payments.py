"""Customers, payment methods, setup intents, payment intents and charges."""

from __future__ import annotations

import copy
import re
import time
from typing import Any

from stripe_sandbox import errors, shapes
from stripe_sandbox.cards import (
    DECLINE_MESSAGES,
    Behaviour,
    TestCard,
    card_for,
    fingerprint,
    luhn_ok,
    shortcut_number,
)
from stripe_sandbox.core import Sandbox
from stripe_sandbox.errors import SandboxError, invalid_request, missing_param
from stripe_sandbox.params import as_list, metadata_update, to_bool, to_int

ADDRESS_KEYS = ("city", "country", "line1", "line2", "postal_code", "state")


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """``previous_attributes``: the old value of every top-level field that changed."""
    return {k: before.get(k) for k in after if k != "__seq" and before.get(k) != after.get(k)}


def _address(value: Any, current: dict[str, Any] | None = None) -> dict[str, Any] | None:
    if value == "" or value is None:
        return None
    address = dict(current or dict.fromkeys(ADDRESS_KEYS))
    for key in ADDRESS_KEYS:
        if key in value:
            address[key] = value[key] or None
    return address


# customers ---------------------------------------------------------------------------------

CUSTOMER_FIELDS = ("name", "email", "description", "phone")


def create_customer(sb: Sandbox, params: dict[str, Any]) -> dict[str, Any]:
    customer = sb.blank(shapes.CUSTOMER, "cus", 14)
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
    for field in CUSTOMER_FIELDS:
        if field in params:
            customer[field] = params[field] or None
    if "metadata" in params:
        customer["metadata"] = metadata_update(customer.get("metadata"), params["metadata"])
    if "address" in params:
        customer["address"] = _address(params["address"], customer.get("address"))
    if "preferred_locales" in params:
        customer["preferred_locales"] = as_list(params["preferred_locales"])
    if "shipping" in params:
        shipping = params["shipping"]
        customer["shipping"] = (
            None
            if shipping == ""
            else {
                "address": _address(shipping.get("address", {})),
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
        customer["balance"] = to_int(params["balance"], "balance")


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


# payment methods ---------------------------------------------------------------------------


def _card_error(
    card: TestCard, *, param: str | None = None, extra: dict[str, Any] | None = None
) -> SandboxError:
    decline_code = card.decline_code or "generic_decline"
    return SandboxError(
        402,
        "card_error",
        DECLINE_MESSAGES.get(decline_code, "Your card was declined."),
        code=card.code,
        decline_code=decline_code if card.code == "card_declined" else None,
        param=param,
        extra=extra,
        keep_changes=True,
    )


def card_of(sb: Sandbox, pm_id: str) -> TestCard:
    return card_for(sb.meta(pm_id).get("number", "4242424242424242"))


def _new_card_pm(
    sb: Sandbox, number: str, exp_month: int, exp_year: int, params: dict[str, Any]
) -> dict[str, Any]:
    card = card_for(number)
    pm = sb.blank(shapes.PAYMENT_METHOD, "pm")
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
            bd["address"] = _address(details["address"], bd["address"]) or dict.fromkeys(ADDRESS_KEYS)
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
        return _new_card_pm(sb, number, 12, time.gmtime().tm_year + 3, params)
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
    return _new_card_pm(sb, number, 12, time.gmtime().tm_year + 3, {})["id"]


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
            pm["billing_details"]["address"] = _address(
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


# charges -----------------------------------------------------------------------------------


def _charge(
    sb: Sandbox, pi: dict[str, Any], pm: dict[str, Any], error: SandboxError | None
) -> dict[str, Any]:
    charge = sb.blank(shapes.CHARGE, "ch")
    succeeded = error is None
    charge.update(
        {
            "amount": pi["amount"],
            "amount_captured": pi["amount"] if succeeded else 0,
            "balance_transaction": sb.new_id("txn") if succeeded else None,
            "billing_details": copy.deepcopy(pm["billing_details"]),
            "captured": succeeded,
            "currency": pi["currency"],
            "customer": pi.get("customer"),
            "description": pi.get("description"),
            "failure_code": None if succeeded else error.code,
            "failure_message": None if succeeded else error.message,
            "metadata": dict(pi.get("metadata") or {}),
            "paid": succeeded,
            "payment_intent": pi["id"],
            "payment_method": pm["id"],
            "receipt_email": pi.get("receipt_email"),
            "receipt_url": f"{sb.public_url}/receipts/{pi['id']}",
            "refunds": {"data": [], "has_more": False, "object": "list", "url": ""},
            "status": "succeeded" if succeeded else "failed",
        }
    )
    charge["refunds"]["url"] = f"/v1/charges/{charge['id']}/refunds"
    charge["outcome"] = {
        "advice_code": None,
        "network_advice_code": None,
        "network_decline_code": None,
        "network_status": "approved_by_network" if succeeded else "declined_by_network",
        "reason": None if succeeded else error.decline_code,
        "risk_level": "normal",
        "risk_score": 20,
        "seller_message": "Payment complete."
        if succeeded
        else "The bank did not return any further details.",
        "type": "authorized" if succeeded else "issuer_declined",
    }
    card = pm["card"]
    charge["payment_method_details"] = {
        "card": {
            "amount_authorized": pi["amount"] if succeeded else None,
            "authorization_code": None,
            "brand": card["brand"],
            "checks": card["checks"],
            "country": card["country"],
            "exp_month": card["exp_month"],
            "exp_year": card["exp_year"],
            "extended_authorization": {"status": "disabled"},
            "fingerprint": card["fingerprint"],
            "incremental_authorization": {"status": "unavailable"},
            "multicapture": {"status": "unavailable"},
            "overcapture": {"maximum_amount_capturable": pi["amount"], "status": "unavailable"},
            "transaction_link_id": None,
            "funding": card["funding"],
            "installments": None,
            "last4": card["last4"],
            "mandate": None,
            "network": card["brand"],
            "network_token": {"used": False},
            "network_transaction_id": None,
            "regulated_status": None,
            "three_d_secure": None,
            "wallet": None,
        },
        "type": "card",
    }
    sb.save(charge)
    sb.emit("charge.succeeded" if succeeded else "charge.failed", charge)
    return charge


# setup intents -----------------------------------------------------------------------------


def _secret(object_id: str) -> str:
    return f"{object_id}_secret_{Sandbox.new_id('x', 24)[2:]}"


def create_setup_intent(sb: Sandbox, params: dict[str, Any]) -> dict[str, Any]:
    si = sb.blank(shapes.SETUP_INTENT, "seti")
    si["client_secret"] = _secret(si["id"])
    if params.get("customer"):
        si["customer"] = sb.require(params["customer"], "customer")["id"]
    si["usage"] = params.get("usage") or "off_session"
    si["payment_method_types"] = as_list(params.get("payment_method_types")) or ["card"]
    si["description"] = params.get("description") or None
    si["metadata"] = metadata_update({}, params.get("metadata", {}))
    si["payment_method_options"] = {
        "card": {"mandate_options": None, "network": None, "request_three_d_secure": "automatic"}
    }
    if params.get("payment_method"):
        si["payment_method"] = resolve_payment_method(sb, params["payment_method"])["id"]
        si["status"] = "requires_confirmation"
    sb.save(si)
    sb.emit("setup_intent.created", si)
    if params.get("confirm") and to_bool(params["confirm"], "confirm"):
        return confirm_setup_intent(sb, si["id"], {k: v for k, v in params.items() if k == "return_url"})
    return si


def update_setup_intent(sb: Sandbox, si_id: str, params: dict[str, Any]) -> dict[str, Any]:
    si = sb.require(si_id, label="setupintent")
    if "metadata" in params:
        si["metadata"] = metadata_update(si.get("metadata"), params["metadata"])
    if params.get("customer"):
        si["customer"] = sb.require(params["customer"], "customer")["id"]
    if params.get("payment_method"):
        si["payment_method"] = resolve_payment_method(sb, params["payment_method"])["id"]
        si["status"] = "requires_confirmation"
    if "description" in params:
        si["description"] = params["description"] or None
    sb.save(si)
    return si


def _payment_method_from_params(
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


def _challenge_action(sb: Sandbox, intent_id: str, return_url: str | None) -> dict[str, Any]:
    url = f"{sb.public_url}/challenge/{intent_id}"
    if return_url:
        return {
            "redirect_to_url": {"return_url": return_url, "url": f"{url}?return_url={return_url}"},
            "type": "redirect_to_url",
        }
    return {
        "type": "use_stripe_sdk",
        "use_stripe_sdk": {"type": "three_d_secure_redirect", "stripe_js": url, "source": sb.new_id("src")},
    }


def confirm_setup_intent(sb: Sandbox, si_id: str, params: dict[str, Any]) -> dict[str, Any]:
    si = sb.require(si_id, label="setupintent")
    if si["status"] in ("succeeded", "canceled"):
        raise invalid_request(
            f"You cannot confirm this SetupIntent because it has a status of {si['status']}.",
            code="setup_intent_unexpected_state",
            param="setup_intent",
        )
    pm = _payment_method_from_params(sb, params, si.get("payment_method"))
    if pm is None:
        raise invalid_request(
            "You cannot confirm this SetupIntent because it's missing a payment method. Update the "
            "SetupIntent with a payment method and then confirm it again.",
            code="setup_intent_unexpected_state",
        )
    if si.get("customer") and pm.get("customer") not in (None, si["customer"]):
        raise invalid_request(
            "The payment method you provided has already been attached to a customer.",
            param="payment_method",
            code="payment_method_already_attached",
        )
    si["payment_method"] = pm["id"]
    si["last_setup_error"] = None
    si["next_action"] = None
    card = card_of(sb, pm["id"])
    if card.behaviour is Behaviour.DECLINED:
        error = _card_error(card, extra={"payment_method": pm})
        si["status"] = "requires_payment_method"
        si["payment_method"] = None
        si["last_setup_error"] = error.as_last_error()
        si["last_setup_error"]["payment_method"] = copy.deepcopy(pm)
        sb.save(si)
        sb.emit("setup_intent.setup_failed", si)
        error.extra["setup_intent"] = copy.deepcopy(si)
        raise error
    if card.behaviour is Behaviour.AUTHENTICATE:
        si["status"] = "requires_action"
        si["next_action"] = _challenge_action(sb, si["id"], params.get("return_url"))
        sb.save(si)
        sb.emit("setup_intent.requires_action", si)
        return si
    return _succeed_setup(sb, si, pm)


def _succeed_setup(sb: Sandbox, si: dict[str, Any], pm: dict[str, Any]) -> dict[str, Any]:
    si["status"] = "succeeded"
    si["next_action"] = None
    sb.save(si)
    if si.get("customer") and pm.get("customer") != si["customer"]:
        attach_payment_method(sb, pm["id"], {"customer": si["customer"]}, verify=False)
    sb.emit("setup_intent.succeeded", si)
    return si


def cancel_setup_intent(sb: Sandbox, si_id: str, params: dict[str, Any]) -> dict[str, Any]:
    si = sb.require(si_id, label="setupintent")
    if si["status"] == "succeeded":
        raise invalid_request(
            "You cannot cancel this SetupIntent because it has a status of succeeded.",
            code="setup_intent_unexpected_state",
        )
    si["status"] = "canceled"
    si["cancellation_reason"] = params.get("cancellation_reason") or "requested_by_customer"
    si["next_action"] = None
    sb.save(si)
    sb.emit("setup_intent.canceled", si)
    return si


# payment intents ---------------------------------------------------------------------------


def create_payment_intent(
    sb: Sandbox, params: dict[str, Any], *, invoice_id: str | None = None
) -> dict[str, Any]:
    if "amount" not in params:
        raise missing_param("amount")
    if "currency" not in params:
        raise missing_param("currency")
    amount = to_int(params["amount"], "amount")
    if amount < 50 and not invoice_id:
        raise invalid_request("Amount must be at least 50 cents", param="amount", code="amount_too_small")
    pi = sb.blank(shapes.PAYMENT_INTENT, "pi")
    pi["client_secret"] = _secret(pi["id"])
    pi["amount"] = amount
    pi["currency"] = str(params["currency"]).lower()
    if params.get("customer"):
        pi["customer"] = sb.require(params["customer"], "customer")["id"]
    pi["description"] = params.get("description") or None
    pi["receipt_email"] = params.get("receipt_email") or None
    pi["metadata"] = metadata_update({}, params.get("metadata", {}))
    pi["payment_method_types"] = as_list(params.get("payment_method_types")) or ["card"]
    pi["setup_future_usage"] = params.get("setup_future_usage") or None
    pi["statement_descriptor"] = params.get("statement_descriptor") or None
    pi["amount_details"] = {"tip": {}}
    if params.get("payment_method"):
        pi["payment_method"] = resolve_payment_method(sb, params["payment_method"])["id"]
        pi["status"] = "requires_confirmation"
    sb.save(pi)
    if invoice_id:
        sb.update_meta(pi["id"], invoice=invoice_id)
    sb.emit("payment_intent.created", pi)
    if params.get("confirm") and to_bool(params["confirm"], "confirm"):
        confirm = {k: params[k] for k in ("off_session", "return_url") if k in params}
        return confirm_payment_intent(sb, pi["id"], confirm)
    return pi


def update_payment_intent(sb: Sandbox, pi_id: str, params: dict[str, Any]) -> dict[str, Any]:
    pi = sb.require(pi_id, label="payment_intent")
    if pi["status"] in ("succeeded", "canceled"):
        raise invalid_request(
            f"This PaymentIntent's status is {pi['status']} and cannot be updated.",
            code="payment_intent_unexpected_state",
        )
    if "amount" in params:
        pi["amount"] = to_int(params["amount"], "amount")
    for key in ("description", "receipt_email", "setup_future_usage"):
        if key in params:
            pi[key] = params[key] or None
    if "metadata" in params:
        pi["metadata"] = metadata_update(pi.get("metadata"), params["metadata"])
    if params.get("customer"):
        pi["customer"] = sb.require(params["customer"], "customer")["id"]
    if params.get("payment_method"):
        pi["payment_method"] = resolve_payment_method(sb, params["payment_method"])["id"]
        pi["status"] = "requires_confirmation"
    sb.save(pi)
    return pi


def confirm_payment_intent(
    sb: Sandbox, pi_id: str, params: dict[str, Any], *, authenticated: bool = False
) -> dict[str, Any]:
    """Attempt the payment. Declines raise a 402 after saving the failed state and its events."""
    pi = sb.require(pi_id, label="payment_intent")
    if pi["status"] not in ("requires_payment_method", "requires_confirmation", "requires_action"):
        raise invalid_request(
            f"You cannot confirm this PaymentIntent because it has a status of {pi['status']}.",
            code="payment_intent_unexpected_state",
            param="payment_intent",
        )
    pm = _payment_method_from_params(sb, params, pi.get("payment_method"))
    if pm is None:
        raise invalid_request(
            "You cannot confirm this PaymentIntent because it's missing a payment method. To confirm the "
            "PaymentIntent with cus_x, specify a payment method attached to this customer along with the "
            "customer ID.",
            code="payment_intent_unexpected_state",
        )
    if pm.get("customer") and pi.get("customer") and pm["customer"] != pi["customer"]:
        raise invalid_request(
            f"The provided PaymentMethod {pm['id']} is attached to another customer.", param="payment_method"
        )
    off_session = (
        to_bool(params.get("off_session", False), "off_session") if "off_session" in params else False
    )
    if off_session:
        sb.update_meta(pi["id"], off_session=True)
    meta = sb.meta(pi["id"])
    pi["payment_method"] = pm["id"]
    pi["last_payment_error"] = None
    pi["next_action"] = None
    card = card_of(sb, pm["id"])
    if sb.meta(pm["id"]).get("authenticated_once"):
        # Authenticated moments ago on a hosted page: this one charge needs no second challenge.
        authenticated = True
        sb.update_meta(pm["id"], authenticated_once=False)
    needs_auth = card.behaviour is Behaviour.AUTHENTICATE and not authenticated
    if needs_auth and meta.get("off_session") and not meta.get("invoice"):
        # Off-session with nobody to authenticate: Stripe fails the attempt (402 authentication_required).
        error = SandboxError(
            402,
            "card_error",
            "Your card was declined. This transaction requires authentication.",
            code="authentication_required",
            decline_code="authentication_required",
            keep_changes=True,
        )
        return _fail_payment(sb, pi, pm, error)
    if needs_auth:
        pi["status"] = "requires_action"
        pi["next_action"] = _challenge_action(sb, pi["id"], params.get("return_url"))
        sb.save(pi)
        sb.emit("payment_intent.requires_action", pi)
        _notify_invoice(sb, pi)
        return pi
    if card.behaviour in (Behaviour.DECLINED, Behaviour.CHARGE_FAILS):
        return _fail_payment(sb, pi, pm, _card_error(card))
    charge = _charge(sb, pi, pm, None)
    pi["status"] = "succeeded"
    pi["amount_received"] = pi["amount"]
    pi["latest_charge"] = charge["id"]
    pi["payment_method"] = pm["id"]
    sb.save(pi)
    if pi.get("setup_future_usage") and pi.get("customer") and not pm.get("customer"):
        attach_payment_method(sb, pm["id"], {"customer": pi["customer"]}, verify=False)
    elif not pm.get("customer"):
        sb.update_meta(pm["id"], consumed=True)
    sb.emit("payment_intent.succeeded", pi)
    _notify_invoice(sb, pi)
    return sb.require(pi["id"])


def _fail_payment(sb: Sandbox, pi: dict[str, Any], pm: dict[str, Any], error: SandboxError) -> dict[str, Any]:
    charge = _charge(sb, pi, pm, error)
    error.extra["charge"] = charge["id"]
    pi["status"] = "requires_payment_method"
    pi["latest_charge"] = charge["id"]
    pi["last_payment_error"] = error.as_last_error()
    pi["last_payment_error"]["payment_method"] = copy.deepcopy(pm)
    pi["payment_method"] = None
    sb.save(pi)
    sb.emit("payment_intent.payment_failed", pi)
    _notify_invoice(sb, pi)
    error.extra["payment_intent"] = copy.deepcopy(sb.require(pi["id"]))
    error.extra["payment_method"] = copy.deepcopy(pm)
    raise error


def _notify_invoice(sb: Sandbox, pi: dict[str, Any]) -> None:
    """A PaymentIntent that pays an invoice moves the invoice (and its subscription) along."""
    invoice_id = sb.meta(pi["id"]).get("invoice")
    if invoice_id:
        sb.on_invoice_payment(sb, invoice_id, pi)


def cancel_payment_intent(sb: Sandbox, pi_id: str, params: dict[str, Any]) -> dict[str, Any]:
    pi = sb.require(pi_id, label="payment_intent")
    if pi["status"] in ("succeeded", "canceled"):
        raise invalid_request(
            f"You cannot cancel this PaymentIntent because it has a status of {pi['status']}. Only a "
            "PaymentIntent with one of the following statuses may be canceled: requires_payment_method, "
            "requires_capture, requires_confirmation, requires_action, processing.",
            code="payment_intent_unexpected_state",
        )
    pi["status"] = "canceled"
    pi["canceled_at"] = sb.now()
    pi["cancellation_reason"] = params.get("cancellation_reason") or "requested_by_customer"
    pi["next_action"] = None
    sb.save(pi)
    sb.emit("payment_intent.canceled", pi)
    return pi


# 3-D Secure ------------------------------------------------------------------------------


def authenticate(sb: Sandbox, intent_id: str, succeed: bool) -> dict[str, Any]:
    """What the challenge page's Complete/Fail buttons do (also ``POST /_sandbox/authenticate``)."""
    intent = sb.require(intent_id)
    if intent["status"] != "requires_action":
        raise invalid_request(
            f"This intent has status {intent['status']}; only one that requires_action can be authenticated.",
            code="unexpected_state",
        )
    if intent["object"] == "setup_intent":
        pm = sb.require(intent["payment_method"])
        if succeed:
            return _succeed_setup(sb, intent, pm)
        intent["status"] = "requires_payment_method"
        intent["next_action"] = None
        intent["payment_method"] = None
        intent["last_setup_error"] = _authentication_failure("setup_intent", pm)
        sb.save(intent)
        sb.emit("setup_intent.setup_failed", intent)
        return intent
    if succeed:
        return confirm_payment_intent(sb, intent_id, {}, authenticated=True)
    pm = sb.require(intent["payment_method"])
    intent["status"] = "requires_payment_method"
    intent["next_action"] = None
    intent["payment_method"] = None
    intent["last_payment_error"] = {"charge": None, **_authentication_failure("payment_intent", pm)}
    sb.save(intent)
    sb.emit("payment_intent.payment_failed", intent)
    _notify_invoice(sb, intent)
    return sb.require(intent_id)


def _authentication_failure(intent_kind: str, payment_method: dict) -> dict:
    """The error Stripe records when 3-D Secure fails (``intent_kind``: setup_intent or payment_intent)."""
    code = f"{intent_kind}_authentication_failure"
    return {
        "advice_code": None,
        "code": code,
        "decline_code": None,
        "doc_url": f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}",
        "message": "We are unable to authenticate your payment method. Please choose a different payment "
        "method and try again.",
        "network_advice_code": None,
        "network_decline_code": None,
        "param": None,
        "payment_method": payment_method,
        "payment_method_type": "card",
        "type": "invalid_request_error",
    }
