"""Real-shaped Stripe objects for the practice sync tests, built from Stripe's own fixtures."""

from __future__ import annotations

import copy
import json
from pathlib import Path

FIXTURES = json.loads((Path(__file__).parents[1] / "fixtures" / "stripe" / "fixtures.json").read_text())[
    "resources"
]

DAY = 86400
T0 = 1_790_000_000  # a fixed "now" in Stripe time


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
    sub = copy.deepcopy(FIXTURES["subscription"])
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
    inv = copy.deepcopy(FIXTURES["invoice"])
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
    session = copy.deepcopy(FIXTURES["checkout.session"])
    session.update(
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
    return session


def event(type_: str, obj: dict, created: int, id: str | None = None) -> dict:
    evt = copy.deepcopy(FIXTURES["event"])
    evt.update(id=id or f"evt_{type_}_{created}", type=type_, created=created, data={"object": obj})
    return evt
