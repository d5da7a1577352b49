"""Stripe's expand rules (https://docs.stripe.com/api/expanding_objects), derived from Stripe's own
reference data and checked on real sandbox objects:

- every expandable field (the SDK types it ``ExpandableField[...]``: an id, or the object once
  expanded) of an invoice, a subscription, a payment intent and a Checkout session is a string id
  (or null) unless expanded, and the object with that id when ``expand[]`` names it, nested paths and
  list endpoints (``data.`` prefix) included;
- includable fields (lists the SDK knows that Stripe's example object leaves out, and an invoice's
  ``confirmation_secret``) are absent unless expanded, in replies and always in events.

The SDK's fields are ``data/sdk16-fields.json`` (stripe 16.1.0's generated classes); Stripe's
example objects are ``tests.stripe_payloads.FIXTURES`` (Stripe's ``fixtures3.json``), the same files as
``/work/shared/stripe/``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import requests

from stripe_sandbox.testing import SandboxServer
from tests.stripe_payloads import FIXTURES

SDK = json.loads((Path(__file__).parent / "data" / "sdk16-fields.json").read_text())["resources"]
ENDPOINTS = {
    "invoice": "invoices",
    "subscription": "subscriptions",
    "payment_intent": "payment_intents",
    "checkout.session": "checkout/sessions",
}
#: Includable though not a list: "confirmation_secret ... Expandable" in the invoice object's reference.
DOCUMENTED_INCLUDABLE = {"invoice": {"confirmation_secret"}}
MISSING = object()
#: Fields the objects built below have set, so their expansion is really checked.
EXPANDED_AT_LEAST = {
    "invoice": {"customer", "parent.subscription_details.subscription"},
    "subscription": {"customer", "default_payment_method", "latest_invoice"},
    "payment_intent": {"customer", "latest_charge", "payment_method"},
    "checkout.session": {"customer", "invoice", "payment_intent", "subscription"},
}


def _nested_class(type_: str, scopes: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The nested class a field's type names (looked up from the innermost class outwards)."""
    names = set(re.findall(r"\b([A-Z]\w*)\b", type_)) - {"Optional", "List", "Dict", "Union", "Literal"}
    for scope in scopes:
        for name in names:
            if name in scope:
                return scope[name]
    return None


def _expandable(cls: dict[str, Any], scopes: list[dict[str, Any]], prefix: str = "") -> list[str]:
    paths = []
    scopes = [cls.get("nested_classes", {}), *scopes]
    for name, field in cls["fields"].items():
        if "ExpandableField[" in field["type"]:
            paths.append(prefix + name)
        elif not field["type"].startswith(("ListObject", "Optional[ListObject")):
            nested = _nested_class(field["type"], scopes)
            if nested is not None:
                paths += _expandable(nested, scopes, f"{prefix}{name}.")
    return paths


def expandable_paths(resource: str) -> list[str]:
    return _expandable(SDK[resource], [])


def includable_fields(resource: str) -> set[str]:
    lists = {
        name
        for name, field in SDK[resource]["fields"].items()
        if "ListObject[" in field["type"] and name not in FIXTURES[resource]
    }
    return lists | DOCUMENTED_INCLUDABLE.get(resource, set())


def at(obj: Any, path: str) -> Any:
    """The value at ``path``; a list of the values below it when the path crosses a list;
    ``MISSING`` when an object on the way lacks the key."""
    key, _, rest = path.partition(".")
    if obj is None:
        return None
    if isinstance(obj, list):
        return [at(item, path) for item in obj]
    if not isinstance(obj, dict) or key not in obj:
        return MISSING
    return at(obj[key], rest) if rest else obj[key]


def flat(value: Any) -> list[Any]:
    return [v for item in value for v in flat(item)] if isinstance(value, list) else [value]


def test_the_derivation_finds_the_fields_stripe_documents():
    assert {"customer", "default_payment_method", "parent.subscription_details.subscription"} <= set(
        expandable_paths("invoice")
    )
    assert {"customer", "latest_invoice", "default_payment_method"} <= set(expandable_paths("subscription"))
    assert {"customer", "latest_charge", "payment_method"} <= set(expandable_paths("payment_intent"))
    assert {"customer", "invoice", "payment_intent", "subscription"} <= set(
        expandable_paths("checkout.session")
    )
    assert includable_fields("invoice") == {"payments", "confirmation_secret"}
    assert includable_fields("checkout.session") == {"line_items"}


