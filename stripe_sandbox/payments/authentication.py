"""3-D Secure: completing or failing the challenge of a setup or payment intent."""

from __future__ import annotations

from typing import Any

from stripe_sandbox.core import Sandbox
from stripe_sandbox.errors import invalid_request
from stripe_sandbox.payments.payment_intents import confirm_payment_intent, notify_invoice
from stripe_sandbox.payments.setup_intents import succeed_setup


def authenticate(sb: Sandbox, intent_id: str, succeed: bool) -> dict[str, Any]:
    """What the challenge page's Complete/Fail buttons do (also ``POST /_sandbox/authenticate``)."""
    intent = sb.require(intent_id)
    if intent["status"] != "requires_action":
        raise invalid_request(
            f"This intent has status {intent['status']}; only one that requires_action can be authenticated.",
            code="unexpected_state",
        )
    if intent["object"] == "setup_intent":
        pm = sb.require(intent["payment_method"])
        if succeed:
            return succeed_setup(sb, intent, pm)
        intent["status"] = "requires_payment_method"
        intent["next_action"] = None
        intent["payment_method"] = None
        intent["last_setup_error"] = _authentication_failure("setup_intent", pm)
        sb.save(intent)
        sb.emit("setup_intent.setup_failed", intent)
        return intent
    if succeed:
        return confirm_payment_intent(sb, intent_id, {}, authenticated=True)
    pm = sb.require(intent["payment_method"])
    intent["status"] = "requires_payment_method"
    intent["next_action"] = None
    intent["payment_method"] = None
    intent["last_payment_error"] = {"charge": None, **_authentication_failure("payment_intent", pm)}
    sb.save(intent)
    sb.emit("payment_intent.payment_failed", intent)
    notify_invoice(sb, intent)
    return sb.require(intent_id)


def _authentication_failure(intent_kind: str, payment_method: dict) -> dict:
    """The error Stripe records when 3-D Secure fails (``intent_kind``: setup_intent or payment_intent)."""
    code = f"{intent_kind}_authentication_failure"
    return {
        "advice_code": None,
        "code": code,
        "decline_code": None,
        "doc_url": f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}",
        "message": "We are unable to authenticate your payment method. Please choose a different payment "
        "method and try again.",
        "network_advice_code": None,
        "network_decline_code": None,
        "param": None,
        "payment_method": payment_method,
        "payment_method_type": "card",
        "type": "invalid_request_error",
    }
