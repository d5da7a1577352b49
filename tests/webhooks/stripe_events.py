"""Real-shaped Stripe events for tests: Stripe's own example objects, signed the way Stripe signs."""

from __future__ import annotations

import copy
import hashlib
import hmac
import itertools
import json
import time
from pathlib import Path

from portal.billing.gateway import API_VERSION

FIXTURES: dict[str, dict] = json.loads(
    (Path(__file__).parents[1] / "fixtures" / "stripe" / "fixtures.json").read_text()
)["resources"]

#: The endpoint secrets the webhook tests configure: the current one and one being rotated out.
SECRET = "whsec_test_current"
OLD_SECRET = "whsec_test_previous"
SECRETS_CONFIG = f"{SECRET}, {OLD_SECRET}"

_ids = itertools.count(1)


def stripe_object(resource: str, **fields) -> dict:
    """A deep copy of Stripe's example ``resource`` object with ``fields`` replaced."""
    obj = copy.deepcopy(FIXTURES[resource])
    obj.update(fields)
    return obj


def payment_method(
    pm_id: str,
    customer: str | None,
    *,
    brand: str = "visa",
    last4: str = "4242",
    exp_month: int = 8,
    exp_year: int = 2030,
) -> dict:
    obj = stripe_object("payment_method", id=pm_id, customer=customer)
    obj["card"].update(brand=brand, display_brand=brand, last4=last4, exp_month=exp_month, exp_year=exp_year)
    return obj


def customer(cus_id: str, *, default_payment_method: str | None = None) -> dict:
    obj = stripe_object("customer", id=cus_id, email="jenny@example.com", name="Jenny Rosen")
    obj["invoice_settings"]["default_payment_method"] = default_payment_method
    return obj


def deleted_customer(cus_id: str) -> dict:
    return stripe_object("deleted_customer", id=cus_id)


def make_event(
    event_type: str, obj: dict, *, created: int | None = None, event_id: str | None = None
) -> dict:
    """An event shaped like Stripe's example ``event`` wrapping ``obj``."""
    event = stripe_object("event")
    event.update(
        id=event_id or f"evt_test_{next(_ids):06d}",
        type=event_type,
        api_version=API_VERSION,
        created=int(time.time()) if created is None else created,
        data={"object": obj},
    )
    return event


def signature(
    body: str | bytes, secret: str = SECRET, timestamp: int | None = None, scheme: str = "v1"
) -> str:
    """``Stripe-Signature``: ``t=<unix>,v1=hex(hmac_sha256(secret, f"{t}.{body}"))``."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    raw = body if isinstance(body, bytes) else body.encode()
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + raw, hashlib.sha256).hexdigest()
    return f"t={timestamp},{scheme}={mac}"


def deliver(client, event: dict | str | bytes, *, secret: str = SECRET, timestamp: int | None = None):
    """POST an event to the endpoint as Stripe would."""
    body = json.dumps(event) if isinstance(event, dict) else event
    return client.post(
        "/webhooks/stripe",
        data=body,
        headers={"Stripe-Signature": signature(body, secret, timestamp)},
        content_type="application/json; charset=utf-8",
    )
