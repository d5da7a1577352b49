"""Blank events and test clocks."""

from __future__ import annotations

from typing import Any

EVENT: dict[str, Any] = {
    "api_version": None,
    "created": 0,
    "data": {
        "object": {
            "active": True,
            "aggregate_usage": None,
            "amount": 2000,
            "amount_decimal": "2000",
            "billing_scheme": "per_unit",
            "created": 1721948530,
            "currency": "usd",
            "id": "price_1PgafmB7WZ01zgkW6dKueIc5",
            "interval": "month",
            "interval_count": 1,
            "livemode": False,
            "metadata": {},
            "meter": None,
            "nickname": None,
            "object": "plan",
            "product": "prod_QXg1hqf4jFNsqG",
            "tiers_mode": None,
            "transform_usage": None,
            "trial_period_days": None,
            "usage_type": "licensed",
        }
    },
    "id": None,
    "livemode": False,
    "object": "event",
    "pending_webhooks": 0,
    "request": {"id": None, "idempotency_key": None},
    "type": "plan.created",
}


TEST_CLOCK: dict[str, Any] = {
    "created": 0,
    "deletes_after": 1234567890,
    "frozen_time": 1234567890,
    "id": None,
    "livemode": False,
    "name": None,
    "object": "test_helpers.test_clock",
    "status": "ready",
    "status_details": {},
}
