"""Deleting a customer: its live subscriptions are canceled first, as at Stripe.

It lives in billing, not with the other customer calls in ``payments``, because it reaches into
subscriptions: payments sits below billing and never imports it.
"""

from __future__ import annotations

from typing import Any

from stripe_sandbox.billing.lifecycle import cancel_subscription
from stripe_sandbox.core import Sandbox
from stripe_sandbox.shapes import blank
from stripe_sandbox.shapes.payments import DELETED_CUSTOMER


def delete_customer(sb: Sandbox, customer_id: str) -> dict[str, Any]:
    customer = sb.require(customer_id)
    for sub in sb.all("subscription", customer=customer_id):
        if sub["status"] not in ("canceled", "incomplete_expired"):
            cancel_subscription(sb, sub["id"], {})
    for pm in sb.all("payment_method", customer=customer_id):
        pm["customer"] = None
        sb.save(pm)
    stub = blank(DELETED_CUSTOMER)
    stub["id"] = customer_id
    sb.save(stub, "customer")
    sb.emit("customer.deleted", customer)
    return stub
