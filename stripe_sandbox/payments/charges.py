"""The Charge every PaymentIntent confirmation makes, succeeded or failed."""

from __future__ import annotations

import copy
from typing import Any

from stripe_sandbox.cards import card_for
from stripe_sandbox.core import Sandbox
from stripe_sandbox.errors import SandboxError
from stripe_sandbox.shapes.payments import CHARGE

#: Radar's scores for each risk level (0-100; https://docs.stripe.com/radar/risk-evaluation).
RISK_SCORES = {"normal": 20, "elevated": 70, "highest": 90}


def create_charge(
    sb: Sandbox, pi: dict[str, Any], pm: dict[str, Any], error: SandboxError | None
) -> dict[str, Any]:
    charge = sb.blank(CHARGE, "ch")
    succeeded = error is None
    risk_level = card_for(sb.meta(pm["id"]).get("number", "4242424242424242")).risk_level
    reason = None if error is None else error.decline_code or error.code
    blocked = reason == "fraudulent"
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
        "reason": reason,
        "risk_level": risk_level,
        "risk_score": RISK_SCORES[risk_level],
        "seller_message": _seller_message(reason, blocked),
        "type": "authorized" if succeeded else "blocked" if blocked else "issuer_declined",
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


def _seller_message(reason: str | None, blocked: bool) -> str:
    """``outcome.seller_message``, as Stripe words it for the merchant."""
    if reason is None:
        return "Payment complete."
    if blocked:
        return "Stripe blocked this payment as too risky."
    if reason == "generic_decline":
        return "The bank did not return any further details with this decline."
    return f"The bank returned the decline code `{reason}`."
