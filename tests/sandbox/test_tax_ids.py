"""A customer's tax IDs as Stripe keeps them: the format checks, the four calls, the events, the
snapshot an invoice takes at finalization, and the hosted Checkout page that collects them."""

from __future__ import annotations

import re

import pytest
import requests
import stripe

from stripe_sandbox.testing import SandboxServer
from tests.sandbox.conftest import Receiver

CARD = {"number": "4242 4242 4242 4242", "expiry": "12 / 34", "cvc": "123", "name": "Dr Who"}


@pytest.mark.parametrize(
    ("tax_type", "value", "country"),
    [
        ("vn_tin", "1234567890", "VN"),
        ("vn_tin", "1234567890-123", "VN"),
        ("eu_vat", "DE123456789", "DE"),
        ("eu_vat", "EL123456789", "GR"),
        ("us_ein", "12-3456789", "US"),
        ("gb_vat", "GB123456789", "GB"),
    ],
)
def test_well_formed_tax_ids_are_kept_with_their_country(client, tax_type, value, country) -> None:
    customer = client.v1.customers.create({"name": "Harbour Dental"})
    created = client.v1.customers.tax_ids.create(customer.id, {"type": tax_type, "value": value})
    assert (created.object, created.type, created.value, created.country) == (
        "tax_id",
        tax_type,
        value,
        country,
    )
    assert created.customer == customer.id and created.id.startswith("txi_")
    # EU and UK VAT numbers are checked with the register afterwards; Stripe cannot check the others.
    assert created.verification.status == ("pending" if tax_type in ("eu_vat", "gb_vat") else "unavailable")


@pytest.mark.parametrize(
    ("tax_type", "value"),
    [
        ("vn_tin", "12345"),
        ("vn_tin", "12345678901"),
        ("eu_vat", "123456789"),
        ("eu_vat", "DE12345"),
        ("eu_vat", "US123456789"),
        ("us_ein", "123-456789"),
        ("gb_vat", "DE123456789"),
    ],
)
def test_a_value_of_the_wrong_shape_is_refused_as_stripe_does(client, tax_type, value) -> None:
    customer = client.v1.customers.create({"name": "Harbour Dental"})
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.customers.tax_ids.create(customer.id, {"type": tax_type, "value": value})
    error = refused.value
    assert (error.http_status, error.code, error.param) == (400, "tax_id_invalid", "value")
    assert error.user_message == f"Invalid value for {tax_type}."
    assert client.v1.customers.tax_ids.list(customer.id).data == []  # nothing was kept


def test_list_retrieve_delete_and_their_events(sandbox: SandboxServer, client, receiver: Receiver) -> None:
    customer = client.v1.customers.create({"name": "Harbour Dental"})
    first = client.v1.customers.tax_ids.create(customer.id, {"type": "vn_tin", "value": "1234567890"})
    second = client.v1.customers.tax_ids.create(customer.id, {"type": "eu_vat", "value": "DE123456789"})
    assert [t.id for t in client.v1.customers.tax_ids.list(customer.id).data] == [second.id, first.id]
    assert client.v1.customers.tax_ids.retrieve(customer.id, first.id).value == "1234567890"

    deleted = client.v1.customers.tax_ids.delete(customer.id, first.id)
    assert (deleted.id, deleted.deleted) == (first.id, True)
    assert [t.id for t in client.v1.customers.tax_ids.list(customer.id).data] == [second.id]
    with pytest.raises(stripe.InvalidRequestError) as gone:
        client.v1.customers.tax_ids.retrieve(customer.id, first.id)
    assert gone.value.code == "resource_missing"
    other = client.v1.customers.create({"name": "Someone else"})
    with pytest.raises(stripe.InvalidRequestError):  # another customer's tax ID is not found
        client.v1.customers.tax_ids.delete(other.id, second.id)
    sandbox.flush_events()
    assert [e["data"]["object"]["id"] for e in receiver.of_type("customer.tax_id.created")] == [
        first.id,
        second.id,
    ]
    assert [e["data"]["object"]["id"] for e in receiver.of_type("customer.tax_id.deleted")] == [first.id]


ADDRESS = {
    "line1": "12 Nguyen Hue",
    "line2": "Floor 3",
    "city": "Ho Chi Minh City",
    "state": "",
    "postal_code": "700000",
    "country": "VN",
}


