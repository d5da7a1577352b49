"""Issue 21's attack (task 21b): what an attacker who knows Stripe found kinder in the sandbox than Stripe,
made as Stripe does; each test is named by its finding and cites the page it follows."""

from __future__ import annotations

import socket
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import stripe

from stripe_sandbox.testing import SandboxServer
from tests.sandbox.conftest import SECRET, Receiver, wait_until


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


# finding 13: webhook retries with back-off --------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_finding13_an_endpoint_down_at_first_gets_its_events_later() -> None:
    """https://docs.stripe.com/webhooks#retries: Stripe retries a failed delivery with an exponential
    back-off for up to 3 days. Here the endpoint is not listening yet (the portal at ``make run``
    start): the event waits, the dashboard lists it, the API is not held up, and once the endpoint
    listens the event arrives."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}/webhooks/stripe"
    with SandboxServer(webhook_url=url, webhook_secret=SECRET) as sandbox:
        sandbox.set_delivery("ordered", retry_base_seconds=0.1)
        client = sandbox.client()
        customer = client.v1.customers.create({"email": "early@clinic.test"})
        assert wait_until(lambda: "Pending deliveries" in _dashboard(sandbox) and "evt_" in _waiting(sandbox))
        assert client.v1.customers.retrieve(customer.id).id == customer.id  # nothing blocks
        time.sleep(2.0)  # 5 attempts fail (0.1 s, 0.2 s, 0.4 s, 0.8 s apart): the old code gave up here
        receiver = Receiver(port)
        try:
            assert wait_until(lambda: "customer.created" in receiver.types(customer.id), timeout=10)
            assert sandbox.flush_events()["pending"] == 0
            assert "None: every event has been delivered." in _dashboard(sandbox)
        finally:
            receiver.close()


def test_finding13_retries_back_off_up_to_an_hour_for_three_days(monkeypatch: pytest.MonkeyPatch) -> None:
    """https://docs.stripe.com/webhooks#retries: the waits double from 1 s, never exceed an hour, and
    the event is given up only once 3 days have passed since its first attempt."""
    from stripe_sandbox import delivery

    marks: list[tuple[str, int]] = []

    class _Store:
        def mark_delivery(self, event_id: str, status: str, attempts: int, error: str | None = None) -> None:
            marks.append((status, attempts))

    clock = [1000.0]
    monkeypatch.setattr(delivery.time, "monotonic", lambda: clock[0])
    deliverer = delivery.Deliverer(_Store(), "http://127.0.0.1:9/", "whsec_x")  # type: ignore[arg-type]
    monkeypatch.setattr(deliverer, "_post", lambda job: "connection error: ConnectionError")
    deliverer.enqueue("evt_down", "{}")
    waits = []
    while deliverer.pending():
        clock[0] = deliverer.waiting()[0]["next_attempt_in"] + clock[0]
        (job,) = deliverer.take_due(clock[0])
        deliverer._deliver(job)
        if deliverer.pending():
            waits.append(deliverer.waiting()[0]["next_attempt_in"])
    assert waits[:5] == [1, 2, 4, 8, 16] and max(waits) == 3600
    assert marks[-1][0] == "failed" and sum(waits) <= 3 * 24 * 3600 < sum(waits) + 3600
    assert all(status == "pending" for status, _ in marks[:-1])


def _dashboard(sandbox: SandboxServer) -> str:
    return requests.get(f"{sandbox.url}/", timeout=10).text


def _waiting(sandbox: SandboxServer) -> str:
    page = _dashboard(sandbox)
    return page.split("Pending deliveries", 1)[1].split("</section>", 1)[0]


# finding 4: one currency per customer -------------------------------------------------------------


def test_finding4_a_customer_bills_in_one_currency(
    sandbox: SandboxServer, client: stripe.StripeClient, monthly: str
) -> None:
    """https://docs.stripe.com/api/customers/object#customer_object-currency: the first subscription,
    invoice or invoice item sets the customer's currency; another one is refused ("You cannot combine
    currencies on a single customer")."""
    customer, _ = _subscribed(client, monthly)
    assert client.v1.customers.retrieve(customer).currency == "usd"
    product = client.v1.products.create({"name": "Euro plan"})
    euro = client.v1.prices.create(
        {"product": product.id, "unit_amount": 900, "currency": "eur", "recurring": {"interval": "month"}}
    )
    with pytest.raises(stripe.InvalidRequestError, match="cannot combine currencies") as raised:
        client.v1.subscriptions.create({"customer": customer, "items": [{"price": euro.id}]})
    assert raised.value.http_status == 400

    vnd_customer = client.v1.customers.create({"email": "dong@clinic.test"})
    client.v1.invoice_items.create({"customer": vnd_customer.id, "amount": 250000, "currency": "vnd"})
    client.v1.invoices.create({"customer": vnd_customer.id, "pending_invoice_items_behavior": "include"})
    assert client.v1.customers.retrieve(vnd_customer.id).currency == "vnd"
    with pytest.raises(stripe.InvalidRequestError, match="cannot combine currencies"):
        client.v1.invoice_items.create({"customer": vnd_customer.id, "amount": 500, "currency": "usd"})


