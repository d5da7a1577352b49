"""Refunds of a charge (or of a PaymentIntent's charge), with Stripe's checks and events."""

from __future__ import annotations

from typing import Any

from stripe_sandbox.core import Sandbox
from stripe_sandbox.currencies import format_amount
from stripe_sandbox.errors import invalid_request
from stripe_sandbox.params import metadata_update, to_int

REASONS = ("duplicate", "fraudulent", "requested_by_customer")


def _charge_to_refund(sb: Sandbox, params: dict[str, Any]) -> dict[str, Any]:
    if params.get("charge"):
        return sb.require(params["charge"], "charge", "charge")
    if not params.get("payment_intent"):
        raise invalid_request(
            "One of the following params should be provided for this request: payment_intent or charge."
        )
    pi = sb.require(params["payment_intent"], "payment_intent", "payment_intent")
    charge = sb.get(pi.get("latest_charge") or "")
    if pi["status"] != "succeeded" or charge is None:
        raise invalid_request(
            f"This PaymentIntent ({pi['id']}) does not have a successful charge to refund.",
            param="payment_intent",
            code="charge_not_refundable",
        )
    return charge


def _amount(params: dict[str, Any], charge: dict[str, Any]) -> int:
    remaining = charge["amount_captured"] - charge["amount_refunded"]
    if remaining <= 0:
        raise invalid_request(
            f"Charge {charge['id']} has already been refunded.", code="charge_already_refunded"
        )
    amount = to_int(params["amount"], "amount") if params.get("amount") not in (None, "") else remaining
    if amount <= 0:
        raise invalid_request("This value must be greater than or equal to 1.", param="amount")
    if amount > remaining:
        raise invalid_request(
            f"Refund amount ({format_amount(amount, charge['currency'])}) is greater than unrefunded amount "
            f"on charge ({format_amount(remaining, charge['currency'])})",
            param="amount",
            code="amount_too_large",
        )
    return amount


def create_refund(sb: Sandbox, params: dict[str, Any]) -> dict[str, Any]:
    """``POST /v1/refunds``: all of what is left of the charge unless ``amount`` says less."""
    charge = _charge_to_refund(sb, params)
    if charge["status"] != "succeeded" or not charge["paid"]:
        raise invalid_request(f"Charge {charge['id']} has not succeeded.", code="charge_not_refundable")
    amount = _amount(params, charge)
    reason = params.get("reason") or None
    if reason is not None and reason not in REASONS:
        raise invalid_request(f"Invalid reason: must be one of {', '.join(REASONS)}", param="reason")
    refund = {
        "id": sb.new_id("re"),
        "object": "refund",
        "amount": amount,
        "balance_transaction": sb.new_id("txn"),
        "charge": charge["id"],
        "created": sb.now(),
        "currency": charge["currency"],
        "destination_details": {
            "card": {
                "reference_status": "pending",
                "reference_type": "acquirer_reference_number",
                "type": "refund",
            },
            "type": "card",
        },
        "metadata": metadata_update({}, params.get("metadata", {})),
        "payment_intent": charge.get("payment_intent"),
        "reason": reason,
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": "succeeded",
        "transfer_reversal": None,
    }
    sb.save(refund)
    charge["amount_refunded"] += amount
    charge["refunded"] = charge["amount_refunded"] >= charge["amount_captured"]
    refunds = charge.setdefault("refunds", {"object": "list", "data": [], "has_more": False, "url": ""})
    refunds["data"] = [refund, *refunds.get("data", [])]
    refunds["total_count"] = len(refunds["data"])
    sb.save(charge)
    sb.emit("charge.refunded", charge)
    sb.emit("refund.created", refund)
    return refund


def update_refund(sb: Sandbox, refund_id: str, params: dict[str, Any]) -> dict[str, Any]:
    """``POST /v1/refunds/{id}``: only its metadata changes; ``refund.updated`` says what did."""
    refund = sb.require(refund_id, label="refund")
    before = dict(refund.get("metadata") or {})
    if "metadata" in params:
        refund["metadata"] = metadata_update(refund.get("metadata"), params["metadata"])
    sb.save(refund)
    if refund["metadata"] != before:
        sb.emit("refund.updated", refund, {"metadata": before})
    return refund


def list_refunds(sb: Sandbox, params: dict[str, Any]) -> list[dict[str, Any]]:
    found = sb.all("refund")
    for key in ("charge", "payment_intent"):
        if params.get(key):
            found = [r for r in found if r.get(key) == params[key]]
    return found
