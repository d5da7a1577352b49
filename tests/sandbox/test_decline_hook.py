"""The test hook Stripe lacks: ``POST /_sandbox/payment_methods/<id>/decline`` makes a saved card's
next charges fail as the issuer's decline would, so each reason can be tested on a card that saved.

What a decline looks like follows Stripe (https://docs.stripe.com/declines/codes,
https://docs.stripe.com/error-codes): a 402 ``card_error``, the PaymentIntent's ``last_payment_error``,
a failed Charge with its ``outcome``, and for an invoice ``invoice.payment_failed`` with Smart
Retries' next attempt (none after a hard decline).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
import stripe

from stripe_sandbox.billing.common import DEFAULTS
from stripe_sandbox.testing import SandboxServer
from tests.sandbox.conftest import Receiver

#: decline_code -> (error code, decline_code in the error, message): Stripe's words for each.
EXPECTED = {
    "generic_decline": ("card_declined", "generic_decline", "Your card was declined."),
    "insufficient_funds": ("card_declined", "insufficient_funds", "Your card has insufficient funds."),
    "lost_card": ("card_declined", "lost_card", "Your card was declined."),
    "stolen_card": ("card_declined", "stolen_card", "Your card was declined."),
    "expired_card": ("expired_card", None, "Your card has expired."),
    "incorrect_cvc": ("incorrect_cvc", None, "Your card's security code is incorrect."),
    "processing_error": (
        "processing_error",
        "processing_error",
        "An error occurred while processing your card. Try again in a little bit.",
    ),
    "do_not_honor": ("card_declined", "do_not_honor", "Your card was declined."),
    "card_velocity_exceeded": (
        "card_declined",
        "card_velocity_exceeded",
        "Your card was declined for making repeated attempts too frequently or exceeding its amount limit.",
    ),
    "fraudulent": ("card_declined", "fraudulent", "Your card was declined."),
    "transaction_not_allowed": ("card_declined", "transaction_not_allowed", "Your card was declined."),
    "authentication_required": (
        "authentication_required",
        "authentication_required",
        "Your card was declined. This transaction requires authentication.",
    ),
}


@pytest.fixture
def defaults(sandbox: SandboxServer) -> Iterator[SandboxServer]:
    yield sandbox
    sandbox.settings(**DEFAULTS)


def _saved_card(client: stripe.StripeClient) -> tuple[str, str]:
    customer = client.v1.customers.create({"email": "declines@clinic.test", "payment_method": "pm_card_visa"})
    pm = client.v1.payment_methods.list({"customer": customer.id}).data[0].id
    client.v1.customers.update(customer.id, {"invoice_settings": {"default_payment_method": pm}})
    return customer.id, pm


def _charge(client: stripe.StripeClient, customer: str, pm: str) -> stripe.PaymentIntent:
    return client.v1.payment_intents.create(
        {
            "amount": 2500,
            "currency": "usd",
            "customer": customer,
            "payment_method": pm,
            "confirm": True,
            "off_session": True,
        }
    )


@pytest.mark.parametrize("decline_code", sorted(EXPECTED))
def test_a_saved_card_is_declined_as_stripe_declines_it(
    sandbox: SandboxServer, client: stripe.StripeClient, receiver: Receiver, decline_code: str
) -> None:
    code, error_decline_code, message = EXPECTED[decline_code]
    customer, pm = _saved_card(client)
    sandbox.decline_card(pm, decline_code)
    with pytest.raises(stripe.CardError) as raised:
        _charge(client, customer, pm)
    error = raised.value
    assert (error.http_status, error.code, error.error.decline_code, error.user_message) == (
        402,
        code,
        error_decline_code,
        message,
    )
    intent = client.v1.payment_intents.retrieve(error.error.payment_intent.id)
    assert intent.status == "requires_payment_method"
    assert (intent.last_payment_error.code, intent.last_payment_error.decline_code) == (
        code,
        error_decline_code,
    )
    assert intent.last_payment_error.message == message
    sandbox.flush_events()
    failed = [e["data"]["object"] for e in receiver.of_type("charge.failed")]
    charge = next(c for c in failed if c["payment_intent"] == intent.id)
    assert charge["failure_code"] == code and charge["outcome"]["reason"] == decline_code
    assert charge["outcome"]["type"] == ("blocked" if decline_code == "fraudulent" else "issuer_declined")


def test_charges_counts_down_and_null_clears(sandbox: SandboxServer, client: stripe.StripeClient) -> None:
    customer, pm = _saved_card(client)
    assert sandbox.decline_card(pm, "insufficient_funds", charges=1) == {
        "payment_method": pm,
        "decline_code": "insufficient_funds",
        "charges": 1,
    }
    with pytest.raises(stripe.CardError):
        _charge(client, customer, pm)
    assert _charge(client, customer, pm).status == "succeeded"  # the one declined charge is used up

    sandbox.decline_card(pm, "do_not_honor")  # no ``charges``: until cleared
    for _ in range(2):
        with pytest.raises(stripe.CardError):
            _charge(client, customer, pm)
    sandbox.decline_card(pm, None)
    assert _charge(client, customer, pm).status == "succeeded"


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        ({"decline_code": "card_on_fire"}, "Unknown decline_code 'card_on_fire'. Use one of:"),
        ({"decline_code": "insufficient_funds", "charges": 0}, "charges must be a whole number"),
        ({"decline_code": "insufficient_funds", "charges": "two"}, "charges must be a whole number"),
        ({}, "Missing decline_code"),
    ],
)
def test_a_bad_request_is_refused_with_a_clear_message(
    sandbox: SandboxServer, client: stripe.StripeClient, payload: dict, words: str
) -> None:
    _, pm = _saved_card(client)
    answer = requests.post(f"{sandbox.url}/_sandbox/payment_methods/{pm}/decline", json=payload, timeout=10)
    assert answer.status_code == 400
    assert words in answer.json()["error"]["message"]
    assert _charge(client, *_saved_card(client)).status == "succeeded"


def test_an_unknown_card_is_404(sandbox: SandboxServer) -> None:
    answer = requests.post(
        f"{sandbox.url}/_sandbox/payment_methods/pm_missing/decline",
        json={"decline_code": "lost_card"},
        timeout=10,
    )
    assert answer.status_code == 404 and "pm_missing" in answer.json()["error"]["message"]


def _renewal_with_decline(
    sandbox: SandboxServer, client: stripe.StripeClient, decline_code: str
) -> stripe.Invoice:
    customer, pm = _saved_card(client)
    product = client.v1.products.create({"name": "Decline hook"})
    price = client.v1.prices.create(
        {"product": product.id, "unit_amount": 4000, "currency": "usd", "recurring": {"interval": "month"}}
    )
    sub = client.v1.subscriptions.create({"customer": customer, "items": [{"price": price.id}]})
    assert sub.status == "active"
    sandbox.decline_card(pm, decline_code)
    period_end = sub["items"].data[0].current_period_end
    sandbox.advance(seconds=period_end - sandbox.now() + 3600 + 60)  # the renewal's hour in draft, then 1 try
    sub = client.v1.subscriptions.retrieve(sub.id)
    assert sub.status == "past_due"
    return client.v1.invoices.retrieve(
        sub.latest_invoice, {"expand": ["payments.data.payment.payment_intent"]}
    )


@pytest.mark.parametrize(("decline_code", "retried"), [("insufficient_funds", True), ("stolen_card", False)])
def test_smart_retries_retry_a_soft_decline_and_never_a_hard_one(
    defaults: SandboxServer,
    client: stripe.StripeClient,
    receiver: Receiver,
    decline_code: str,
    retried: bool,
) -> None:
    """A lost or stolen card is not retried (https://docs.stripe.com/billing/revenue-recovery/smart-retries)."""
    renewal = _renewal_with_decline(defaults, client, decline_code)
    assert renewal.status == "open" and renewal.attempt_count == 1
    assert (renewal.next_payment_attempt is not None) is retried
    intent = renewal.payments.data[0].payment.payment_intent
    assert intent.last_payment_error.decline_code == decline_code
    assert any(e["data"]["object"]["id"] == renewal.id for e in receiver.of_type("invoice.payment_failed"))
