"""Issue 21, points 1, 2, 7 and 8: the sandbox is as strict as Stripe; each test cites the page it follows."""

from __future__ import annotations

import re
import time

import pytest
import requests
import stripe

from stripe_sandbox.testing import SandboxServer


@pytest.fixture(scope="module")
def monthly(server: SandboxServer) -> str:
    client = server.client()
    product = client.v1.products.create({"name": "Parity plan"})
    return client.v1.prices.create(
        {"product": product.id, "unit_amount": 9900, "currency": "usd", "recurring": {"interval": "month"}}
    ).id


def _customer(client: stripe.StripeClient) -> str:
    return client.v1.customers.create({"email": "parity@clinic.test"}).id


def _set_up(sandbox: SandboxServer, client: stripe.StripeClient, customer_id: str, card: str) -> str:
    """Save ``card`` with a SetupIntent, passing 3-D Secure when it asks; the PaymentMethod id."""
    intent = client.v1.setup_intents.create(
        {"customer": customer_id, "confirm": True, "payment_method": card}
    )
    if intent.status == "requires_action":
        sandbox.authenticate(intent.id)
        intent = client.v1.setup_intents.retrieve(intent.id)
    assert intent.status == "succeeded"
    return str(intent.payment_method)


def _raw_pm(sandbox: SandboxServer, number: str) -> str:
    """A card typed into Stripe.js: its number goes with the publishable key (never the secret one)."""
    return (
        sandbox.client("pk_test_sandbox")
        .v1.payment_methods.create(
            {"type": "card", "card": {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"}}
        )
        .id
    )


def _off_session(client: stripe.StripeClient, customer_id: str, pm_id: str) -> stripe.PaymentIntent:
    return client.v1.payment_intents.create(
        {
            "amount": 2500,
            "currency": "usd",
            "customer": customer_id,
            "payment_method": pm_id,
            "confirm": True,
            "off_session": True,
        }
    )


# point 1: the testing page's cards ---------------------------------------------------------------


def test_point1_3155_frictionless_after_setup(
    sandbox: SandboxServer, client: stripe.StripeClient, monthly: str
) -> None:
    """https://docs.stripe.com/testing#authentication-and-setup: 4000 0025 0000 3155 needs
    authentication on session; once set up (SetupIntent), off-session payments and renewals go through."""
    customer = _customer(client)
    pm = _set_up(sandbox, client, customer, _raw_pm(sandbox, "4000002500003155"))
    assert _off_session(client, customer, pm).status == "succeeded"
    on_session = client.v1.payment_intents.create(
        {"amount": 2500, "currency": "usd", "customer": customer, "payment_method": pm, "confirm": True}
    )
    assert on_session.status == "requires_action"
    visa = _set_up(sandbox, client, customer, "pm_card_visa")
    client.v1.customers.update(customer, {"invoice_settings": {"default_payment_method": visa}})
    sub = client.v1.subscriptions.create({"customer": customer, "items": [{"price": monthly}]})
    client.v1.customers.update(customer, {"invoice_settings": {"default_payment_method": pm}})
    sandbox.advance(days=32)
    renewal = client.v1.invoices.list({"subscription": sub.id}).data[0]
    assert renewal.billing_reason == "subscription_cycle" and renewal.status == "paid"
    assert client.v1.subscriptions.retrieve(sub.id).status == "active"


def test_point1_3155_off_session_without_setup_is_declined(
    sandbox: SandboxServer, client: stripe.StripeClient
) -> None:
    """https://docs.stripe.com/testing#authentication-and-setup: not set up, an off-session payment
    fails with ``authentication_required``."""
    customer = _customer(client)
    pm = client.v1.payment_methods.attach(_raw_pm(sandbox, "4000002500003155"), {"customer": customer}).id
    with pytest.raises(stripe.CardError) as raised:
        _off_session(client, customer, pm)
    assert raised.value.code == "authentication_required"


def test_point1_shortcuts_are_the_testing_pages_cards(
    sandbox: SandboxServer, client: stripe.StripeClient
) -> None:
    """https://docs.stripe.com/testing#cards and #declined-payments: the ``pm_card_*`` shortcuts."""
    customer = _customer(client)
    always = client.v1.payment_methods.attach("pm_card_authenticationRequired", {"customer": customer})
    assert always.card.last4 == "3184"
    assert client.v1.payment_methods.attach("pm_card_jcb", {"customer": customer}).card.brand == "jcb"
    ready = client.v1.payment_methods.attach(
        "pm_card_authenticationRequiredSetupForOffSession", {"customer": customer}
    )
    assert _off_session(client, customer, ready.id).status == "succeeded"
    for token, code in [
        ("pm_card_chargeDeclinedIncorrectCvc", "incorrect_cvc"),
        ("pm_card_chargeDeclinedProcessingError", "processing_error"),
        ("pm_card_chargeDeclinedStolenCard", "card_declined"),
        ("pm_card_chargeDeclinedLostCard", "card_declined"),
    ]:
        with pytest.raises(stripe.CardError) as raised:
            client.v1.payment_intents.create(
                {"amount": 900, "currency": "usd", "payment_method": token, "confirm": True}
            )
        assert raised.value.code == code, token


def test_point1_3184_always_asks_even_once_set_up(
    sandbox: SandboxServer, client: stripe.StripeClient
) -> None:
    """https://docs.stripe.com/testing#authentication-and-setup: 4000 0027 6000 3184 asks on every payment."""
    customer = _customer(client)
    pm = _set_up(sandbox, client, customer, "pm_card_authenticationRequired")
    with pytest.raises(stripe.CardError) as raised:
        _off_session(client, customer, pm)
    assert raised.value.code == "authentication_required"


def test_point1_3178_and_0446_are_not_4242(sandbox: SandboxServer, client: stripe.StripeClient) -> None:
    """https://docs.stripe.com/testing#authentication-and-setup: 4000 0082 6000 3178 asks, then is
    declined (insufficient funds); 4000 0038 0000 0446 asks on session, goes through off session."""
    customer = _customer(client)
    declines = client.v1.payment_intents.create(
        {
            "amount": 900,
            "currency": "usd",
            "payment_method": _raw_pm(sandbox, "4000008260003178"),
            "confirm": True,
        }
    )
    assert declines.status == "requires_action"
    sandbox.authenticate(declines.id)
    after = client.v1.payment_intents.retrieve(declines.id)
    assert after.status == "requires_payment_method"
    assert after.last_payment_error.decline_code == "insufficient_funds"
    pm = client.v1.payment_methods.attach(_raw_pm(sandbox, "4000003800000446"), {"customer": customer}).id
    assert _off_session(client, customer, pm).status == "succeeded"
    on_session = client.v1.payment_intents.create(
        {"amount": 900, "currency": "usd", "customer": customer, "payment_method": pm, "confirm": True}
    )
    assert on_session.status == "requires_action"


# point 2: includable fields and expand -----------------------------------------------------------


def test_point2_invoice_payments_only_when_expanded(
    sandbox: SandboxServer, client: stripe.StripeClient, receiver, monthly: str
) -> None:
    """https://docs.stripe.com/api/expanding_objects and https://docs.stripe.com/api/invoices/object:
    ``payments`` and ``confirmation_secret`` are includable: only when expanded, never in events."""
    customer = _customer(client)
    client.v1.customers.update(
        customer,
        {"invoice_settings": {"default_payment_method": _set_up(sandbox, client, customer, "pm_card_visa")}},
    )
    sub = client.v1.subscriptions.create({"customer": customer, "items": [{"price": monthly}]})
    plain = client.v1.invoices.retrieve(sub.latest_invoice)
    assert "payments" not in plain and "confirmation_secret" not in plain
    full = client.v1.invoices.retrieve(sub.latest_invoice, {"expand": ["payments", "confirmation_secret"]})
    assert full.payments.data[0].status == "paid" and full.confirmation_secret.type == "payment_intent"
    listed = client.v1.invoices.list({"customer": customer, "expand": ["data.payments"]}).data[0]
    assert listed.payments.data[0].invoice == sub.latest_invoice
    sandbox.flush_events()
    invoice_events = [
        e for e in receiver.of_type("invoice.paid") if e["data"]["object"]["customer"] == customer
    ]
    assert invoice_events and all("payments" not in e["data"]["object"] for e in invoice_events)


def test_point2_bad_expand_paths_are_refused(
    sandbox: SandboxServer, client: stripe.StripeClient, monthly: str
) -> None:
    """https://docs.stripe.com/api/expanding_objects: only expandable fields expand; the removed
    ``latest_invoice.payment_intent`` is a 400, not silently ignored."""
    customer = _customer(client)
    sub = client.v1.subscriptions.create(
        {"customer": customer, "items": [{"price": monthly}], "payment_behavior": "default_incomplete"}
    )
    for path in ("latest_invoice.payment_intent", "customer.email", "no_such_field", "a.b.c.d.e"):
        with pytest.raises(stripe.InvalidRequestError) as raised:
            client.v1.subscriptions.retrieve(sub.id, {"expand": [path]})
        assert raised.value.param == "expand", path
    assert client.v1.subscriptions.retrieve(
        sub.id, {"expand": ["latest_invoice.payments"]}
    ).latest_invoice.payments


# point 7: validation, rate limits, idempotency ---------------------------------------------------


def _post(sandbox: SandboxServer, path: str, data: dict, key: str | None = None) -> requests.Response:
    headers = {"Idempotency-Key": key} if key else {}
    return sandbox.http_session("sk_test_parity").post(
        f"{sandbox.url}{path}", data=data, headers=headers, timeout=10
    )


def test_point7_unknown_parameters_bad_enums_and_currencies_are_400(sandbox: SandboxServer) -> None:
    """https://docs.stripe.com/api/errors: ``invalid_request_error`` with ``parameter_unknown`` and the
    parameter named; enums, integers and currencies (https://docs.stripe.com/currencies) checked."""
    unknown = _post(sandbox, "/v1/customers", {"email": "a@x.test", "nickname": "Al"})
    assert unknown.status_code == 400
    assert unknown.json()["error"] | {"request_log_url": None, "doc_url": None} == {
        "type": "invalid_request_error",
        "code": "parameter_unknown",
        "param": "nickname",
        "message": "Received unknown parameter: nickname",
        "request_log_url": None,
        "doc_url": None,
    }
    nested = _post(sandbox, "/v1/customers", {"invoice_settings[default_pm]": "pm_x"})
    assert nested.json()["error"]["param"] == "invoice_settings[default_pm]"
    enum = _post(sandbox, "/v1/setup_intents", {"usage": "sometimes"})
    assert enum.status_code == 400 and enum.json()["error"]["param"] == "usage"
    integer = _post(sandbox, "/v1/payment_intents", {"amount": "ten", "currency": "usd"})
    assert integer.json()["error"]["code"] == "parameter_invalid_integer"
    currency = _post(sandbox, "/v1/payment_intents", {"amount": "900", "currency": "zzz"})
    assert currency.status_code == 400 and currency.json()["error"]["param"] == "currency"
    assert _post(sandbox, "/v1/customers", {"email": "ok@x.test", "metadata[a]": "1"}).status_code == 200


def test_point7_parameter_lists_come_from_the_pinned_sdk() -> None:
    """https://docs.stripe.com/api/versioning: every sandbox endpoint is checked against the SDK's own
    params types for its pinned API version (``stripe/params``), not a hand-written list."""
    from stripe_sandbox.api.pipeline import ROUTES
    from stripe_sandbox.api.schema import endpoint_specs, route_key

    specs = endpoint_specs()
    assert all(route_key(r.method, r.rule) in specs for r in ROUTES)
    create = specs[("POST", "/v1/setup_intents")]["fields"]
    assert "allowed_payment_method_types" in create and "payment_method_types" not in create
    assert "idempotency_key" not in create and "api_key" not in create


def test_point7_rate_limit_then_429_and_the_switch(sandbox: SandboxServer) -> None:
    """https://docs.stripe.com/rate-limits: test mode allows 25 operations per second, then answers
    429 with the code ``rate_limit``; the sandbox's switch turns the limit off."""
    plain = requests.Session()
    plain.headers["Authorization"] = "Bearer sk_test_burst"
    time.sleep(1.1)  # an empty window
    codes = [plain.get(f"{sandbox.url}/v1/customers?limit=1", timeout=5) for _ in range(40)]
    limited = [r for r in codes if r.status_code == 429]
    assert limited and len(codes) - len(limited) <= 25
    assert limited[0].json()["error"]["code"] == "rate_limit"
    sandbox.strict_mode(True, rate_limit=False)
    try:
        assert all(plain.get(f"{sandbox.url}/v1/customers?limit=1", timeout=5).ok for _ in range(40))
    finally:
        sandbox.strict_mode(True, rate_limit=True)


def test_point7_idempotency_keys_after_a_validation_error_and_across_endpoints(
    sandbox: SandboxServer,
) -> None:
    """https://docs.stripe.com/api/idempotent_requests: a request that failed validation saves no result
    (the key may be used again); a key belongs to the endpoint it was first used on."""
    bad = _post(sandbox, "/v1/customers", {"email": "k@x.test", "nickname": "x"}, key="parity-k1")
    assert bad.status_code == 400
    good = _post(sandbox, "/v1/customers", {"email": "k@x.test"}, key="parity-k1")
    assert good.status_code == 200 and "Idempotent-Replayed" not in good.headers
    again = _post(sandbox, "/v1/customers", {"email": "k@x.test"}, key="parity-k1")
    assert again.json()["id"] == good.json()["id"] and again.headers["Idempotent-Replayed"] == "true"
    other = _post(sandbox, "/v1/products", {"name": "k"}, key="parity-k1")
    assert other.status_code == 400 and other.json()["error"]["type"] == "idempotency_error"


# point 8: zero-decimal currencies and minimums ---------------------------------------------------


def test_point8_zero_decimal_amounts_on_hosted_invoice_pdf_and_checkout(
    sandbox: SandboxServer, client: stripe.StripeClient
) -> None:
    """https://docs.stripe.com/currencies#zero-decimal: ``amount=250000`` in VND is 250,000 VND."""
    product = client.v1.products.create({"name": "Clinic VN"})
    price = client.v1.prices.create({"product": product.id, "unit_amount": 250000, "currency": "vnd"})
    customer = _customer(client)
    client.v1.invoice_items.create({"customer": customer, "pricing": {"price": price.id}})
    invoice = client.v1.invoices.create({"customer": customer, "pending_invoice_items_behavior": "include"})
    invoice = client.v1.invoices.finalize_invoice(invoice.id)
    page = requests.get(invoice.hosted_invoice_url, timeout=5).text
    assert "250,000 VND" in page and "2,500.00" not in page
    assert b"250,000 VND" in requests.get(invoice.invoice_pdf, timeout=5).content
    session = client.v1.checkout.sessions.create(
        {
            "mode": "payment",
            "line_items": [{"price": price.id, "quantity": 1}],
            "success_url": "http://x.test/ok",
            "cancel_url": "http://x.test/no",
        }
    )
    assert "250,000 VND" in requests.get(session.url, timeout=5).text


def test_point8_minimum_charge_per_currency(sandbox: SandboxServer, client: stripe.StripeClient) -> None:
    """https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts: GBP 0.30, JPY 50,
    not "50 units" everywhere."""
    assert client.v1.payment_intents.create({"amount": 30, "currency": "gbp"}).amount == 30
    for amount, currency in [(49, "jpy"), (1000, "vnd"), (1400, "czk")]:
        with pytest.raises(stripe.InvalidRequestError) as raised:
            client.v1.payment_intents.create({"amount": amount, "currency": currency})
        assert raised.value.code == "amount_too_small", currency
        assert re.search(r"at least", raised.value.user_message or str(raised.value))
    assert client.v1.payment_intents.create({"amount": 50, "currency": "jpy"}).amount == 50