@pytest.fixture(scope="module")
def objects(server: SandboxServer) -> dict[str, list[str]]:
    """Ids of real objects whose expandable fields are set: a subscription paid by its invoice's
    PaymentIntent, and two completed Checkout sessions (a subscription, a one-time payment)."""
    client = server.client()
    product = client.v1.products.create({"name": "Expand rules"})
    monthly = client.v1.prices.create(
        {"product": product.id, "unit_amount": 4000, "currency": "usd", "recurring": {"interval": "month"}}
    )
    once = client.v1.prices.create({"product": product.id, "unit_amount": 1500, "currency": "usd"})
    customer = client.v1.customers.create({"email": "expand@clinic.test", "payment_method": "pm_card_visa"})
    pm = client.v1.payment_methods.list({"customer": customer.id}).data[0].id
    client.v1.customers.update(customer.id, {"invoice_settings": {"default_payment_method": pm}})
    sub = client.v1.subscriptions.create(
        {"customer": customer.id, "items": [{"price": monthly.id}], "default_payment_method": pm}
    )
    invoice = client.v1.invoices.retrieve(sub.latest_invoice, {"expand": ["payments"]})
    intent = invoice.payments.data[0].payment.payment_intent
    sessions = []
    for mode, price in (("subscription", monthly.id), ("payment", once.id)):
        session = client.v1.checkout.sessions.create(
            {
                "mode": mode,
                "customer": customer.id,
                "line_items": [{"price": price, "quantity": 1}],
                "success_url": "https://portal.test/done",
            }
        )
        paid = requests.post(
            f"{server.url}/checkout/{session.id}/pay",
            data={"number": "4242424242424242", "expiry": "12/34", "cvc": "123", "name": "Expand"},
            allow_redirects=False,
            timeout=30,
        )
        assert paid.status_code == 303, paid.text
        sessions.append(session.id)
    return {
        "customer": [customer.id],
        "invoice": [invoice.id],
        "subscription": [sub.id],
        "payment_intent": [intent],
        "checkout.session": sessions,
    }


