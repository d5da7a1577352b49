"""A customer's balance history: ``customer_balance_transaction`` objects, one per change of
``customer.balance`` (https://docs.stripe.com/api/customer_balance_transactions)."""

from __future__ import annotations

from typing import Any

from stripe_sandbox.core import Sandbox
from stripe_sandbox.errors import invalid_request, missing_param
from stripe_sandbox.params import metadata_update, to_int

OBJECT = "customer_balance_transaction"


def record_change(
    sb: Sandbox,
    customer: dict[str, Any],
    amount: int,
    kind: str,
    *,
    invoice: str | None = None,
    description: str | None = None,
    metadata: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Write the history line of a change of ``amount`` already applied to ``customer['balance']``."""
    txn = {
        "id": sb.new_id("cbtxn"),
        "object": OBJECT,
        "amount": amount,
        "checkout_session": None,
        "created": sb.now(),
        "credit_note": None,
        "currency": customer.get("currency") or "usd",
        "customer": customer["id"],
        "description": description,
        "ending_balance": int(customer.get("balance") or 0),
        "invoice": invoice,
        "livemode": False,
        "metadata": metadata or {},
        "type": kind,
    }
    sb.save(txn, OBJECT)
    return txn


def create_transaction(sb: Sandbox, customer_id: str, params: dict[str, Any]) -> dict[str, Any]:
    """``POST /v1/customers/{id}/balance_transactions``: an adjustment (negative: a credit)."""
    customer = sb.require(customer_id, "customer")
    if "amount" not in params:
        raise missing_param("amount")
    if not params.get("currency"):
        raise missing_param("currency")
    currency = str(params["currency"]).lower()
    if customer.get("currency") and customer["currency"] != currency:
        raise invalid_request(
            f"The currency {currency} does not match the customer's currency {customer['currency']}.",
            param="currency",
        )
    amount = to_int(params["amount"], "amount")
    customer["currency"] = customer.get("currency") or currency
    before = int(customer.get("balance") or 0)
    customer["balance"] = before + amount
    sb.save(customer)
    sb.emit("customer.updated", customer, {"balance": before})
    return record_change(
        sb,
        customer,
        amount,
        "adjustment",
        description=params.get("description") or None,
        metadata=metadata_update({}, params.get("metadata", {})),
    )


def list_transactions(sb: Sandbox, customer_id: str) -> list[dict[str, Any]]:
    sb.require(customer_id, "customer")
    return sb.all(OBJECT, customer=customer_id)