# finding 5: idempotency keys in flight, their length and the replay headers ----------------------


def test_finding5_a_duplicate_in_flight_is_409_and_replays_name_the_original(sandbox: SandboxServer) -> None:
    """https://docs.stripe.com/api/idempotent_requests and https://docs.stripe.com/error-low-level:
    a request whose key another request is still using gets 409 ``idempotency_error``; keys are at
    most 255 characters; answers carry ``Idempotency-Key``, and replays ``Idempotent-Replayed: true``
    and ``Original-Request`` (the request that ran)."""
    sandbox.set_latency(400)  # the first request is still running when the others come
    try:
        with ThreadPoolExecutor(max_workers=5) as pool:
            answers = list(
                pool.map(
                    lambda _: _post(
                        sandbox, "/v1/customers", {"email": "twice@x.test"}, key="finding5-burst"
                    ),
                    range(5),
                )
            )
    finally:
        sandbox.set_latency(0)
    assert sorted(r.status_code for r in answers) == [200, 409, 409, 409, 409]
    [ran] = [r for r in answers if r.status_code == 200]
    conflict = next(r for r in answers if r.status_code == 409).json()["error"]
    assert conflict["type"] == "idempotency_error" and conflict["code"] == "idempotency_key_in_use"
    assert "another in-progress request" in conflict["message"]
    assert ran.headers["Idempotency-Key"] == "finding5-burst" and "Idempotent-Replayed" not in ran.headers

    replay = _post(sandbox, "/v1/customers", {"email": "twice@x.test"}, key="finding5-burst")
    assert replay.json()["id"] == ran.json()["id"]
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.headers["Original-Request"] == ran.headers["Request-Id"] != replay.headers["Request-Id"]
    assert replay.headers["Idempotency-Key"] == "finding5-burst"

    too_long = _post(sandbox, "/v1/customers", {"email": "long@x.test"}, key="k" * 256)
    assert too_long.status_code == 400 and too_long.json()["error"]["type"] == "invalid_request_error"
    assert _post(sandbox, "/v1/customers", {"email": "long@x.test"}, key="k" * 255).status_code == 200


# finding 6: Checkout Session refusals and price_data ----------------------------------------------