def _get(server: SandboxServer, path: str, expand: list[str] | None = None, **params: str) -> dict[str, Any]:
    query = [*params.items(), *(("expand[]", p) for p in expand or [])]
    answer = server.http_session("sk_test_sandbox").get(f"{server.url}/v1/{path}", params=query, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


@pytest.mark.parametrize("resource", sorted(ENDPOINTS))
def test_expandable_fields_are_ids_and_includable_fields_absent_unless_expanded(
    server: SandboxServer, objects: dict[str, list[str]], resource: str
) -> None:
    for object_id in objects[resource]:
        obj = _get(server, f"{ENDPOINTS[resource]}/{object_id}")
        for path in expandable_paths(resource):
            value = at(obj, path)
            if value is MISSING:  # not there in Stripe's example either
                assert at(FIXTURES[resource], path) is MISSING, f"{resource}.{path} missing"
                continue
            assert all(v is None or isinstance(v, str) for v in flat(value)), f"{resource}.{path} = {value!r}"
        assert not includable_fields(resource) & set(obj), f"{resource} sends includable fields unasked"


@pytest.mark.parametrize("resource", sorted(ENDPOINTS))
def test_each_expandable_field_is_its_object_when_expanded(
    server: SandboxServer, objects: dict[str, list[str]], resource: str
) -> None:
    expanded_any = set()
    for object_id in objects[resource]:
        plain = _get(server, f"{ENDPOINTS[resource]}/{object_id}")
        for path in expandable_paths(resource):
            ids = at(plain, path)
            if ids is MISSING:
                continue
            value = at(_get(server, f"{ENDPOINTS[resource]}/{object_id}", [path]), path)
            for wanted, got in zip(flat(ids), flat(value), strict=True):
                if wanted is None or wanted is MISSING:
                    assert got is wanted, f"{resource}.{path} = {got!r}"
                    continue
                assert isinstance(got, dict) and got["id"] == wanted, f"{resource}.{path} = {got!r}"
                expanded_any.add(path)
    # The objects were built so that these are set: each was checked expanded, not skipped as null.
    assert EXPANDED_AT_LEAST[resource] <= expanded_any


def test_includable_fields_come_only_when_expanded(server: SandboxServer, objects: dict[str, list[str]]):
    invoice_id = objects["invoice"][0]
    invoice = _get(server, f"invoices/{invoice_id}", ["payments", "confirmation_secret"])
    assert invoice["payments"]["object"] == "list" and "client_secret" in invoice["confirmation_secret"]
    assert isinstance(invoice["payments"]["data"][0]["payment"]["payment_intent"], str)  # not expanded
    session = _get(server, f"checkout/sessions/{objects['checkout.session'][0]}", ["line_items"])
    assert session["line_items"]["object"] == "list" and session["line_items"]["data"]


def test_nested_expand_reaches_the_decline_on_the_payment_intent(
    server: SandboxServer, objects: dict[str, list[str]]
) -> None:
    """The portal's read of a decline reason: ``payments.data.payment.payment_intent``."""
    invoice = _get(server, f"invoices/{objects['invoice'][0]}", ["payments.data.payment.payment_intent"])
    intent = invoice["payments"]["data"][0]["payment"]["payment_intent"]
    assert intent["object"] == "payment_intent" and "last_payment_error" in intent
    assert isinstance(intent["customer"], str)  # only what was named is expanded
    assert "confirmation_secret" not in invoice

    sub = _get(server, f"subscriptions/{objects['subscription'][0]}", ["latest_invoice"])
    assert sub["latest_invoice"]["object"] == "invoice"
    assert not includable_fields("invoice") & set(sub["latest_invoice"])  # includable below needs naming
    sub = _get(server, f"subscriptions/{objects['subscription'][0]}", ["latest_invoice.payments"])
    assert sub["latest_invoice"]["payments"]["object"] == "list"


def test_list_endpoints_expand_with_the_data_prefix(server: SandboxServer, objects: dict[str, list[str]]):
    customer = objects["customer"][0]
    plain = _get(server, "invoices", customer=customer)
    assert plain["data"] and all(
        isinstance(i["customer"], str) and "payments" not in i for i in plain["data"]
    )
    expanded = _get(server, "invoices", ["data.customer", "data.payments"], customer=customer)
    assert all(
        i["customer"]["id"] == customer and i["payments"]["object"] == "list" for i in expanded["data"]
    )
    subs = _get(server, "subscriptions", ["data.latest_invoice"], customer=customer)
    assert all(s["latest_invoice"]["object"] == "invoice" for s in subs["data"])


def test_events_carry_ids_and_never_includable_fields(server: SandboxServer, objects: dict[str, list[str]]):
    events = [e for e in server.events() if e["data"]["object"].get("customer") == objects["customer"][0]]
    by_type = {e["data"]["object"]["object"] for e in events}
    assert {"invoice", "subscription", "payment_intent"} <= by_type
    for event in events:
        obj = event["data"]["object"]
        resource = obj["object"]
        if resource not in ENDPOINTS:
            continue
        assert not includable_fields(resource) & set(obj), event["type"]
        for path in expandable_paths(resource):
            value = at(obj, path)
            values = value if isinstance(value, list) else [value]
            assert value is MISSING or all(v is None or isinstance(v, str) for v in values), (
                event["type"],
                path,
            )


def test_a_customers_sources_expand_to_an_empty_list(server: SandboxServer, objects: dict[str, list[str]]):
    """dj-stripe retrieves customers with ``expand[]=sources``: Stripe answers a list object holding
    legacy Sources and Cards, none for card PaymentMethods; without the expand the field is absent."""
    customer = objects["customer"][0]
    assert "sources" not in _get(server, f"customers/{customer}")
    sources = _get(server, f"customers/{customer}", ["sources"])["sources"]
    assert sources == {
        "object": "list",
        "data": [],
        "has_more": False,
        "total_count": 0,
        "url": f"/v1/customers/{customer}/sources",
    }
    listed = _get(server, "customers", ["data.sources"], limit="100")
    assert listed["data"] and all(c["sources"]["data"] == [] for c in listed["data"])
