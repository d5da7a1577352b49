"""``POST /webhooks/stripe``: verify, store, dispatch. Stripe retries anything but a 2xx."""

from __future__ import annotations

import logging

from flask import Blueprint, request

from portal.gateway.errors import InvalidWebhook
from portal.gateway.webhooks import verify_event
from portal.webhooks import services

log = logging.getLogger("portal.webhooks")

#: Exempt from CSRF and throttles by ``register_blueprints``: Stripe signs its requests, and its
#: bursts and retries must never be throttled away.
bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")


@bp.post("/stripe")
def stripe_webhook():
    payload = request.get_data(cache=False)
    try:
        event = verify_event(payload, request.headers.get("Stripe-Signature"), services.webhook_secrets())
    except InvalidWebhook as error:
        log.warning("webhook rejected remote=%s reason=%s", request.remote_addr, error)
        return {"error": "invalid webhook"}, 400
    outcome = services.receive_event(event, payload.decode("utf-8"))
    if outcome is services.Outcome.FAILED:
        return {"received": True, "outcome": outcome.value}, 500
    return {"received": True, "outcome": outcome.value}, 200