def test_finding6_checkout_refusals_and_inline_prices(
    sandbox: SandboxServer, client: stripe.StripeClient, monthly: str
) -> None:
    """https://docs.stripe.com/api/checkout/sessions/create: ``customer`` and ``customer_email``
    exclude each other, URLs must be URLs (``url_invalid``), quantities and
    ``subscription_data.trial_period_days`` are at least 1, and ``line_items[].price_data`` makes an
    inline price."""
    customer = client.v1.customers.create({"email": "checkout@clinic.test"}).id
    base = {"mode": "subscription", "success_url": "https://clinic.test/ok", "customer": customer}
    item = {"price": monthly, "quantity": 1}
    refused = [
        ({**base, "customer_email": "x@clinic.test", "line_items": [item]}, "customer_email", None),
        ({**base, "success_url": "notaurl", "line_items": [item]}, "success_url", "url_invalid"),
        ({**base, "line_items": [{"price": monthly, "quantity": 0}]}, "line_items[0][quantity]", None),
        (
            {**base, "line_items": [item], "subscription_data": {"trial_period_days": 0}},
            "subscription_data[trial_period_days]",
            None,
        ),
    ]
    for params, param, code in refused:
        with pytest.raises(stripe.InvalidRequestError) as raised:
            client.v1.checkout.sessions.create(params)
        assert raised.value.param == param, params
        if code:
            assert raised.value.code == code

    session = client.v1.checkout.sessions.create(
        {
            "mode": "payment",
            "success_url": "https://clinic.test/ok",
            "line_items": [
                {
                    "quantity": 2,
                    "price_data": {
                        "currency": "usd",
                        "unit_amount": 1250,
                        "product_data": {"name": "Inline gloves"},
                    },
                }
            ],
        }
    )
    assert session.amount_total == 2500
    [line] = client.v1.checkout.sessions.line_items.list(session.id).data
    assert line.price.unit_amount == 1250 and line.description == "Inline gloves"


# finding 7: customer fields and metadata limits ---------------------------------------------------


def test_finding7_customer_fields_and_metadata_have_stripes_limits(
    sandbox: SandboxServer, client: stripe.StripeClient
) -> None:
    """https://docs.stripe.com/api/customers/create (email up to 512 characters and a real address,
    name up to 256) and https://docs.stripe.com/metadata#data (50 keys, 40-character keys,
    500-character values, on every object with metadata)."""
    refused = [
        ({"email": "not-an-email"}, "email"),
        ({"email": "a" * 590 + "@clinic.test"}, "email"),
        ({"name": "n" * 5000}, "name"),
        ({"metadata": {f"k{i}": "v" for i in range(51)}}, "metadata"),
        ({"metadata": {"k" * 41: "v"}}, "metadata[" + "k" * 41 + "]"),
        ({"metadata": {"note": "v" * 501}}, "metadata[note]"),
    ]
    for params, param in refused:
        with pytest.raises(stripe.InvalidRequestError) as raised:
            client.v1.customers.create(params)
        assert raised.value.param == param, params
    kept = client.v1.customers.create(
        {"email": "ok@clinic.test", "name": "n" * 256, "metadata": {"k" * 40: "v" * 500}}
    )
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.customers.update(kept.id, {"metadata": {f"more{i}": "v" for i in range(50)}})
    with pytest.raises(stripe.InvalidRequestError) as on_a_product:
        client.v1.products.create({"name": "Gloves", "metadata": {"note": "v" * 501}})
    assert on_a_product.value.param == "metadata[note]"


# finding 8: PaymentIntent amounts, off_session, raw card numbers ----------------------------------


