"""Blank products and prices."""

from __future__ import annotations

from typing import Any

PRICE: dict[str, Any] = {
    "active": True,
    "billing_scheme": "per_unit",
    "created": 0,
    "currency": "usd",
    "custom_unit_amount": None,
    "id": None,
    "livemode": False,
    "lookup_key": None,
    "metadata": {},
    "nickname": None,
    "object": "price",
    "product": "prod_QXg1hqf4jFNsqG",
    "recurring": {
        "interval": "month",
        "interval_count": 1,
        "meter": None,
        "trial_period_days": None,
        "usage_type": "licensed",
    },
    "tax_behavior": "unspecified",
    "tiers_mode": None,
    "transform_quantity": None,
    "type": "recurring",
    "unit_amount": 2000,
    "unit_amount_decimal": "2000",
}


PRODUCT: dict[str, Any] = {
    "active": True,
    "created": 0,
    "default_price": None,
    "description": None,
    "id": None,
    "images": [],
    "livemode": False,
    "marketing_features": [],
    "metadata": {},
    "name": "T-shirt",
    "object": "product",
    "package_dimensions": None,
    "shippable": None,
    "statement_descriptor": None,
    "tax_code": None,
    "type": "service",
    "unit_label": None,
    "updated": 1234567890,
    "url": None,
}
