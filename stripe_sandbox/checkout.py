"""Checkout sessions (and what paying on the hosted page does) and billing portal sessions."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from stripe_sandbox.billing.discounts import amount_off, coupon_of, new_discounts, redeemable_code
from stripe_sandbox.billing.subscriptions import create_subscription
from stripe_sandbox.cards import AUTHENTICATES
from stripe_sandbox.catalog import create_price
from stripe_sandbox.core import Sandbox
from stripe_sandbox.errors import invalid_request, missing_param
from stripe_sandbox.params import as_list, metadata_update, to_int
from stripe_sandbox.payments.common import card_of
from stripe_sandbox.payments.customers import (
    attach_payment_method,
    create_customer,
    create_payment_method,
    update_customer,
)
from stripe_sandbox.payments.payment_intents import create_payment_intent
from stripe_sandbox.payments.tax_ids import create_tax_id, tax_id_country
from stripe_sandbox.shapes.checkout import BILLING_PORTAL_SESSION, CHECKOUT_SESSION

SESSION_LIFETIME = 24 * 3600


def _line_item(sb: Sandbox, price: dict[str, Any], quantity: int) -> dict[str, Any]:
    amount = price["unit_amount"] * quantity
    product = sb.get(price["product"]) or {}
    return {
        "id": sb.new_id("li"),
        "object": "item",
        "adjustable_quantity": None,
        "amount_discount": 0,
        "amount_subtotal": amount,
        "amount_tax": 0,
        "amount_total": amount,
        "currency": price["currency"],
        "description": product.get("name"),
        "metadata": {},
        "price": price,
        "quantity": quantity,
    }


def session_line_items(sb: Sandbox, session: dict[str, Any]) -> dict[str, Any]:
    items = sb.meta(session["id"]).get("line_items", [])
    return {
        "object": "list",
        "data": items,
        "has_more": False,
        "url": f"/v1/checkout/sessions/{session['id']}/line_items",
    }


def _at_least_one(value: Any, param: str) -> int:
    number = to_int(value, param)
    if number < 1:
        raise invalid_request(
            f"This value must be greater than or equal to 1 (it currently is '{number}').", param=param
        )
    return number


def _check_urls_and_customer(params: dict[str, Any]) -> None:
    """Stripe's refusals before a session exists (https://docs.stripe.com/api/checkout/sessions/create):
    ``customer`` and ``customer_email`` exclude each other; the return URLs must be URLs."""
    if params.get("customer") and params.get("customer_email"):
        raise invalid_request(
            "You may only specify one of these parameters: customer, customer_email.",
            param="customer_email",
            code="parameters_exclusive",
        )
    for param in ("success_url", "cancel_url", "return_url"):
        url = params.get(param)
        if url is None:
            continue
        parts = urlsplit(str(url))
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise invalid_request("Not a valid URL", param=param, code="url_invalid")
    trial = (params.get("subscription_data") or {}).get("trial_period_days")
    if trial is not None:
        _at_least_one(trial, "subscription_data[trial_period_days]")


def _collection_params(params: dict[str, Any], customer: dict[str, Any] | None) -> dict[str, Any]:
    """``billing_address_collection``, ``tax_id_collection`` and ``customer_update``, as Stripe checks
    them (https://docs.stripe.com/tax/checkout/tax-ids#existing-customers): with an existing customer,
    collecting a tax ID saves the business name as the customer's name, so ``customer_update[name]``
    must be ``auto``, and the customer needs an address or ``customer_update[address]=auto``."""
    update = params.get("customer_update") or {}
    if update and customer is None:
        raise invalid_request("customer_update can only be used with customer.", param="customer_update")
    tax_ids = params.get("tax_id_collection") or {}
    enabled = str(tax_ids.get("enabled", "false")).lower() == "true"
    if enabled and customer is not None:
        if update.get("name") != "auto":
            raise invalid_request(
                "tax_id_collection requires updating business name on the customer. To enable tax ID "
                "collection for an existing customer, please set `customer_update[name]` to `auto`.",
                param="tax_id_collection[enabled]",
            )
        if not (customer.get("address") or {}).get("country") and update.get("address") != "auto":
            raise invalid_request(
                "tax_id_collection requires a valid address on the customer. To enable tax ID collection "
                "for an existing customer, please set `customer_update[address]` to `auto`.",
                param="tax_id_collection[enabled]",
            )
    return {
        "billing_address_collection": params.get("billing_address_collection") or None,
        "tax_id_collection": {"enabled": enabled, "required": tax_ids.get("required") or "never"},
    }


def _session_price(sb: Sandbox, raw: dict[str, Any], index: int) -> dict[str, Any]:
    """``line_items[].price``, or an inline price from ``price_data`` (exactly one of the two)."""
    if raw.get("price") and raw.get("price_data"):
        raise invalid_request(
            "You may only specify one of these parameters: price, price_data.",
            param=f"line_items[{index}][price_data]",
            code="parameters_exclusive",
        )
    data = raw.get("price_data")
    if not isinstance(data, dict):
        return sb.require(raw.get("price"), f"line_items[{index}][price]", "price")
    fields = ("currency", "unit_amount", "unit_amount_decimal", "product", "product_data", "tax_behavior")
    inline = {key: data[key] for key in fields if key in data}
    if isinstance(data.get("recurring"), dict):
        inline["recurring"] = data["recurring"]
    return create_price(sb, inline)


def _check_currency(items: list[dict[str, Any]], customer: dict[str, Any] | None) -> None:
    """One currency per session, and the customer's (fixed by its first subscription or invoice):
    Stripe refuses the session otherwise, before any page is shown."""
    currencies = sorted({item["currency"] for item in items})
    if len(currencies) > 1:
        raise invalid_request(
            f"All line items must have the same currency; got {', '.join(currencies)}.", param="line_items"
        )
    fixed = (customer or {}).get("currency")
    if currencies and fixed and fixed != currencies[0]:
        raise invalid_request(
            "You cannot combine currencies on a single customer. This customer has an active "
            f"subscription, subscription schedule, discount, quote, or invoice item with currency {fixed}.",
            param="line_items",
        )


def create_session(sb: Sandbox, params: dict[str, Any]) -> dict[str, Any]:
    _check_urls_and_customer(params)
    mode = params.get("mode")
    if not mode:
        raise missing_param("mode")
    if mode not in ("payment", "subscription", "setup"):
        raise invalid_request(f"Invalid mode: {mode}", param="mode")
    ui_mode = params.get("ui_mode") or "hosted"
    if ui_mode == "hosted" and not params.get("success_url"):
        raise missing_param("success_url")
    raw_items = as_list(params.get("line_items"))
    if mode != "setup" and not raw_items:
        raise missing_param("line_items")
    items = []
    for index, raw in enumerate(raw_items):
        price = _session_price(sb, raw, index)
        quantity = _at_least_one(raw.get("quantity", 1), f"line_items[{index}][quantity]")
        items.append(_line_item(sb, price, quantity))
    customer = sb.require(params["customer"], "customer", "customer") if params.get("customer") else None
    _check_currency(items, customer)
    recurring = [i for i in items if i["price"]["type"] == "recurring"]
    if mode == "subscription" and not recurring:
        raise invalid_request(
            "You must provide at least one recurring price in `subscription` mode when using prices.",
            param="line_items",
        )
    if mode == "payment" and recurring:
        raise invalid_request(
            "You must provide only one-time prices in `payment` mode; use `subscription` mode for "
            "recurring ones.",
            param="line_items",
        )
    session = sb.blank(CHECKOUT_SESSION, "cs_test", 58)
    session["id"] = session["id"].replace("cs_test_", "cs_test_a1", 1)
    trial_days = (params.get("subscription_data") or {}).get("trial_period_days")
    # On trial, what is paid today is the one-time items only; the plan is billed when it ends.
    total = sum(i["amount_total"] for i in items if not (trial_days and i["price"]["type"] == "recurring"))
    session.update(_collection_params(params, customer))
    discounts = _session_discounts(sb, params, customer)
    session.update(
        {
            "amount_subtotal": total,
            "amount_total": total,
            "cancel_url": params.get("cancel_url") or None,
            "client_reference_id": params.get("client_reference_id") or None,
            "currency": items[0]["currency"] if items else None,
            "customer": customer["id"] if customer else None,
            "customer_creation": None if customer else "always" if mode != "payment" else "if_required",
            "customer_email": params.get("customer_email") or None,
            "expires_at": to_int(params["expires_at"], "expires_at")
            if params.get("expires_at")
            else sb.now() + SESSION_LIFETIME,
            "invoice": None,
            "metadata": metadata_update({}, params.get("metadata", {})),
            "mode": mode,
            "payment_intent": None,
            "payment_method_collection": "always" if mode == "subscription" else None,
            "payment_method_types": ["card"],
            "payment_status": "no_payment_required" if mode == "setup" else "unpaid",
            "status": "open",
            "submit_type": None if mode == "subscription" else "auto",
            "subscription": None,
            "success_url": params.get("success_url"),
            "ui_mode": ui_mode,
            "url": None,
            "locale": params.get("locale") or None,
        }
    )
    session["url"] = f"{sb.public_url}/checkout/{session['id']}"
    if "allow_promotion_codes" in params:
        session["allow_promotion_codes"] = params["allow_promotion_codes"] in (True, "true")
    sb.save(session)
    sb.update_meta(
        session["id"],
        line_items=items,
        trial_period_days=to_int(trial_days, "subscription_data[trial_period_days]") if trial_days else None,
    )
    _set_discounts(sb, session, discounts)
    sb.update_meta(
        session["id"],
        subscription_metadata=metadata_update(
            {}, (params.get("subscription_data") or {}).get("metadata", {})
        ),
        payment_intent_metadata=metadata_update(
            {}, (params.get("payment_intent_data") or {}).get("metadata", {})
        ),
        customer_update=dict(params.get("customer_update") or {}),
    )
    return session


def _session_discounts(
    sb: Sandbox, params: dict[str, Any], customer: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """``discounts`` checked as redeemable (redeemed when the session completes); it excludes
    ``allow_promotion_codes`` (https://docs.stripe.com/api/checkout/sessions/create)."""
    if params.get("discounts") and params.get("allow_promotion_codes") not in (None, "", "false", False):
        raise invalid_request(
            "You may only specify one of these parameters: allow_promotion_codes, discounts.",
            param="allow_promotion_codes",
            code="parameters_exclusive",
        )
    entries = as_list(params.get("discounts"))
    new_discounts(sb, entries, customer["id"] if customer else None, redeem=False)
    return [
        {"coupon": e.get("coupon") or None, "promotion_code": e.get("promotion_code") or None}
        for e in entries
    ]


def _set_discounts(sb: Sandbox, session: dict[str, Any], discounts: list[dict[str, Any]]) -> None:
    """The session's ``discounts`` and amounts after them; its line items' ``amount_discount``.

    On a trial what is paid today is the one-time items only (the plan is billed when it ends), so
    the discounts take from those; a plan line's own share is what the discounts would take of it
    when billed, and ``after_trial`` (meta) what it comes to then: a ``once`` discount is spent by
    today's invoice, the others still apply."""
    items = sb.meta(session["id"]).get("line_items", [])
    trial = sb.meta(session["id"]).get("trial_period_days")
    virtual = new_discounts(
        sb,
        [{k: v for k, v in d.items() if v} for d in discounts],
        session.get("customer"),
        redeem=False,
    )
    today = [not (trial and i["price"]["type"] == "recurring") for i in items]
    due = [i["amount_subtotal"] if now else 0 for i, now in zip(items, today, strict=True)]
    shares = amount_off(sb, virtual, due)
    later_shares = amount_off(sb, virtual, [i["amount_subtotal"] for i in items])
    lasting = [d for d in virtual if coupon_of(sb, d).get("duration") != "once"]
    after = amount_off(sb, lasting, [i["amount_subtotal"] for i in items])
    after_trial = {}
    for item, share, later, kept, now in zip(items, shares, later_shares, after, today, strict=True):
        item["amount_discount"] = share if now else later
        item["amount_total"] = item["amount_subtotal"] - item["amount_discount"]
        if not now:
            after_trial[item["id"]] = item["amount_subtotal"] - kept
    session["discounts"] = discounts
    session["amount_subtotal"] = sum(due)
    session["amount_total"] = sum(due) - sum(shares)
    session["total_details"] = {**session["total_details"], "amount_discount": sum(shares)}
    sb.save(session)
    sb.update_meta(
        session["id"],
        line_items=items,
        discounts=[{k: v for k, v in d.items() if v} for d in discounts],
        after_trial=after_trial,
    )


def apply_promotion_code(sb: Sandbox, session_id: str, code: str) -> dict[str, Any]:
    """The hosted page's "Add promotion code": an active, redeemable code, whatever its case."""
    session = sb.require(session_id, label="checkout.session")
    if session["status"] != "open" or not session.get("allow_promotion_codes"):
        raise invalid_request("This Checkout Session does not accept promotion codes.")
    promo = redeemable_code(sb, code.strip(), session.get("customer"))
    if promo is None:
        raise invalid_request("This code is invalid.", param="promotion_code")
    _set_discounts(sb, session, [{"coupon": None, "promotion_code": promo["id"]}])
    return session


def expire_session(sb: Sandbox, session_id: str) -> dict[str, Any]:
    session = sb.require(session_id, label="checkout.session")
    if session["status"] != "open":
        raise invalid_request(
            'Only Checkout Sessions with a status in ["open"] can be expired. This Checkout Session '
            f'has a status of "{session["status"]}".',
            param="session",
        )
    session["status"] = "expired"
    session["url"] = None
    sb.save(session)
    sb.emit("checkout.session.expired", session)
    return session


def needs_authentication(sb: Sandbox, pm_id: str) -> bool:
    return card_of(sb, pm_id).behaviour in AUTHENTICATES


#: The address fields the hosted page asks for when ``billing_address_collection`` is ``required``.
ADDRESS_FIELDS = ("line1", "line2", "city", "state", "postal_code", "country")
REQUIRED_ADDRESS_FIELDS = ("line1", "city", "postal_code", "country")


def _check_collected(session: dict[str, Any], collected: dict[str, Any]) -> None:
    """What the hosted page refuses before paying: an incomplete required address, a tax ID of the
    wrong shape for its type (Stripe's words), a tax ID without the business's name."""
    address = collected.get("address") or {}
    if session.get("billing_address_collection") == "required" and not all(
        address.get(key) for key in REQUIRED_ADDRESS_FIELDS
    ):
        raise invalid_request("Your billing address is incomplete.", param="billing_address")
    tax_id = collected.get("tax_id")
    if tax_id and (session.get("tax_id_collection") or {}).get("enabled"):
        tax_id_country(tax_id["type"], tax_id["value"])
        if not collected.get("business_name"):
            raise invalid_request("Enter the business name that goes with the tax ID.", param="business_name")


def start_payment(
    sb: Sandbox,
    session_id: str,
    card: dict[str, Any],
    details: dict[str, Any],
    collected: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The hosted page's Pay button, first half: a PaymentMethod from the typed card, and what the
    page collected (address, business name, tax ID) checked and kept for the second half."""
    session = sb.require(session_id, label="checkout.session")
    if session["status"] != "open":
        raise invalid_request("This Checkout Session is no longer open.")
    collected = collected or {}
    _check_collected(session, collected)
    sb.update_meta(session_id, collected=collected)
    if collected.get("address"):
        details = {**details, "address": collected["address"]}
    return create_payment_method(sb, {"type": "card", "card": card, "billing_details": details})


def _save_collected(
    sb: Sandbox, session: dict[str, Any], customer_id: str, new_customer: bool
) -> dict[str, Any]:
    """Write what the page collected to the customer as Stripe does: the address and the business
    name when the customer is new or ``customer_update`` says ``auto``, the tax ID as a tax ID object."""
    meta = sb.meta(session["id"])
    collected, update = meta.get("collected") or {}, meta.get("customer_update") or {}
    params: dict[str, Any] = {}
    if collected.get("address") and (new_customer or update.get("address") == "auto"):
        params["address"] = collected["address"]
    tax_id = collected.get("tax_id") if (session.get("tax_id_collection") or {}).get("enabled") else None
    if tax_id and (new_customer or update.get("name") == "auto"):
        params["name"] = collected["business_name"]
    if params:
        update_customer(sb, customer_id, params)
    if tax_id:
        create_tax_id(sb, customer_id, tax_id)
    return {**collected, "tax_id": tax_id}


def complete_payment(sb: Sandbox, session_id: str, pm_id: str, *, authenticated: bool = False) -> str:
    """Second half: customer, card, subscription or payment; returns the success URL."""
    session = sb.require(session_id, label="checkout.session")
    if session["status"] != "open":
        raise invalid_request("This Checkout Session is no longer open.")
    pm = sb.require(pm_id, label="PaymentMethod")
    meta = sb.meta(session_id)
    customer_id = session.get("customer")
    email = session.get("customer_email") or pm["billing_details"].get("email")
    new_customer = not customer_id
    if not customer_id:
        customer_id = create_customer(
            sb, {"email": email or "", "name": pm["billing_details"].get("name") or ""}
        )["id"]
    collected = _save_collected(sb, session, customer_id, new_customer)
    customer = sb.require(customer_id)
    if authenticated:
        # The buyer just passed 3-D Secure on this page: the first charge goes through without asking again.
        sb.update_meta(pm_id, authenticated_once=True)
    items = meta.get("line_items", [])
    if session["mode"] == "subscription":
        attach_payment_method(sb, pm_id, {"customer": customer_id})
        update_customer(sb, customer_id, {"invoice_settings": {"default_payment_method": pm_id}})
        sub = create_subscription(
            sb,
            {
                "customer": customer_id,
                "items": [
                    {"price": i["price"]["id"], "quantity": i["quantity"]}
                    for i in items
                    if i["price"]["type"] == "recurring"
                ],
                "add_invoice_items": [
                    {"price": i["price"]["id"], "quantity": i["quantity"]}
                    for i in items
                    if i["price"]["type"] != "recurring"
                ],
                "metadata": meta.get("subscription_metadata") or {},
                "discounts": meta.get("discounts") or [],
                "default_payment_method": pm_id,
                "payment_behavior": "error_if_incomplete",
                "trial_period_days": meta.get("trial_period_days"),
            },
        )
        session["subscription"] = sub["id"]
        session["invoice"] = sub["latest_invoice"]
    elif session["mode"] == "payment":
        new_discounts(sb, meta.get("discounts") or [], customer_id)  # one redemption each
        pi = create_payment_intent(
            sb,
            {
                "amount": session["amount_total"],
                "currency": session["currency"],
                "customer": customer_id,
                "payment_method": pm_id,
                "metadata": meta.get("payment_intent_metadata") or {},
                "receipt_email": email or "",
                "confirm": "true",
            },
        )
        session["payment_intent"] = pi["id"]
    else:
        attach_payment_method(sb, pm_id, {"customer": customer_id})
    session.update(
        {
            "status": "complete",
            "payment_status": "no_payment_required" if session["mode"] == "setup" else "paid",
            "customer": customer_id,
            "url": None,
            "customer_details": _customer_details(customer, pm, email, collected),
        }
    )
    sb.save(session)
    sb.emit("checkout.session.completed", session)
    success = session.get("success_url") or "/"
    return success.replace("{CHECKOUT_SESSION_ID}", session["id"])


def _customer_details(
    customer: dict[str, Any], pm: dict[str, Any], email: str | None, collected: dict[str, Any]
) -> dict[str, Any]:
    """The session's ``customer_details``: what the buyer entered on the page, else the customer's."""
    tax_id = collected.get("tax_id")
    return {
        "address": collected.get("address") or customer.get("address"),
        "business_name": collected.get("business_name") if tax_id else None,
        "email": customer.get("email") or email,
        "individual_name": None,
        "name": (collected.get("business_name") if tax_id else None)
        or customer.get("name")
        or pm["billing_details"].get("name"),
        "phone": customer.get("phone"),
        "tax_exempt": "none",
        "tax_ids": [{"type": tax_id["type"], "value": tax_id["value"]}] if tax_id else [],
    }


def create_portal_session(sb: Sandbox, params: dict[str, Any]) -> dict[str, Any]:
    if not params.get("customer"):
        raise missing_param("customer")
    customer = sb.require(params["customer"], "customer", "customer")
    session = sb.blank(BILLING_PORTAL_SESSION, "bps")
    session.update(
        {
            "customer": customer["id"],
            "return_url": params.get("return_url") or None,
            "locale": params.get("locale") or None,
            "url": "",
        }
    )
    session["url"] = f"{sb.public_url}/billing_portal/{session['id']}"
    sb.save(session)
    return session