def test_an_invoice_freezes_the_customers_details_when_it_is_finalized(
    sandbox: SandboxServer, client
) -> None:
    customer = client.v1.customers.create(
        {"name": "Harbour Dental Co., Ltd.", "email": "accounts@harbour.test", "address": ADDRESS}
    )
    client.v1.customers.tax_ids.create(customer.id, {"type": "vn_tin", "value": "1234567890"})
    client.v1.invoice_items.create({"customer": customer.id, "amount": 5000, "currency": "usd"})
    invoice = client.v1.invoices.create(
        {"customer": customer.id, "pending_invoice_items_behavior": "include"}
    )
    finalized = client.v1.invoices.finalize_invoice(invoice.id)
    assert finalized.customer_name == "Harbour Dental Co., Ltd."
    assert finalized.customer_email == "accounts@harbour.test"
    assert finalized.customer_address.line1 == "12 Nguyen Hue" and finalized.customer_address.country == "VN"
    assert [(t.type, t.value) for t in finalized.customer_tax_ids] == [("vn_tin", "1234567890")]

    client.v1.customers.update(customer.id, {"name": "Renamed later", "address": {"line1": "1 Other St"}})
    assert client.v1.invoices.retrieve(invoice.id).customer_name == "Harbour Dental Co., Ltd."  # frozen

    page = requests.get(finalized.hosted_invoice_url, timeout=5).text
    for text in ("Harbour Dental Co., Ltd.", "12 Nguyen Hue", "700000 Ho Chi Minh City", "VN TIN 1234567890"):
        assert text in page
    pdf = requests.get(finalized.invoice_pdf, timeout=5).content
    for text in (
        b"Harbour Dental Co., Ltd.",
        b"12 Nguyen Hue",
        b"VN TIN 1234567890",
        b"accounts@harbour.test",
    ):
        assert text in pdf


@pytest.fixture(scope="module")
def monthly(server: SandboxServer) -> str:
    client = server.client()
    product = client.v1.products.create({"name": "Clinic"})
    return client.v1.prices.create(
        {"product": product.id, "unit_amount": 9900, "currency": "usd", "recurring": {"interval": "month"}}
    ).id


def _collecting_session(client, monthly: str, customer: str, **extra: object):
    return client.v1.checkout.sessions.create(
        {
            "mode": "subscription",
            "customer": customer,
            "line_items": [{"price": monthly, "quantity": 1}],
            "success_url": "https://portal.test/done?session_id={CHECKOUT_SESSION_ID}",
            "billing_address_collection": "required",
            "tax_id_collection": {"enabled": True},
            **extra,
        }
    )


def test_tax_id_collection_for_a_customer_needs_customer_update(client, monthly) -> None:
    customer = client.v1.customers.create({"email": "owner@harbour.test"})
    with pytest.raises(stripe.InvalidRequestError) as refused:
        _collecting_session(client, monthly, customer.id)
    assert "customer_update[name]" in refused.value.user_message
    with pytest.raises(stripe.InvalidRequestError) as no_address:
        _collecting_session(client, monthly, customer.id, customer_update={"name": "auto"})
    assert "customer_update[address]" in no_address.value.user_message


def test_hosted_checkout_collects_the_address_and_tax_id_onto_the_customer(client, monthly) -> None:
    customer = client.v1.customers.create({"email": "owner@harbour.test", "name": "Harbour Dental"})
    session = _collecting_session(
        client, monthly, customer.id, customer_update={"name": "auto", "address": "auto"}
    )
    assert session.billing_address_collection == "required" and session.tax_id_collection.enabled is True
    page = requests.get(session.url, timeout=5).text
    for label in ("Address line 1", "Postal code", "Business name", "Tax ID"):
        assert label in page

    typed = {
        **CARD,
        **{f"address_{k}": v for k, v in ADDRESS.items()},
        "business_name": "Harbour Dental Co., Ltd.",
        "tax_id_type": "vn_tin",
        "tax_id_value": "12345",
    }
    refused = requests.post(f"{session.url}/pay", data=typed, allow_redirects=False, timeout=10)
    assert refused.status_code == 400 and "Invalid value for vn_tin." in refused.text
    assert 'value="12 Nguyen Hue"' in refused.text and 'value="12345"' in refused.text  # nothing lost
    assert client.v1.checkout.sessions.retrieve(session.id).status == "open"

    paid = requests.post(
        f"{session.url}/pay",
        data={**typed, "tax_id_value": "1234567890-123"},
        allow_redirects=False,
        timeout=10,
    )
    assert paid.status_code == 303, re.sub(r"\s+", " ", paid.text)[:500]
    updated = client.v1.customers.retrieve(customer.id)
    assert updated.name == "Harbour Dental Co., Ltd." and updated.address.city == "Ho Chi Minh City"
    assert [(t.type, t.value) for t in client.v1.customers.tax_ids.list(customer.id).data] == [
        ("vn_tin", "1234567890-123")
    ]
    details = client.v1.checkout.sessions.retrieve(session.id).customer_details
    assert details.address.line1 == "12 Nguyen Hue" and details.business_name == "Harbour Dental Co., Ltd."
    assert [(t.type, t.value) for t in details.tax_ids] == [("vn_tin", "1234567890-123")]
