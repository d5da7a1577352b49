"""Zero-decimal currencies as Stripe has them (https://docs.stripe.com/currencies#zero-decimal):
VND amounts are whole dong in the API, proration rounds to whole dong, invoices, their hosted page
and PDF say dong without decimals, an amount due below the minimum charge is carried to the
customer's balance, and a customer bills in one currency only."""

from __future__ import annotations

import pytest
import requests
import stripe

from stripe_sandbox.testing import SandboxServer


@pytest.fixture(scope="module")
def dong(server: SandboxServer) -> dict[str, str]:
    client = server.client()
    product = client.v1.products.create({"name": "Practice subscription VN"})

    def price(amount: int, **extra: object) -> str:
        return client.v1.prices.create(
            {"product": product.id, "unit_amount": amount, "currency": "vnd", **extra}
        ).id

    return {
        "fee": price(4_990_000),
        "monthly": price(990_000, recurring={"interval": "month"}),
        "bigger": price(1_490_000, recurring={"interval": "month"}),
        "six": price(4_990_000, recurring={"interval": "month", "interval_count": 6}),
        "small": price(9_000),
        "usd_monthly": client.v1.prices.create(
            {
                "product": product.id,
                "unit_amount": 9900,
                "currency": "usd",
                "recurring": {"interval": "month"},
            }
        ).id,
    }


def _customer_with_card(client: stripe.StripeClient) -> str:
    customer = client.v1.customers.create({"email": "dong@clinic.test"})
    intent = client.v1.setup_intents.create(
        {"customer": customer.id, "confirm": True, "payment_method": "pm_card_visa"}
    )
    client.v1.customers.update(
        customer.id, {"invoice_settings": {"default_payment_method": intent.payment_method}}
    )
    return customer.id


def _subscribe(
    client: stripe.StripeClient, customer: str, price: str, **extra: object
) -> stripe.Subscription:
    return client.v1.subscriptions.create({"customer": customer, "items": [{"price": price}], **extra})


def test_a_vnd_subscription_charges_whole_dong(client: stripe.StripeClient, dong: dict[str, str]) -> None:
    customer = _customer_with_card(client)
    sub = _subscribe(
        client, customer, dong["six"], add_invoice_items=[{"price": dong["fee"]}], expand=["latest_invoice"]
    )
    invoice = sub.latest_invoice
    assert invoice.currency == "vnd" and invoice.status == "paid"
    assert invoice.total == invoice.amount_paid == 9_980_000  # dong, not hundredths of a dong
    assert client.v1.customers.retrieve(customer).currency == "vnd"


def test_a_switch_prorates_to_whole_dong(
    sandbox: SandboxServer, client: stripe.StripeClient, dong: dict[str, str]
) -> None:
    customer = _customer_with_card(client)
    sub = _subscribe(client, customer, dong["monthly"])
    item = sub["items"].data[0]
    start, end = item.current_period_start, item.current_period_end
    when = start + (end - start) // 3 + 7  # a fraction that leaves a part of a dong
    remaining = (end - when) / (end - start)
    assert (990_000 * remaining) % 1 and (1_490_000 * remaining) % 1  # no whole amount by chance
    details = {"items": [{"id": item.id, "price": dong["bigger"]}], "proration_date": when}
    preview = client.v1.invoices.create_preview({"subscription": sub.id, "subscription_details": details})
    amounts = sorted(line.amount for line in preview.lines.data if line.parent.invoice_item_details)
    assert amounts == [-round(990_000 * remaining), round(1_490_000 * remaining)]
    assert all(isinstance(amount, int) for amount in amounts)
    updated = client.v1.subscriptions.update(
        sub.id,
        {**details, "proration_behavior": "always_invoice", "expand": ["latest_invoice"]},
    )
    invoice = updated.latest_invoice
    assert invoice.currency == "vnd" and invoice.status == "paid"
    assert sorted(line.amount for line in invoice.lines.data) == amounts
    assert invoice.amount_paid == sum(amounts)


def test_invoice_page_and_pdfs_write_dong_without_decimals(
    client: stripe.StripeClient, dong: dict[str, str]
) -> None:
    customer = _customer_with_card(client)
    sub = _subscribe(
        client,
        customer,
        dong["monthly"],
        add_invoice_items=[{"price": dong["fee"]}],
        expand=["latest_invoice"],
    )
    invoice = sub.latest_invoice
    page = requests.get(invoice.hosted_invoice_url, timeout=5).text
    assert "4,990,000 VND" in page and "990,000 VND" in page and "5,980,000 VND" in page
    assert ".00" not in page.split("<body", 1)[-1]
    pdf = requests.get(invoice.invoice_pdf, timeout=5).content
    assert b"Total: 5,980,000 VND" in pdf and b".00" not in pdf
    note = client.v1.credit_notes.create(
        {"invoice": invoice.id, "amount": 1_234_567, "refund_amount": 1_234_567}
    )
    note_pdf = requests.get(note.pdf, timeout=5).content
    assert b"Total credited: 1,234,567 VND" in note_pdf and b".00" not in note_pdf


def test_below_the_minimum_charge_nothing_is_charged_and_the_next_invoice_collects_it(
    client: stripe.StripeClient, dong: dict[str, str]
) -> None:
    """Stripe's minimum for VND is about USD 0.50 (13,000 VND here): an invoice of 9,000 VND is
    paid without a charge and the 9,000 VND becomes a debt on the customer's balance."""
    customer = _customer_with_card(client)
    client.v1.invoice_items.create({"customer": customer, "pricing": {"price": dong["small"]}})
    small = client.v1.invoices.create({"customer": customer, "pending_invoice_items_behavior": "include"})
    small = client.v1.invoices.finalize_invoice(small.id)
    assert small.status == "paid" and small.total == 9_000
    assert small.amount_due == 0 and small.amount_paid == 0 and small.ending_balance == 9_000
    assert client.v1.customers.retrieve(customer).balance == 9_000
    kinds = [t.type for t in client.v1.customers.balance_transactions.list(customer).data]
    assert "invoice_too_small" in kinds
    sub = _subscribe(client, customer, dong["monthly"], expand=["latest_invoice"])
    assert sub.latest_invoice.amount_paid == 999_000  # the plan plus the 9,000 VND carried over
    assert client.v1.customers.retrieve(customer).balance == 0


def test_a_customer_bills_in_one_currency(client: stripe.StripeClient, dong: dict[str, str]) -> None:
    customer = _customer_with_card(client)
    _subscribe(client, customer, dong["monthly"])
    with pytest.raises(stripe.InvalidRequestError, match="cannot combine currencies"):
        _subscribe(client, customer, dong["usd_monthly"])
    session = {
        "mode": "subscription",
        "customer": customer,
        "success_url": "https://portal.test/done",
        "line_items": [{"price": dong["usd_monthly"], "quantity": 1}],
    }
    with pytest.raises(stripe.InvalidRequestError, match="cannot combine currencies"):
        client.v1.checkout.sessions.create(session)
    mixed = {**session, "customer": client.v1.customers.create({}).id}
    mixed["line_items"] = [
        {"price": dong["monthly"], "quantity": 1},
        {"price": dong["usd_monthly"], "quantity": 1},
    ]
    with pytest.raises(stripe.InvalidRequestError, match="same currency"):
        client.v1.checkout.sessions.create(mixed)
