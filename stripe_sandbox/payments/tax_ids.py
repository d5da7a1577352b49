"""A customer's tax IDs (``/v1/customers/{id}/tax_ids``), checked for their format as Stripe does.

Stripe refuses a value whose shape is wrong for its type with 400 ``tax_id_invalid`` ("Invalid value
for eu_vat.", param ``value``) before anything is saved; a well-formed EU or UK VAT number is then
verified against the government's register asynchronously (``verification.status`` ``pending``),
and types Stripe cannot verify say ``unavailable``.
"""

from __future__ import annotations

import re
from typing import Any

from stripe_sandbox.core import Sandbox
from stripe_sandbox.errors import SandboxError, invalid_request, missing_param, not_found
from stripe_sandbox.shapes.payments import TAX_ID

#: EU VAT number prefixes (Greece writes EL, Northern Ireland XI) and the country each stands for.
EU_VAT_COUNTRIES = {
    "AT": "AT", "BE": "BE", "BG": "BG", "CY": "CY", "CZ": "CZ", "DE": "DE", "DK": "DK", "EE": "EE",
    "EL": "GR", "ES": "ES", "FI": "FI", "FR": "FR", "HR": "HR", "HU": "HU", "IE": "IE", "IT": "IT",
    "LT": "LT", "LU": "LU", "LV": "LV", "MT": "MT", "NL": "NL", "PL": "PL", "PT": "PT", "RO": "RO",
    "SE": "SE", "SI": "SI", "SK": "SK", "XI": "GB",
}  # fmt: skip
#: The EU countries whose number has one exact shape (the rest: 8 to 12 letters and digits).
EU_VAT_SHAPES = {
    "DE": re.compile(r"\d{9}"),
    "AT": re.compile(r"U\d{8}"),
    "FR": re.compile(r"[0-9A-Z]{2}\d{9}"),
    "NL": re.compile(r"\d{9}B\d{2}"),
    "IT": re.compile(r"\d{11}"),
    "ES": re.compile(r"[0-9A-Z]\d{7}[0-9A-Z]"),
}
EU_VAT_ANY = re.compile(r"[0-9A-Z]{8,12}")

#: The shape of each type the sandbox checks exactly (https://docs.stripe.com/api/tax_ids/create).
SHAPES = {
    "vn_tin": re.compile(r"\d{10}(-?\d{3})?"),  # 10 digits, or 13 (a branch: 1234567890-123)
    "us_ein": re.compile(r"\d{2}-?\d{7}"),
    "gb_vat": re.compile(r"GB(\d{9}|\d{12}|GD\d{3}|HA\d{3})"),
}
COUNTRIES = {"vn_tin": "VN", "us_ein": "US", "gb_vat": "GB"}
#: Types Stripe verifies with the government's register; the rest are ``unavailable``.
VERIFIED_TYPES = frozenset({"eu_vat", "gb_vat", "au_abn"})
#: Any other type: what a tax ID can look like at all.
ANY_SHAPE = re.compile(r"[0-9A-Za-z][0-9A-Za-z .\-/]{2,30}")


def _invalid(tax_type: str) -> SandboxError:
    return invalid_request(f"Invalid value for {tax_type}.", param="value", code="tax_id_invalid")


def tax_id_country(tax_type: str, value: str) -> str | None:
    """The tax ID's country, or raise Stripe's ``tax_id_invalid`` for a value of the wrong shape."""
    if tax_type == "eu_vat":
        prefix, number = value[:2], value[2:]
        shape = EU_VAT_SHAPES.get(prefix, EU_VAT_ANY)
        if prefix not in EU_VAT_COUNTRIES or not shape.fullmatch(number):
            raise _invalid(tax_type)
        return EU_VAT_COUNTRIES[prefix]
    shape = SHAPES.get(tax_type, ANY_SHAPE)
    if not shape.fullmatch(value):
        raise _invalid(tax_type)
    return COUNTRIES.get(tax_type) or (tax_type[:2].upper() if tax_type[2:3] == "_" else None)


def create_tax_id(sb: Sandbox, customer_id: str, params: dict[str, Any]) -> dict[str, Any]:
    customer = sb.require(customer_id, "customer")
    for param in ("type", "value"):
        if not params.get(param):
            raise missing_param(param)
    tax_type, value = str(params["type"]), str(params["value"])
    country = tax_id_country(tax_type, value)
    tax_id = sb.blank(TAX_ID, "txi")
    tax_id.update(
        {
            "country": country,
            "customer": customer["id"],
            "owner": {"type": "customer", "customer": customer["id"]},
            "type": tax_type,
            "value": value,
            "verification": {
                "status": "pending" if tax_type in VERIFIED_TYPES else "unavailable",
                "verified_address": None,
                "verified_name": None,
            },
        }
    )
    sb.save(tax_id)
    sb.emit("customer.tax_id.created", tax_id)
    return tax_id


def customer_tax_ids(sb: Sandbox, customer_id: str) -> list[dict[str, Any]]:
    """The customer's tax IDs, oldest first (the order an invoice prints them in)."""
    return sorted(sb.all("tax_id", customer=customer_id), key=lambda t: t["__seq"])


def retrieve_tax_id(sb: Sandbox, customer_id: str, tax_id: str) -> dict[str, Any]:
    found = sb.get(tax_id)
    if found is None or found.get("object") != "tax_id" or found.get("customer") != customer_id:
        raise not_found("tax_id", tax_id)
    return found


def delete_tax_id(sb: Sandbox, customer_id: str, tax_id: str) -> dict[str, Any]:
    found = retrieve_tax_id(sb, customer_id, tax_id)
    sb.store.delete(found["id"])
    sb.emit("customer.tax_id.deleted", found)
    return {"id": found["id"], "object": "tax_id", "deleted": True}


def invoice_tax_ids(sb: Sandbox, customer_id: str) -> list[dict[str, Any]]:
    """``customer_tax_ids`` of an invoice: type and value of each, as they are now."""
    return [{"type": t["type"], "value": t["value"]} for t in customer_tax_ids(sb, customer_id)]
