"""PaymentIntents: charging a card; one that pays an invoice tells billing through the sandbox's hook."""

from __future__ import annotations

import copy
from typing import Any

from stripe_sandbox.cards import Behaviour, payment_needs_authentication
from stripe_sandbox.core import Sandbox
from stripe_sandbox.currencies import MAXIMUM_CHARGE, format_amount, minimum_charge
from stripe_sandbox.errors import SandboxError, invalid_request, missing_param
from stripe_sandbox.params import as_list, metadata_update, to_bool, to_int
from stripe_sandbox.payments.charges import create_charge
from stripe_sandbox.payments.common import (
    card_error,
    card_of,
    challenge_action,
    client_secret_for,
    take_forced_decline,
)
from stripe_sandbox.payments.customers import (
    attach_payment_method,
    payment_method_from_params,
    resolve_payment_method,
)
from stripe_sandbox.shapes.payments import PAYMENT_INTENT


def create_payment_intent(
    sb: Sandbox, params: dict[str, Any], *, invoice_id: str | None = None
) -> dict[str, Any]:
    if "amount" not in params:
        raise missing_param("amount")
    if "currency" not in params:
        raise missing_param("currency")
    amount = to_int(params["amount"], "amount")
    currency = str(params["currency"]).lower()
    minimum = minimum_charge(currency)
    if amount < minimum and not invoice_id:
        raise invalid_request(
            f"Amount must be at least {format_amount(minimum, currency)}",
            param="amount",
            code="amount_too_small",
        )
    if amount > MAXIMUM_CHARGE:
        raise invalid_request(
            f"Amount must be no more than {format_amount(MAXIMUM_CHARGE, currency)}",
            param="amount",
            code="amount_too_large",
        )
    if "off_session" in params and not to_bool(params.get("confirm", False), "confirm"):
        raise invalid_request(
            "You can only set `off_session` when `confirm` is set to `true`.", param="off_session"
        )
    pi = sb.blank(PAYMENT_INTENT, "pi")
    pi["client_secret"] = client_secret_for(pi["id"])
    pi["amount"] = amount
    pi["currency"] = str(params["currency"]).lower()
    if params.get("customer"):
        pi["customer"] = sb.require(params["customer"], "customer")["id"]
    pi["description"] = params.get("description") or None
    pi["receipt_email"] = params.get("receipt_email") or None
    pi["metadata"] = metadata_update({}, params.get("metadata", {}))
    # ``allowed_payment_method_types`` replaced ``payment_method_types`` as a parameter in this API version.
    pi["payment_method_types"] = as_list(params.get("allowed_payment_method_types")) or ["card"]
    pi["setup_future_usage"] = params.get("setup_future_usage") or None
    pi["statement_descriptor"] = params.get("statement_descriptor") or None
    pi["amount_details"] = {"tip": {}}
    if params.get("payment_method"):
        pi["payment_method"] = resolve_payment_method(sb, params["payment_method"])["id"]
        pi["status"] = "requires_confirmation"
    sb.save(pi)
    if invoice_id:
        sb.update_meta(pi["id"], invoice=invoice_id)
    sb.emit("payment_intent.created", pi)
    if params.get("confirm") and to_bool(params["confirm"], "confirm"):
        confirm = {k: params[k] for k in ("off_session", "return_url") if k in params}
        return confirm_payment_intent(sb, pi["id"], confirm)
    return pi


def update_payment_intent(sb: Sandbox, pi_id: str, params: dict[str, Any]) -> dict[str, Any]:
    pi = sb.require(pi_id, label="payment_intent")
    if pi["status"] in ("succeeded", "canceled"):
        raise invalid_request(
            f"This PaymentIntent's status is {pi['status']} and cannot be updated.",
            code="payment_intent_unexpected_state",
        )
    if "amount" in params:
        pi["amount"] = to_int(params["amount"], "amount")
    for key in ("description", "receipt_email", "setup_future_usage"):
        if key in params:
            pi[key] = params[key] or None
    if "metadata" in params:
        pi["metadata"] = metadata_update(pi.get("metadata"), params["metadata"])
    if params.get("customer"):
        pi["customer"] = sb.require(params["customer"], "customer")["id"]
    if params.get("payment_method"):
        pi["payment_method"] = resolve_payment_method(sb, params["payment_method"])["id"]
        pi["status"] = "requires_confirmation"
    sb.save(pi)
    return pi


