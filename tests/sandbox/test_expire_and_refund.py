"""Contract: ``checkout.sessions.expire`` and ``refunds.create`` behave as Stripe's do.

Expire: only an ``open`` session can be expired (else a 400 invalid_request_error), it
sends ``checkout.session.expired`` and its hosted page can no longer be paid. Refund: all
that is left of the charge by default, never more, ``charge.refunded`` and
``refund.created`` sent, and the charge shows what was refunded.
"""

from __future__ import annotations

import pytest
import requests
import stripe

from stripe_sandbox.testing import SandboxServer
from tests.sandbox.conftest import Receiver, wait_until
from tests.sandbox.test_pages import CARD, _session


@pytest.fixture(scope="module")
def prices(server: SandboxServer) -> dict[str, str]:
    client = server.client()
    product = client.v1.products.create({"name": "Clinic"})
    monthly = client.v1.prices.create(
        {"product": product.id, "unit_amount": 9900, "currency": "usd", "recurring": {"interval": "month"}}
    )
    fee = client.v1.prices.create({"product": product.id, "unit_amount": 50000, "currency": "usd"})
    return {"monthly": monthly.id, "fee": fee.id}


def _error(call) -> stripe.InvalidRequestError:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        call()
    assert caught.value.http_status == 400
    assert caught.value.error.type == "invalid_request_error"
    return caught.value


def test_an_open_session_expires_once_and_cannot_be_paid(
    sandbox: SandboxServer, client: stripe.StripeClient, receiver: Receiver, prices: dict[str, str]
) -> None:
    customer = client.v1.customers.create({"email": "two-tabs@clinic.test"})
    session = _session(client, prices, customer=customer.id)

    expired = client.v1.checkout.sessions.expire(session.id)

    assert expired.status == "expired" and expired.url is None
    assert client.v1.checkout.sessions.retrieve(session.id).status == "expired"
    assert wait_until(lambda: receiver.of_type("checkout.session.expired"))
    assert receiver.of_type("checkout.session.expired")[0]["data"]["object"]["id"] == session.id
    again = _error(lambda: client.v1.checkout.sessions.expire(session.id))
    assert 'has a status of "expired"' in again.user_message
    page = requests.post(f"{session.url}/pay", data=CARD, allow_redirects=False, timeout=10)
    assert page.status_code == 400 and "This checkout session is expired." in page.text
    assert client.v1.subscriptions.list({"customer": customer.id, "status": "all"}).data == []


def test_a_paid_session_cannot_be_expired(
    sandbox: SandboxServer, client: stripe.StripeClient, prices: dict[str, str]
) -> None:
    customer = client.v1.customers.create({"email": "paid@clinic.test"})
    session = _session(client, prices, customer=customer.id)
    paid = requests.post(f"{session.url}/pay", data=CARD, allow_redirects=False, timeout=10)
    assert paid.status_code == 303

    error = _error(lambda: client.v1.checkout.sessions.expire(session.id))

    assert 'Only Checkout Sessions with a status in ["open"] can be expired' in error.user_message
    assert client.v1.checkout.sessions.retrieve(session.id).status == "complete"
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.checkout.sessions.expire("cs_test_nope")
    assert missing.value.http_status == 404


def _paid_invoice_intent(client: stripe.StripeClient, prices: dict[str, str]) -> tuple[str, int]:
    customer = client.v1.customers.create({"email": "refund@clinic.test"})
    session = _session(client, prices, customer=customer.id)
    requests.post(f"{session.url}/pay", data=CARD, allow_redirects=False, timeout=10)
    done = client.v1.checkout.sessions.retrieve(session.id)
    payments = client.v1.invoice_payments.list({"invoice": str(done.invoice)})
    return payments.data[0].payment.payment_intent, done.amount_total


def test_refund_gives_back_the_whole_charge_once(
    sandbox: SandboxServer, client: stripe.StripeClient, receiver: Receiver, prices: dict[str, str]
) -> None:
    intent_id, total = _paid_invoice_intent(client, prices)

    refund = client.v1.refunds.create({"payment_intent": intent_id, "reason": "duplicate"})

    assert refund.object == "refund" and refund.id.startswith("re_")
    assert (refund.amount, refund.status, refund.reason, refund.payment_intent) == (
        total,
        "succeeded",
        "duplicate",
        intent_id,
    )
    charge = client.v1.charges.retrieve(refund.charge)
    assert charge.refunded is True and charge.amount_refunded == total
    assert client.v1.refunds.retrieve(refund.id).amount == total
    assert [r.id for r in client.v1.refunds.list({"payment_intent": intent_id}).data] == [refund.id]
    assert wait_until(lambda: receiver.of_type("refund.created") and receiver.of_type("charge.refunded"))
    assert receiver.of_type("charge.refunded")[-1]["data"]["object"]["amount_refunded"] == total
    again = _error(lambda: client.v1.refunds.create({"charge": refund.charge}))
    assert again.code == "charge_already_refunded"


def test_partial_refunds_never_exceed_the_charge(
    sandbox: SandboxServer, client: stripe.StripeClient, prices: dict[str, str]
) -> None:
    intent_id, total = _paid_invoice_intent(client, prices)
    first = client.v1.refunds.create({"payment_intent": intent_id, "amount": 9900})
    assert first.amount == 9900
    too_much = _error(lambda: client.v1.refunds.create({"payment_intent": intent_id, "amount": total}))
    assert too_much.code == "amount_too_large" and too_much.param == "amount"
    rest = client.v1.refunds.create({"payment_intent": intent_id})
    assert rest.amount == total - 9900
    assert client.v1.charges.retrieve(first.charge).refunded is True
    nothing = _error(lambda: client.v1.refunds.create({}))
    assert "payment_intent or charge" in nothing.user_message
