"""The practice's plans as Stripe prices name them."""

from __future__ import annotations

from portal.practices.models import Plan


def plan_from_price(price: dict) -> Plan | None:
    lookup_key = price.get("lookup_key")
    for plan in Plan:
        if lookup_key == plan.lookup_key:
            return plan
    recurring = price.get("recurring") or {}
    if recurring.get("interval") == "month":
        return {1: Plan.MONTHLY, 6: Plan.SEMIANNUAL}.get(int(recurring.get("interval_count") or 1))
    return None