def confirm_payment_intent(
    sb: Sandbox, pi_id: str, params: dict[str, Any], *, authenticated: bool = False
) -> dict[str, Any]:
    """Attempt the payment. Declines raise a 402 after saving the failed state and its events."""
    pi = sb.require(pi_id, label="payment_intent")
    if pi["status"] not in ("requires_payment_method", "requires_confirmation", "requires_action"):
        raise invalid_request(
            f"You cannot confirm this PaymentIntent because it has a status of {pi['status']}.",
            code="payment_intent_unexpected_state",
            param="payment_intent",
        )
    pm = payment_method_from_params(sb, params, pi.get("payment_method"))
    if pm is None:
        raise invalid_request(
            "You cannot confirm this PaymentIntent because it's missing a payment method. To confirm the "
            "PaymentIntent with cus_x, specify a payment method attached to this customer along with the "
            "customer ID.",
            code="payment_intent_unexpected_state",
        )
    if pm.get("customer") and pi.get("customer") and pm["customer"] != pi["customer"]:
        raise invalid_request(
            f"The provided PaymentMethod {pm['id']} is attached to another customer.", param="payment_method"
        )
    meta = sb.meta(pi["id"])
    off_session = _off_session(sb, pi["id"], params, meta)
    pi["payment_method"] = pm["id"]
    pi["last_payment_error"] = None
    pi["next_action"] = None
    card = card_of(sb, pm["id"])
    asks = _asks_for_authentication(sb, pm["id"], off_session) or _bank_asks(sb, pi["id"], pm["id"], meta)
    needs_auth = asks and not authenticated
    if needs_auth and off_session and not meta.get("invoice"):
        # Off-session with nobody to authenticate: Stripe fails the attempt (402 authentication_required).
        error = SandboxError(
            402,
            "card_error",
            "Your card was declined. This transaction requires authentication.",
            code="authentication_required",
            decline_code="authentication_required",
            keep_changes=True,
        )
        return _fail_payment(sb, pi, pm, error)
    if needs_auth:
        pi["status"] = "requires_action"
        pi["next_action"] = challenge_action(sb, pi["id"], params.get("return_url"))
        sb.save(pi)
        sb.emit("payment_intent.requires_action", pi)
        notify_invoice(sb, pi)
        return pi
    forced = None if authenticated and meta.get("bank_asks") else take_forced_decline(sb, pm["id"])
    if forced is not None:
        return _fail_payment(sb, pi, pm, forced)
    if card.behaviour in (Behaviour.DECLINED, Behaviour.CHARGE_FAILS, Behaviour.AUTHENTICATE_THEN_DECLINE):
        return _fail_payment(sb, pi, pm, card_error(card))
    if not off_session and (pi.get("setup_future_usage") or meta.get("invoice")):
        # An on-session payment that saves the card (or starts a subscription) sets it up for
        # later off-session payments, as a SetupIntent does.
        sb.update_meta(pm["id"], set_up=True)
    charge = create_charge(sb, pi, pm, None)
    pi["status"] = "succeeded"
    pi["amount_received"] = pi["amount"]
    pi["latest_charge"] = charge["id"]
    pi["payment_method"] = pm["id"]
    sb.save(pi)
    if pi.get("setup_future_usage") and pi.get("customer") and not pm.get("customer"):
        attach_payment_method(sb, pm["id"], {"customer": pi["customer"]}, verify=False)
    elif not pm.get("customer"):
        sb.update_meta(pm["id"], consumed=True)
    sb.emit("payment_intent.succeeded", pi)
    notify_invoice(sb, pi)
    return sb.require(pi["id"])