def test_finding8_amount_limit_off_session_and_raw_card_numbers(
    sandbox: SandboxServer, client: stripe.StripeClient
) -> None:
    """https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts (at most eight digits:
    ``amount_too_large``), https://docs.stripe.com/api/payment_intents/create#create_payment_intent-off_session
    (only with ``confirm=true``), https://docs.stripe.com/testing#cards (card numbers with a secret key
    are refused; Stripe.js sends them with the publishable key)."""
    customer = client.v1.customers.create({"email": "limits@clinic.test"}).id
    with pytest.raises(stripe.InvalidRequestError) as too_large:
        client.v1.payment_intents.create({"amount": 100_000_000_000, "currency": "usd"})
    assert too_large.value.code == "amount_too_large" and too_large.value.param == "amount"
    assert client.v1.payment_intents.create({"amount": 99_999_999, "currency": "usd"}).amount == 99_999_999
    with pytest.raises(stripe.InvalidRequestError) as unconfirmed:
        client.v1.payment_intents.create(
            {"amount": 2000, "currency": "usd", "customer": customer, "off_session": True}
        )
    assert unconfirmed.value.param == "off_session"
    card = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}
    with pytest.raises(stripe.InvalidRequestError, match="raw card data") as raw:
        client.v1.payment_methods.create({"type": "card", "card": card})
    assert raw.value.param == "card[number]"
    typed = sandbox.client("pk_test_sandbox").v1.payment_methods.create({"type": "card", "card": card})
    assert typed.card.last4 == "4242"


# finding 9: the fraud and velocity test cards, and numbers not on the testing page ----------------


def _pay(client: stripe.StripeClient, customer: str, pm: str) -> stripe.PaymentIntent:
    return client.v1.payment_intents.create(
        {
            "amount": 2000,
            "currency": "usd",
            "customer": customer,
            "payment_method": pm,
            "confirm": True,
            "expand": ["latest_charge"],
        }
    )


def test_finding9_fraud_velocity_and_unknown_cards(
    sandbox: SandboxServer, client: stripe.StripeClient
) -> None:
    """https://docs.stripe.com/testing#fraud-prevention and #declined-payments: 4100 0000 0000 0019 is
    always blocked (``fraudulent``), 4000 0000 0000 4954 goes through at risk level ``highest``,
    4000 0000 0000 6975 is declined ``card_velocity_exceeded``; their ``pm_card_*`` tokens exist; a
    Luhn-valid number not on the page is a live card, declined in test mode."""
    customer = client.v1.customers.create({"email": "radar@clinic.test"}).id
    risky = _pay(client, customer, "pm_card_riskLevelHighest")
    assert risky.status == "succeeded" and risky.latest_charge.outcome.risk_level == "highest"
    stripe_js = sandbox.client("pk_test_sandbox")
    for token, number, decline in (
        ("pm_card_chargeDeclinedFraudulent", "4100000000000019", "fraudulent"),
        ("pm_card_chargeDeclinedVelocityLimitExceeded", "4000000000006975", "card_velocity_exceeded"),
        (None, "4000000000000077", "test_mode_live_card"),
    ):
        for pm in filter(None, (token, _typed(stripe_js, number))):
            with pytest.raises(stripe.CardError) as declined:
                _pay(client, customer, pm)
            assert declined.value.code == "card_declined", pm
            assert declined.value.error.decline_code == decline, pm
    blocked = client.v1.charges.list({"customer": customer, "limit": 1}).data[0]
    assert blocked.outcome.type == "issuer_declined"  # the last one: a live card, not Radar
    fraud = [
        c for c in client.v1.charges.list({"customer": customer}).data if c.outcome.reason == "fraudulent"
    ]
    assert fraud and all(c.outcome.type == "blocked" for c in fraud)


