"""Issue 21's attack (task 21b): what an attacker who knows Stripe found kinder in the sandbox than Stripe,
made as Stripe does; each test is named by its finding and cites the page it follows."""

from __future__ import annotations

import pytest
import requests
import stripe

from stripe_sandbox.testing import SandboxServer
from tests.sandbox.conftest import Receiver


@pytest.fixture(scope="module")
def monthly(server: SandboxServer) -> str:
    client = server.client()
    product = client.v1.products.create({"name": "Findings plan"})
    return client.v1.prices.create(
        {"product": product.id, "unit_amount": 4000, "currency": "usd", "recurring": {"interval": "month"}}
    ).id


def _post(sandbox: SandboxServer, path: str, data: dict, key: str | None = None) -> requests.Response:
    headers = {"Idempotency-Key": key} if key else {}
    return sandbox.http_session("sk_test_findings").post(
        f"{sandbox.url}{path}", data=data, headers=headers, timeout=10
    )


def _subscribed(client: stripe.StripeClient, price: str, card: str = "pm_card_visa") -> tuple[str, str]:
    customer = client.v1.customers.create({"email": "findings@clinic.test", "payment_method": card})
    pm = client.v1.payment_methods.list({"customer": customer.id}).data[0].id
    client.v1.customers.update(customer.id, {"invoice_settings": {"default_payment_method": pm}})
    sub = client.v1.subscriptions.create({"customer": customer.id, "items": [{"price": price}]})
    return customer.id, sub.id


# finding 2: a renewal with no card on file --------------------------------------------------------


def test_finding2_renewal_without_a_card_is_no_decline(
    sandbox: SandboxServer, client: stripe.StripeClient, receiver: Receiver, monthly: str
) -> None:
    """https://docs.stripe.com/payments/paymentintents/lifecycle: with no payment method nothing is
    charged, so the invoice's PaymentIntent stays ``requires_payment_method`` with no
    ``last_payment_error`` (no decline to report); ``POST /v1/invoices/{id}/pay`` then answers 400
    ``invalid_request_error`` "no attached payment source or default payment method", without the
    ``invoice_no_payment_method_types`` code (that one is about ``payment_settings.payment_method_types``,
    https://docs.stripe.com/error-codes#invoice-no-payment-method-types)."""
    customer, sub_id = _subscribed(client, monthly)
    for pm in client.v1.payment_methods.list({"customer": customer}).data:
        client.v1.payment_methods.detach(pm.id)
    sandbox.advance(days=32)
    renewal = client.v1.invoices.list({"subscription": sub_id, "expand": ["data.payments"]}).data[0]
    assert renewal.status == "open" and renewal.attempt_count >= 1
    intent = client.v1.payment_intents.retrieve(renewal.payments.data[0].payment.payment_intent)
    assert intent.status == "requires_payment_method"
    assert intent.payment_method is None and intent.last_payment_error is None
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.invoices.pay(renewal.id)
    assert raised.value.http_status == 400
    assert raised.value.code is None
    assert "no attached payment source or default payment method" in str(raised.value.user_message)
