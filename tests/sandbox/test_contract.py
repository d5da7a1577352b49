"""Every object the sandbox returns has Stripe's shape for API version 2026-10-28.endive.

Against Stripe's own example objects (``tests.stripe_payloads.FIXTURES``, the one copy the tests
load): every top-level field is present with the same kind of value, ``null`` allowed where the
fixture or the SDK type is Optional. Against ``data/sdk16-fields.json`` (the SDK's generated
classes): no top-level field the SDK does not know.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import stripe

from stripe_sandbox.testing import SandboxServer
from tests.stripe_payloads import FIXTURES

DATA = Path(__file__).parent / "data"
SDK = json.loads((DATA / "sdk16-fields.json").read_text())["resources"]
SDK_NAMES = {"line_item": "line_item (invoice line item)", "deleted_customer": "customer"}

#: Fixture fields the pinned API version no longer returns: ``invoice.subscription`` moved to
#: ``invoice.parent.subscription_details.subscription`` (and the SDK 16 Invoice class has no such field).
REMOVED_IN_API_VERSION = {("invoice", "subscription")}

#: Fixture types the SDK field list does not cover: read Optional-ness from the SDK class itself.
SDK_CLASSES = {"charge": stripe.Charge, "invoiceitem": stripe.InvoiceItem}

SDK_CONSTRUCT = {
    "customer": stripe.Customer,
    "deleted_customer": stripe.Customer,
    "payment_method": stripe.PaymentMethod,
    "setup_intent": stripe.SetupIntent,
    "payment_intent": stripe.PaymentIntent,
    "subscription": stripe.Subscription,
    "subscription_item": stripe.SubscriptionItem,
    "invoice": stripe.Invoice,
    "line_item": stripe.InvoiceLineItem,
    "invoice_payment": stripe.InvoicePayment,
    "price": stripe.Price,
    "product": stripe.Product,
    "checkout.session": stripe.checkout.Session,
    "billing_portal.session": stripe.billing_portal.Session,
    "event": stripe.Event,
    "test_helpers.test_clock": stripe.test_helpers.TestClock,
    "charge": stripe.Charge,
    "invoiceitem": stripe.InvoiceItem,
}


def kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "str"
    if isinstance(value, list):
        return "list"
    return "dict"


def optional_in_sdk(resource: str, field: str) -> bool:
    name = SDK_NAMES.get(resource, resource)
    if name in SDK and field in SDK[name]["fields"]:
        return SDK[name]["fields"][field]["type"].startswith("Optional")
    cls = SDK_CLASSES.get(resource)
    if cls is not None:
        for klass in cls.__mro__:
            annotation = getattr(klass, "__annotations__", {}).get(field)
            if annotation is not None:
                text = str(annotation)
                return text.startswith(("Optional", "typing.Optional")) or "NoneType" in text
    return False


def check_shape(resource: str, obj: dict[str, Any]) -> list[str]:
    problems = []
    fixture = FIXTURES[resource]
    for field, example in fixture.items():
        if (resource, field) in REMOVED_IN_API_VERSION:
            assert field not in obj, f"{resource}.{field} was removed in this API version"
            continue
        if field not in obj:
            problems.append(f"{resource}.{field} missing")
            continue
        ours = obj[field]
        if ours is None and (example is None or optional_in_sdk(resource, field)):
            continue
        if example is None:
            continue
        if kind(ours) != kind(example):
            problems.append(f"{resource}.{field}: {kind(ours)} where Stripe has {kind(example)}")
    name = SDK_NAMES.get(resource, resource)
    if name in SDK:
        unknown = set(obj) - set(SDK[name]["fields"])
        problems += [f"{resource}.{field} unknown to the SDK" for field in sorted(unknown)]
    return problems


@pytest.fixture(scope="module")
def objects(server: SandboxServer) -> dict[str, dict[str, Any]]:
    """One raw JSON object of every type, made through the SDK and read back over HTTP."""
    client = server.client()
    http = server.http_session("sk_test_contract")

    def get(path: str) -> dict[str, Any]:
        response = http.get(server.url + path, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    clock = client.v1.test_helpers.test_clocks.create({"frozen_time": server.now(), "name": "contract"})
    customer = client.v1.customers.create({"email": "shape@x.test", "name": "Shape", "test_clock": clock.id})
    si = client.v1.setup_intents.create({"customer": customer.id})
    si = client.v1.setup_intents.confirm(si.id, {"payment_method": "pm_card_visa"})
    client.v1.customers.update(
        customer.id, {"invoice_settings": {"default_payment_method": si.payment_method}}
    )
    product = client.v1.products.create({"name": "Shape plan"})
    fee = client.v1.prices.create({"product": product.id, "unit_amount": 1000, "currency": "usd"})
    price = client.v1.prices.create(
        {"product": product.id, "unit_amount": 2000, "currency": "usd", "recurring": {"interval": "month"}}
    )
    sub = client.v1.subscriptions.create(
        {"customer": customer.id, "items": [{"price": price.id}], "add_invoice_items": [{"price": fee.id}]}
    )
    invoice_id = str(sub.latest_invoice)
    pi = client.v1.payment_intents.create(
        {
            "amount": 500,
            "currency": "usd",
            "customer": customer.id,
            "payment_method": si.payment_method,
            "confirm": True,
        }
    )
    session = client.v1.checkout.sessions.create(
        {
            "mode": "subscription",
            "line_items": [{"price": price.id, "quantity": 1}],
            "success_url": "https://portal.test/ok?session_id={CHECKOUT_SESSION_ID}",
        }
    )
    portal = client.v1.billing_portal.sessions.create(
        {"customer": customer.id, "return_url": "https://portal.test"}
    )
    ii = client.v1.invoice_items.create({"customer": customer.id, "amount": 700, "currency": "usd"})
    gone = client.v1.customers.create({"email": "gone@x.test"})
    deleted = http.delete(f"{server.url}/v1/customers/{gone.id}", timeout=10).json()
    events = get("/v1/events?type=customer.created&limit=1")["data"]
    return {
        "customer": get(f"/v1/customers/{customer.id}"),
        "deleted_customer": deleted,
        "payment_method": get(f"/v1/payment_methods/{si.payment_method}"),
        "setup_intent": get(f"/v1/setup_intents/{si.id}"),
        "payment_intent": get(f"/v1/payment_intents/{pi.id}"),
        "charge": get(f"/v1/charges/{pi.latest_charge}?expand[]=refunds"),  # includable, as payments
        "subscription": get(f"/v1/subscriptions/{sub.id}"),
        "subscription_item": get(f"/v1/subscription_items/{sub['items'].data[0].id}"),
        "invoice": get(f"/v1/invoices/{invoice_id}?expand[]=payments&expand[]=confirmation_secret"),
        "line_item": get(f"/v1/invoices/{invoice_id}/lines")["data"][0],
        "invoice_payment": get(f"/v1/invoice_payments?invoice={invoice_id}")["data"][0],
        "invoiceitem": get(f"/v1/invoiceitems/{ii.id}"),
        "price": get(f"/v1/prices/{price.id}"),
        "product": get(f"/v1/products/{product.id}"),
        "checkout.session": get(f"/v1/checkout/sessions/{session.id}"),
        "billing_portal.session": portal.to_dict(),
        "event": get(f"/v1/events/{events[0]['id']}"),
        "test_helpers.test_clock": get(f"/v1/test_helpers/test_clocks/{clock.id}"),
    }


@pytest.mark.parametrize("resource", sorted(FIXTURES))
def test_object_has_stripes_shape(objects: dict[str, dict[str, Any]], resource: str) -> None:
    obj = objects[resource]
    assert check_shape(resource, obj) == []
    typed = SDK_CONSTRUCT[resource].construct_from(obj, "sk_test_contract")
    assert typed.id == obj["id"]


def test_nested_shapes_follow_the_api_version(objects: dict[str, dict[str, Any]]) -> None:
    sub = objects["subscription"]
    item = sub["items"]["data"][0]
    assert check_shape("subscription_item", item) == []
    assert "current_period_start" not in sub and item["current_period_end"] > item["current_period_start"]
    invoice = objects["invoice"]
    assert invoice["parent"]["type"] == "subscription_details"
    assert invoice["parent"]["subscription_details"]["subscription"] == sub["id"]
    assert "payment_intent" not in invoice and invoice["payments"]["object"] == "list"
    assert invoice["confirmation_secret"]["type"] == "payment_intent"
    for line in invoice["lines"]["data"]:
        assert check_shape("line_item", line) == []
    assert invoice["hosted_invoice_url"].endswith(f"/invoices/{invoice['id']}")
    event = objects["event"]
    assert event["api_version"] == "2026-10-28.endive" and event["data"]["object"]["object"] == "customer"
    for resource, obj in objects.items():
        assert obj["livemode"] is False if "livemode" in obj else True, resource


def _nested_missing(example: Any, ours: Any, path: str) -> list[str]:
    """Fixture keys missing from our nested objects (where both sides are objects)."""
    missing: list[str] = []
    if isinstance(example, dict) and isinstance(ours, dict):
        for key, value in example.items():
            if key not in ours:
                missing.append(f"{path}.{key}")
            else:
                missing += _nested_missing(value, ours[key], f"{path}.{key}")
    elif isinstance(example, list) and isinstance(ours, list) and example and ours:
        missing += _nested_missing(example[0], ours[0], f"{path}[0]")
    return missing


#: Nested values that are example content, not shape: metadata keys, and the event's sample object
#: (a plan; our events carry whatever object changed).
NESTED_EXAMPLE_ONLY = ("payment_method.metadata.", "event.data.object.", "invoice.subscription")


@pytest.mark.parametrize("resource", sorted(FIXTURES))
def test_nested_objects_carry_stripes_fields(objects: dict[str, dict[str, Any]], resource: str) -> None:
    missing = _nested_missing(FIXTURES[resource], objects[resource], resource)
    assert [m for m in missing if not m.startswith(NESTED_EXAMPLE_ONLY)] == []
