"""SetupIntents: saving a card for later, with 3-D Secure when the card asks for it."""

from __future__ import annotations

import copy
from typing import Any

from stripe_sandbox.cards import AUTHENTICATES, Behaviour
from stripe_sandbox.core import Sandbox
from stripe_sandbox.errors import invalid_request
from stripe_sandbox.params import as_list, metadata_update, to_bool
from stripe_sandbox.payments.common import card_error, card_of, challenge_action, client_secret_for
from stripe_sandbox.payments.customers import (
    attach_payment_method,
    payment_method_from_params,
    resolve_payment_method,
)
from stripe_sandbox.shapes.payments import SETUP_INTENT


def create_setup_intent(sb: Sandbox, params: dict[str, Any]) -> dict[str, Any]:
    si = sb.blank(SETUP_INTENT, "seti")
    si["client_secret"] = client_secret_for(si["id"])
    if params.get("customer"):
        si["customer"] = sb.require(params["customer"], "customer")["id"]
    si["usage"] = params.get("usage") or "off_session"
    # ``allowed_payment_method_types`` replaced ``payment_method_types`` as a parameter in this API version.
    si["payment_method_types"] = as_list(params.get("allowed_payment_method_types")) or ["card"]
    si["description"] = params.get("description") or None
    si["metadata"] = metadata_update({}, params.get("metadata", {}))
    si["payment_method_options"] = {
        "card": {"mandate_options": None, "network": None, "request_three_d_secure": "automatic"}
    }
    if params.get("payment_method"):
        si["payment_method"] = resolve_payment_method(sb, params["payment_method"])["id"]
        si["status"] = "requires_confirmation"
    sb.save(si)
    sb.emit("setup_intent.created", si)
    if params.get("confirm") and to_bool(params["confirm"], "confirm"):
        return confirm_setup_intent(sb, si["id"], {k: v for k, v in params.items() if k == "return_url"})
    return si


def update_setup_intent(sb: Sandbox, si_id: str, params: dict[str, Any]) -> dict[str, Any]:
    si = sb.require(si_id, label="setupintent")
    if "metadata" in params:
        si["metadata"] = metadata_update(si.get("metadata"), params["metadata"])
    if params.get("customer"):
        si["customer"] = sb.require(params["customer"], "customer")["id"]
    if params.get("payment_method"):
        si["payment_method"] = resolve_payment_method(sb, params["payment_method"])["id"]
        si["status"] = "requires_confirmation"
    if "description" in params:
        si["description"] = params["description"] or None
    sb.save(si)
    return si


def confirm_setup_intent(sb: Sandbox, si_id: str, params: dict[str, Any]) -> dict[str, Any]:
    si = sb.require(si_id, label="setupintent")
    if si["status"] in ("succeeded", "canceled"):
        raise invalid_request(
            f"You cannot confirm this SetupIntent because it has a status of {si['status']}.",
            code="setup_intent_unexpected_state",
            param="setup_intent",
        )
    pm = payment_method_from_params(sb, params, si.get("payment_method"))
    if pm is None:
        raise invalid_request(
            "You cannot confirm this SetupIntent because it's missing a payment method. Update the "
            "SetupIntent with a payment method and then confirm it again.",
            code="setup_intent_unexpected_state",
        )
    if si.get("customer") and pm.get("customer") not in (None, si["customer"]):
        raise invalid_request(
            "The payment method you provided has already been attached to a customer.",
            param="payment_method",
            code="payment_method_already_attached",
        )
    si["payment_method"] = pm["id"]
    si["last_setup_error"] = None
    si["next_action"] = None
    card = card_of(sb, pm["id"])
    if card.behaviour is Behaviour.DECLINED:
        error = card_error(card, extra={"payment_method": pm})
        si["status"] = "requires_payment_method"
        si["payment_method"] = None
        si["last_setup_error"] = error.as_last_error()
        si["last_setup_error"]["payment_method"] = copy.deepcopy(pm)
        sb.save(si)
        sb.emit("setup_intent.setup_failed", si)
        error.extra["setup_intent"] = copy.deepcopy(si)
        raise error
    if card.behaviour in AUTHENTICATES:
        si["status"] = "requires_action"
        si["next_action"] = challenge_action(sb, si["id"], params.get("return_url"))
        sb.save(si)
        sb.emit("setup_intent.requires_action", si)
        return si
    return succeed_setup(sb, si, pm)


def succeed_setup(sb: Sandbox, si: dict[str, Any], pm: dict[str, Any]) -> dict[str, Any]:
    si["status"] = "succeeded"
    si["next_action"] = None
    sb.save(si)
    if si.get("usage", "off_session") == "off_session":
        # Set up for future use: off-session payments need no new authentication (3155).
        sb.update_meta(pm["id"], set_up=True)
    if si.get("customer") and pm.get("customer") != si["customer"]:
        attach_payment_method(sb, pm["id"], {"customer": si["customer"]}, verify=False)
    sb.emit("setup_intent.succeeded", si)
    return si


def cancel_setup_intent(sb: Sandbox, si_id: str, params: dict[str, Any]) -> dict[str, Any]:
    si = sb.require(si_id, label="setupintent")
    if si["status"] == "succeeded":
        raise invalid_request(
            "You cannot cancel this SetupIntent because it has a status of succeeded.",
            code="setup_intent_unexpected_state",
        )
    si["status"] = "canceled"
    si["cancellation_reason"] = params.get("cancellation_reason") or "requested_by_customer"
    si["next_action"] = None
    sb.save(si)
    sb.emit("setup_intent.canceled", si)
    return si