def _typed(stripe_js: stripe.StripeClient, number: str) -> str:
    card = {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"}
    return stripe_js.v1.payment_methods.create({"type": "card", "card": card}).id


# finding 10: cancel with a final invoice, off-session creation, metadata of a canceled subscription


def test_finding10_cancel_invoice_now_prorate_makes_a_final_credit_invoice(
    sandbox: SandboxServer, client: stripe.StripeClient, receiver: Receiver, monthly: str
) -> None:
    """https://docs.stripe.com/api/subscriptions/cancel: ``prorate`` credits the unused time with a
    proration item and ``invoice_now`` puts it on a final invoice at once; the negative total goes
    to the customer's balance (https://docs.stripe.com/billing/customer/balance)."""
    customer, sub_id = _subscribed(client, monthly)
    sandbox.advance(days=10)
    receiver.clear()
    client.v1.subscriptions.cancel(sub_id, {"invoice_now": True, "prorate": True})
    final = client.v1.invoices.list({"subscription": sub_id}).data[0]
    assert final.billing_reason != "subscription_create"
    [credit] = final.lines.data
    assert credit.amount < 0 and -credit.amount < 4000 and credit.parent.invoice_item_details.proration
    assert final.total == credit.amount and final.status == "paid"
    assert client.v1.customers.retrieve(customer).balance == credit.amount
    sandbox.flush_events()
    types = receiver.types(customer)
    assert "customer.subscription.deleted" in types and "invoice.finalized" in types


def test_finding10_off_session_creation_and_metadata_of_a_canceled_subscription(
    sandbox: SandboxServer, client: stripe.StripeClient, monthly: str
) -> None:
    """https://docs.stripe.com/api/subscriptions/create#create_subscription-off_session: with
    ``off_session=true`` a card set up for later payments (4000 0025 0000 3155) is charged without
    3-D Secure; https://docs.stripe.com/api/subscriptions/update: a canceled subscription still takes
    new metadata, nothing else."""
    customer = client.v1.customers.create({"email": "away@clinic.test"}).id
    intent = client.v1.setup_intents.create(
        {"customer": customer, "confirm": True, "payment_method": "pm_card_authenticationRequiredOnSetup"}
    )
    sandbox.authenticate(intent.id)
    pm = str(client.v1.setup_intents.retrieve(intent.id).payment_method)
    sub = client.v1.subscriptions.create(
        {
            "customer": customer,
            "items": [{"price": monthly}],
            "default_payment_method": pm,
            "off_session": True,
        }
    )
    assert sub.status == "active"
    client.v1.subscriptions.cancel(sub.id)
    updated = client.v1.subscriptions.update(sub.id, {"metadata": {"closedBy": "owner"}})
    assert updated.metadata["closedBy"] == "owner" and updated.status == "canceled"
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.subscriptions.update(sub.id, {"description": "again"})
    assert refused.value.param == "description"


# finding 12: previews, cursors, the balance's history ---------------------------------------------


def test_finding12_preview_owner_cursors_and_balance_transactions(
    sandbox: SandboxServer, client: stripe.StripeClient, monthly: str
) -> None:
    """https://docs.stripe.com/api/invoices/create_preview (the subscription must be the customer's),
    https://docs.stripe.com/api/pagination (``starting_after`` and ``ending_before`` exclude each
    other), https://docs.stripe.com/api/customer_balance_transactions (create and list the history)."""
    owner, sub_id = _subscribed(client, monthly)
    stranger = client.v1.customers.create({"email": "stranger@clinic.test"}).id
    with pytest.raises(stripe.InvalidRequestError) as not_theirs:
        client.v1.invoices.create_preview({"customer": stranger, "subscription": sub_id})
    assert not_theirs.value.http_status == 400
    assert client.v1.invoices.create_preview({"customer": owner, "subscription": sub_id}).total == 4000

    with pytest.raises(stripe.InvalidRequestError) as both:
        client.v1.customers.list({"starting_after": owner, "ending_before": stranger})
    assert both.value.code == "parameters_exclusive"

    credit = client.v1.customers.balance_transactions.create(
        owner, {"amount": -1500, "currency": "usd", "description": "Goodwill"}
    )
    assert (credit.type, credit.amount, credit.ending_balance) == ("adjustment", -1500, -1500)
    assert client.v1.customers.retrieve(owner).balance == -1500
    sandbox.advance(days=32)  # the renewal uses the credit
    history = client.v1.customers.balance_transactions.list(owner).data
    assert [t.type for t in history] == ["applied_to_invoice", "adjustment"]
    assert history[0].amount == 1500 and history[0].ending_balance == 0 and history[0].invoice