def _off_session(sb: Sandbox, pi_id: str, params: dict[str, Any], meta: dict[str, Any]) -> bool:
    """This attempt's ``off_session``: as given now, else as given when the intent was created."""
    if "off_session" not in params:
        return bool(meta.get("off_session"))
    off_session = to_bool(params["off_session"], "off_session")
    sb.update_meta(pi_id, off_session=off_session)
    return off_session


def _asks_for_authentication(sb: Sandbox, pm_id: str, off_session: bool) -> bool:
    pm_meta = sb.meta(pm_id)
    if pm_meta.get("authenticated_once"):
        # Authenticated moments ago on a hosted page: this one charge needs no second challenge.
        sb.update_meta(pm_id, authenticated_once=False)
        return False
    return payment_needs_authentication(
        card_of(sb, pm_id), off_session=off_session, set_up=bool(pm_meta.get("set_up"))
    )


def _bank_asks(sb: Sandbox, pi_id: str, pm_id: str, meta: dict[str, Any]) -> bool:
    """Does the test hook's ``authentication_required`` make the bank ask on an invoice's payment?

    Stripe does not fail an invoice's payment the bank wants confirmed: the PaymentIntent waits for
    the payer (``requires_action``) and the invoice sends ``invoice.payment_action_required``, as with
    a 3-D Secure card. The hook's charge is used up; the bank then asks on every attempt at this
    PaymentIntent until the payer confirms it (``bank_asks``)."""
    if not meta.get("invoice"):
        return False
    if meta.get("bank_asks"):
        return True
    forced = (sb.meta(pm_id).get("forced_decline") or {}).get("decline_code")
    if forced != "authentication_required":
        return False
    take_forced_decline(sb, pm_id)
    sb.update_meta(pi_id, bank_asks=True)
    meta["bank_asks"] = True
    return True


def _fail_payment(sb: Sandbox, pi: dict[str, Any], pm: dict[str, Any], error: SandboxError) -> dict[str, Any]:
    charge = create_charge(sb, pi, pm, error)
    error.extra["charge"] = charge["id"]
    pi["status"] = "requires_payment_method"
    pi["latest_charge"] = charge["id"]
    pi["last_payment_error"] = error.as_last_error()
    pi["last_payment_error"]["payment_method"] = copy.deepcopy(pm)
    pi["payment_method"] = None
    sb.save(pi)
    sb.emit("payment_intent.payment_failed", pi)
    notify_invoice(sb, pi)
    error.extra["payment_intent"] = copy.deepcopy(sb.require(pi["id"]))
    error.extra["payment_method"] = copy.deepcopy(pm)
    raise error


def notify_invoice(sb: Sandbox, pi: dict[str, Any]) -> None:
    """A PaymentIntent that pays an invoice moves the invoice (and its subscription) along."""
    invoice_id = sb.meta(pi["id"]).get("invoice")
    if invoice_id:
        sb.on_invoice_payment(sb, invoice_id, pi)


def cancel_payment_intent(sb: Sandbox, pi_id: str, params: dict[str, Any]) -> dict[str, Any]:
    pi = sb.require(pi_id, label="payment_intent")
    if pi["status"] in ("succeeded", "canceled"):
        raise invalid_request(
            f"You cannot cancel this PaymentIntent because it has a status of {pi['status']}. Only a "
            "PaymentIntent with one of the following statuses may be canceled: requires_payment_method, "
            "requires_capture, requires_confirmation, requires_action, processing.",
            code="payment_intent_unexpected_state",
        )
    pi["status"] = "canceled"
    pi["canceled_at"] = sb.now()
    pi["cancellation_reason"] = params.get("cancellation_reason") or "requested_by_customer"
    pi["next_action"] = None
    sb.save(pi)
    sb.emit("payment_intent.canceled", pi)
    return pi
