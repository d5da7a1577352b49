"""Products and prices."""

from __future__ import annotations

from typing import Any

from stripe_sandbox.core import Sandbox
from stripe_sandbox.errors import invalid_request, missing_param
from stripe_sandbox.params import as_list, metadata_update, to_bool, to_int
from stripe_sandbox.shapes.catalog import PRICE, PRODUCT


def create_product(sb: Sandbox, params: dict[str, Any]) -> dict[str, Any]:
    if not params.get("name"):
        raise missing_param("name")
    product = sb.blank(PRODUCT, "prod", 14)
    if params.get("id"):
        if sb.get(params["id"]) is not None:
            raise invalid_request("Product already exists.", param="id", code="resource_already_exists")
        product["id"] = params["id"]
    product["updated"] = product["created"]
    _apply_product(product, params)
    sb.save(product)
    sb.emit("product.created", product)
    return product


def _apply_product(product: dict[str, Any], params: dict[str, Any]) -> None:
    for key in ("name", "description", "statement_descriptor", "unit_label", "url", "tax_code"):
        if key in params:
            product[key] = params[key] or None
    if "active" in params:
        product["active"] = to_bool(params["active"], "active")
    if "metadata" in params:
        product["metadata"] = metadata_update(product.get("metadata"), params["metadata"])
    if "images" in params:
        product["images"] = as_list(params["images"])
    if "default_price" in params:
        product["default_price"] = params["default_price"] or None


def update_product(sb: Sandbox, product_id: str, params: dict[str, Any]) -> dict[str, Any]:
    product = sb.require(product_id, label="product")
    before = dict(product)
    _apply_product(product, params)
    product["updated"] = sb.now()
    sb.save(product)
    changes = {k: before.get(k) for k in product if before.get(k) != product.get(k) and k != "updated"}
    if changes:
        sb.emit("product.updated", product, changes)
    return product


def list_products(sb: Sandbox, params: dict[str, Any]) -> list[dict[str, Any]]:
    products = sb.all("product")
    if "active" in params:
        active = to_bool(params["active"], "active")
        products = [p for p in products if p["active"] is active]
    ids = as_list(params.get("ids"))
    if ids:
        products = [p for p in products if p["id"] in ids]
    return products


def plan_from_price(price: dict[str, Any]) -> dict[str, Any]:
    """The legacy ``plan`` object Stripe still puts on subscription items."""
    recurring = price.get("recurring") or {}
    return {
        "active": price["active"],
        "amount": price["unit_amount"],
        "amount_decimal": price["unit_amount_decimal"],
        "billing_scheme": price["billing_scheme"],
        "created": price["created"],
        "currency": price["currency"],
        "id": price["id"],
        "interval": recurring.get("interval"),
        "interval_count": recurring.get("interval_count"),
        "livemode": False,
        "metadata": dict(price.get("metadata") or {}),
        "meter": None,
        "nickname": price.get("nickname"),
        "object": "plan",
        "product": price["product"],
        "tiers_mode": None,
        "transform_usage": None,
        "trial_period_days": None,
        "usage_type": "licensed",
    }


def create_price(sb: Sandbox, params: dict[str, Any]) -> dict[str, Any]:
    if not params.get("currency"):
        raise missing_param("currency")
    if "unit_amount" not in params and "unit_amount_decimal" not in params:
        raise missing_param("unit_amount")
    price = sb.blank(PRICE, "price")
    price["currency"] = str(params["currency"]).lower()
    amount = to_int(params.get("unit_amount", params.get("unit_amount_decimal")), "unit_amount")
    if amount < 0:
        raise invalid_request("Invalid integer: must be at least 0", param="unit_amount")
    price["unit_amount"] = amount
    price["unit_amount_decimal"] = str(amount)
    if params.get("product"):
        price["product"] = sb.require(params["product"], "product", "product")["id"]
    elif isinstance(params.get("product_data"), dict):
        price["product"] = create_product(sb, params["product_data"])["id"]
    else:
        raise missing_param("product")
    recurring = params.get("recurring")
    if isinstance(recurring, dict):
        interval = recurring.get("interval")
        if interval not in ("day", "week", "month", "year"):
            raise invalid_request("Invalid recurring[interval]", param="recurring[interval]")
        count = to_int(recurring.get("interval_count", 1), "recurring[interval_count]")
        if count < 1 or (interval == "month" and count > 36) or (interval == "year" and count > 3):
            raise invalid_request("Invalid recurring[interval_count]", param="recurring[interval_count]")
        price["recurring"] = {
            "interval": interval,
            "interval_count": count,
            "meter": None,
            "trial_period_days": None,
            "usage_type": "licensed",
        }
        price["type"] = "recurring"
    else:
        price["recurring"] = None
        price["type"] = "one_time"
    for key in ("nickname", "tax_behavior"):
        if key in params:
            price[key] = params[key] or price[key]
    if "active" in params:
        price["active"] = to_bool(params["active"], "active")
    price["metadata"] = metadata_update({}, params.get("metadata", {}))
    _set_lookup_key(sb, price, params)
    sb.save(price)
    sb.emit("price.created", price)
    return price


def _set_lookup_key(sb: Sandbox, price: dict[str, Any], params: dict[str, Any]) -> None:
    if "lookup_key" not in params:
        return
    key = params["lookup_key"] or None
    if key:
        holders = [p for p in sb.all("price") if p.get("lookup_key") == key and p["id"] != price["id"]]
        if holders and not to_bool(params.get("transfer_lookup_key", False), "transfer_lookup_key"):
            raise invalid_request(
                f"A price (`{holders[0]['id']}`) already uses that lookup key.",
                param="lookup_key",
            )
        for holder in holders:
            holder["lookup_key"] = None
            sb.save(holder)
    price["lookup_key"] = key


def update_price(sb: Sandbox, price_id: str, params: dict[str, Any]) -> dict[str, Any]:
    price = sb.require(price_id, label="price")
    before = dict(price)
    if "active" in params:
        price["active"] = to_bool(params["active"], "active")
    if "nickname" in params:
        price["nickname"] = params["nickname"] or None
    if "metadata" in params:
        price["metadata"] = metadata_update(price.get("metadata"), params["metadata"])
    _set_lookup_key(sb, price, params)
    sb.save(price)
    changes = {k: before.get(k) for k in price if before.get(k) != price.get(k)}
    if changes:
        sb.emit("price.updated", price, changes)
    return price


def list_prices(sb: Sandbox, params: dict[str, Any]) -> list[dict[str, Any]]:
    prices = sb.all("price")
    if "active" in params:
        active = to_bool(params["active"], "active")
        prices = [p for p in prices if p["active"] is active]
    if params.get("product"):
        prices = [p for p in prices if p["product"] == params["product"]]
    if params.get("type"):
        prices = [p for p in prices if p["type"] == params["type"]]
    if params.get("currency"):
        prices = [p for p in prices if p["currency"] == params["currency"]]
    keys = [str(k) for k in as_list(params.get("lookup_keys"))]
    if keys:
        prices = [p for p in prices if p.get("lookup_key") in keys]
    recurring = params.get("recurring")
    if isinstance(recurring, dict) and recurring.get("interval"):
        prices = [p for p in prices if (p.get("recurring") or {}).get("interval") == recurring["interval"]]
    return prices
