"""JSON API: the payment-method endpoints of the source guide, every error code."""

from __future__ import annotations

import pytest

from portal.wallet import services
from portal.wallet.models import PaymentMethod
from tests.factories import api_register


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def _register(client, email: str) -> dict:
    return api_register(client, "Card Holder", email, "long-enough-password")


@pytest.fixture
def account(client):
    return _register(client, "holder@example.com")


@pytest.fixture
def headers(account):
    return bearer(account["access_token"])


def _new_pm(sandbox, card: str = "pm_card_visa") -> str:
    """A payment method as Stripe.js would create it (the publishable key), not yet attached."""
    token = {"pm_card_visa": "4242424242424242", "pm_card_mastercard": "5555555555554444"}[card]
    pm = sandbox.client("pk_test_sandbox").v1.payment_methods.create(
        {"type": "card", "card": {"number": token, "exp_month": 12, "exp_year": 2034, "cvc": "123"}}
    )
    return pm.id


def test_attach_list_default_detach(client, sandbox, headers, account):
    first = _new_pm(sandbox)
    response = client.post(
        "/payments/customer/payment-methods", json={"paymentMethodId": first}, headers=headers
    )
    assert response.status_code == 201
    assert response.get_json()["data"]["customer"] == account["user"]["stripeCustomerId"]
    second = _new_pm(sandbox, "pm_card_mastercard")
    client.post("/payments/customer/payment-methods", json={"paymentMethodId": second}, headers=headers)

    listed = client.get("/payments/customer/payment-methods", headers=headers).get_json()["data"]
    assert {c["id"] for c in listed} == {first, second}
    assert [c["isDefault"] for c in listed if c["id"] == first] == [True]
    assert listed[0]["card"]["last4"] in {"4242", "4444"}

    response = client.patch(
        "/payments/customer/default-payment-method", json={"paymentMethodId": second}, headers=headers
    )
    assert response.status_code == 200 and response.get_json()["data"]["isDefault"] is True
    customer = sandbox.client().v1.customers.retrieve(account["user"]["stripeCustomerId"])
    assert customer.invoice_settings.default_payment_method == second

    assert client.delete(f"/payments/customer/payment-methods/{first}", headers=headers).status_code == 200
    listed = client.get("/payments/customer/payment-methods", headers=headers).get_json()["data"]
    assert [c["id"] for c in listed] == [second]


def test_setup_intent(client, headers):
    response = client.post("/payments/customer/setup-intent", headers=headers)
    assert response.status_code == 201
    assert "_secret_" in response.get_json()["data"]["clientSecret"]


@pytest.mark.parametrize("body", [{}, {"paymentMethodId": 42}, {"paymentMethodId": "card_123"}])
def test_bad_payment_method_id_is_400(client, headers, body):
    response = client.post("/payments/customer/payment-methods", json=body, headers=headers)
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "validation_error"


def test_unknown_payment_method_is_404(client, headers):
    response = client.post(
        "/payments/customer/payment-methods", json={"paymentMethodId": "pm_nope"}, headers=headers
    )
    assert response.status_code == 404


@pytest.mark.parametrize("mirrored", [True, False])
def test_another_customers_card_answers_exactly_like_a_card_that_does_not_exist(
    client, sandbox, headers, mirrored
):
    """No existence oracle: whether the id is another customer's card (one the portal mirrors, or one
    only Stripe knows is attached elsewhere) or no card at all, the answer is the same."""
    pm = _new_pm(sandbox)
    if mirrored:
        other = _register(client, "other@example.com")
        client.post(
            "/payments/customer/payment-methods",
            json={"paymentMethodId": pm},
            headers=bearer(other["access_token"]),
        )
    else:
        stranger = sandbox.client().v1.customers.create({"email": "stranger@example.com"})
        sandbox.client().v1.payment_methods.attach(pm, {"customer": stranger.id})
    taken = client.post("/payments/customer/payment-methods", json={"paymentMethodId": pm}, headers=headers)
    missing = client.post(
        "/payments/customer/payment-methods", json={"paymentMethodId": "pm_nope"}, headers=headers
    )
    assert (taken.status_code, taken.get_json()["error"]) == (
        missing.status_code,
        missing.get_json()["error"],
    )
    assert missing.status_code == 404


@pytest.mark.parametrize("method", ["delete", "default"])
def test_another_users_card_is_404_without_a_stripe_call(app, client, sandbox, headers, method):
    other = _register(client, "victim@example.com")
    pm = _new_pm(sandbox)
    client.post(
        "/payments/customer/payment-methods",
        json={"paymentMethodId": pm},
        headers=bearer(other["access_token"]),
    )
    with app.extensions["stripe_call_counter"].watch() as calls:
        if method == "delete":
            response = client.delete(f"/payments/customer/payment-methods/{pm}", headers=headers)
        else:
            response = client.patch(
                "/payments/customer/default-payment-method", json={"paymentMethodId": pm}, headers=headers
            )
    assert response.status_code == 404
    assert calls == []
    assert PaymentMethod.query.filter_by(stripe_id=pm).one().customer_id == other["user"]["stripeCustomerId"]


def test_stripe_down_is_503_with_a_reason(client, sandbox, headers):
    pm = _new_pm(sandbox)
    with sandbox.outage():
        response = client.post(
            "/payments/customer/payment-methods", json={"paymentMethodId": pm}, headers=headers
        )
    assert response.status_code == 503
    body = response.get_json()
    assert body["error"]["code"] == "stripe_unavailable" and "Stripe" in body["error"]["message"]
    assert services.list_cards(None) == []


def test_endpoints_need_a_token(client):
    for method, path in [
        ("get", "/payments/customer/payment-methods"),
        ("post", "/payments/customer/payment-methods"),
        ("delete", "/payments/customer/payment-methods/pm_x"),
        ("patch", "/payments/customer/default-payment-method"),
        ("post", "/payments/customer/setup-intent"),
    ]:
        assert getattr(client, method)(path).status_code == 401
