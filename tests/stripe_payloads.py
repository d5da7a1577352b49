"""The one builder of Stripe-shaped payloads for tests: Stripe's own example objects
(``tests/fixtures/stripe/fixtures.json``) with our fields set, wrapped in events, signed the way
Stripe signs and delivered to the webhook endpoint.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import itertools
import json
import time
from pathlib import Path

from portal.gateway.gateway import API_VERSION

FIXTURES: dict[str, dict] = json.loads(
    (Path(__file__).parent / "fixtures" / "stripe" / "fixtures.json").read_text()
)["resources"]

#: The endpoint secrets the webhook tests configure: the current one and one being rotated out.
SECRET = "whsec_test_current"
OLD_SECRET = "whsec_test_previous"
SECRETS_CONFIG = f"{SECRET}, {OLD_SECRET}"

DAY = 86400
T0 = 1_790_000_000  # a fixed "now" in Stripe time

_ids = itertools.count(1)


def stripe_object(resource: str, **fields) -> dict:
    """A deep copy of Stripe's example ``resource`` object with ``fields`` replaced."""
    obj = copy.deepcopy(FIXTURES[resource])
    obj.update(fields)
    return obj


# --- Cards and customers -------------------------------------------------------------------


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


# --- Practice billing: subscriptions, invoices, checkout ----------------------------------------


def subscription(
    practice_id: int,
    customer: str,
    *,
    id: str = "sub_practice1",
    status: str = "active",
    period_start: int = T0,
    period_end: int = T0 + 30 * DAY,
    cancel_at_period_end: bool = False,
    cancel_at: int | None = None,
    lookup_key: str = "plan_monthly",
    interval_count: int = 1,
    latest_invoice: str | None = None,
) -> dict:
    sub = stripe_object("subscription")
    item = sub["items"]["data"][0]
    item.update(current_period_start=period_start, current_period_end=period_end, subscription=id)
    item["price"].update(lookup_key=lookup_key)
    item["price"]["recurring"].update(interval="month", interval_count=interval_count)
    sub.update(
        id=id,
        customer=customer,
        status=status,
        metadata={"practiceId": str(practice_id)},
        cancel_at_period_end=cancel_at_period_end,
        cancel_at=cancel_at if cancel_at is not None else (period_end if cancel_at_period_end else None),
        canceled_at=None,
        ended_at=None,
        latest_invoice=latest_invoice,
        pause_collection=None,
        pending_update=None,
    )
    sub["items"]["url"] = f"/v1/subscription_items?subscription={id}"
    return sub


def invoice(
    practice_id: int,
    customer: str,
    *,
    id: str = "in_practice1",
    subscription: str = "sub_practice1",
    status: str = "paid",
    billing_reason: str = "subscription_cycle",
    amount: int = 9900,
    created: int = T0,
    number: str | None = "PB-0001",
) -> dict:
    inv = stripe_object("invoice")
    inv.update(
        id=id,
        customer=customer,
        status=status,
        billing_reason=billing_reason,
        amount_due=amount,
        amount_paid=amount if status == "paid" else 0,
        amount_remaining=0 if status == "paid" else amount,
        created=created,
        number=number,
        hosted_invoice_url=f"https://invoice.stripe.test/{id}",
        invoice_pdf=f"https://invoice.stripe.test/{id}.pdf",
        parent={
            "type": "subscription_details",
            "quote_details": None,
            "subscription_details": {
                "subscription": subscription,
                "metadata": {"practiceId": str(practice_id)},
            },
        },
        subscription=None,
    )
    inv["status_transitions"]["paid_at"] = created if status == "paid" else None
    inv["lines"]["data"][0].update(invoice=id, amount=amount)
    return inv


def with_payment_error(inv: dict, decline_code: str = "insufficient_funds") -> dict:
    """An invoice whose ``payments`` list carries the failed payment intent, expanded."""
    inv = copy.deepcopy(inv)
    inv["payments"] = {
        "object": "list",
        "data": [
            {
                "object": "invoice_payment",
                "payment": {
                    "type": "payment_intent",
                    "payment_intent": {
                        "id": "pi_failed",
                        "object": "payment_intent",
                        "last_payment_error": {"code": "card_declined", "decline_code": decline_code},
                    },
                },
            }
        ],
    }
    return inv


def checkout_session(
    practice_id: int,
    customer: str,
    *,
    id: str = "cs_test_practice1",
    subscription: object = "sub_practice1",
    invoice: object = None,
    payment_status: str = "paid",
    status: str = "complete",
    onboarding: str = "1",
) -> dict:
    return stripe_object(
        "checkout.session",
        id=id,
        mode="subscription",
        customer=customer,
        client_reference_id=str(practice_id),
        metadata={"practiceId": str(practice_id), "plan": "monthly", "onboarding": onboarding},
        subscription=subscription,
        invoice=invoice,
        payment_intent=None,
        payment_status=payment_status,
        status=status,
    )


# --- Shop: payment intents ---------------------------------------------------------------------


def payment_intent(**fields) -> dict:
    """A PaymentIntent with no error, action or cancellation pending, and ``fields`` set."""
    return stripe_object(
        "payment_intent",
        **{
            "last_payment_error": None,
            "next_action": None,
            "canceled_at": None,
            "processing": None,
            **fields,
        },
    )


# --- Events, signatures, delivery --------------------------------------------------------------


def make_event(
    event_type: str, obj: dict, *, created: int | None = None, event_id: str | None = None
) -> dict:
    """An event shaped like Stripe's example ``event`` wrapping ``obj``."""
    return stripe_object(
        "event",
        id=event_id or f"evt_test_{next(_ids):06d}",
        type=event_type,
        api_version=API_VERSION,
        created=int(time.time()) if created is None else created,
        data={"object": obj},
    )


def event(type_: str, obj: dict, created: int, id: str | None = None) -> dict:
    """``make_event`` whose id follows from its type and time: the same change sent twice is
    one Stripe event delivered twice."""
    return make_event(type_, obj, created=created, event_id=id or f"evt_{type_}_{created}")


def current_secret(app) -> str:
    """The endpoint secret Stripe signs with now: the first one configured."""
    return app.config["STRIPE_WEBHOOK_SECRET"].split(",")[0].strip()


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
