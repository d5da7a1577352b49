"""POST /payments/create-intent: the JSON API's purchase, with the envelope and its error codes."""

from __future__ import annotations

import pytest

from portal.auth.api_tokens import issue_token
from portal.extensions import db
from portal.shop.models import Order, OrderStatus
from portal.users.models import StripeSyncState
from portal.wallet import services as wallet
from tests.shop.conftest import give_card, make_product, stock_of


@pytest.fixture
def bearer(buyer):
    return {"Authorization": f"Bearer {issue_token(buyer)}"}


def _post(client, headers, body):
    return client.post("/payments/create-intent", json=body, headers=headers)


def test_create_intent_pays_with_default_card(client, buyer, bearer, product, fake_payments):
    response = _post(client, bearer, {"productId": product.id, "quantity": 2, "currency": "usd"})
    assert response.status_code == 201, response.json
    data = response.json["data"]
    assert response.json["success"] is True
    assert data["status"] == "paid" and data["paymentIntentStatus"] == "succeeded"
    assert data["paymentIntentId"].startswith("pi_") and data["clientSecret"] is None
    assert (data["amount"], data["currency"], data["quantity"]) == (3998, "usd", 2)
    assert stock_of(product.id) == 8


def test_create_intent_requires_action_returns_client_secret(client, user, product, fake_payments):
    give_card(user, "pm_card_threeDSecure2Required")
    headers = {"Authorization": f"Bearer {issue_token(user)}"}
    response = _post(client, headers, {"productId": str(product.id), "quantity": 1})
    assert response.status_code == 201
    data = response.json["data"]
    assert data["status"] == "pending" and data["requiresAction"] is True
    assert data["clientSecret"] and data["paymentIntentStatus"] == "requires_action"


def test_create_intent_without_a_saved_card_leaves_confirmation_to_stripe_js(
    client, user_factory, product, fake_payments
):
    user = user_factory()
    headers = {"Authorization": f"Bearer {issue_token(user)}"}
    user.stripe_customer_id, user.stripe_sync = f"cus_nocard{user.id}", StripeSyncState.SYNCED
    db.session.commit()
    response = _post(client, headers, {"productId": product.id})
    assert response.status_code == 201
    data = response.json["data"]
    assert data["paymentIntentStatus"] == "requires_payment_method" and data["clientSecret"]
    assert fake_payments.calls[0]["payment_method_id"] is None


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"quantity": 1}, "validation_error"),
        ({"productId": "abc"}, "validation_error"),
        ({"productId": 1, "quantity": 0}, "invalid_quantity"),
        ({"productId": 1, "quantity": "2"}, "invalid_quantity"),
        ({"productId": 1, "currency": "eur"}, "invalid_currency"),
        ({"productId": 1, "currency": 5}, "validation_error"),
        ({"productId": 1, "paymentMethodId": "card_1"}, "validation_error"),
    ],
)
def test_bad_input_is_400(client, bearer, product, fake_payments, body, code):
    response = _post(client, bearer, body)
    assert response.status_code == 400, response.json
    assert response.json["success"] is False and response.json["error"]["code"] == code
    assert fake_payments.calls == []


def test_not_json_is_400(client, bearer):
    response = client.post("/payments/create-intent", data="x", headers=bearer)
    assert response.status_code == 400 and response.json["error"]["code"] == "invalid_json"


def test_unknown_product_is_404(client, bearer, fake_payments):
    response = _post(client, bearer, {"productId": 999})
    assert response.status_code == 404 and response.json["error"]["code"] == "not_found"


def test_out_of_stock_is_409_and_nothing_charged(client, bearer, fake_payments):
    product = make_product(stock=1)
    response = _post(client, bearer, {"productId": product.id, "quantity": 2})
    assert response.status_code == 409 and response.json["error"]["code"] == "out_of_stock"
    assert fake_payments.calls == [] and stock_of(product.id) == 1


def test_declined_is_402_and_stock_released(client, user, product, fake_payments):
    give_card(user, "pm_card_chargeDeclined")
    headers = {"Authorization": f"Bearer {issue_token(user)}"}
    response = _post(client, headers, {"productId": product.id, "quantity": 3})
    assert response.status_code == 402
    assert response.json["error"] == {"code": "card_declined", "message": "Your card was declined."}
    assert stock_of(product.id) == 10


def test_stripe_down_is_503(client, bearer, product, fake_payments):
    fake_payments.unavailable = True
    response = _post(client, bearer, {"productId": product.id})
    assert response.status_code == 503 and response.json["error"]["code"] == "stripe_unavailable"


def test_unknown_card_is_404(client, bearer, product, fake_payments):
    response = _post(client, bearer, {"productId": product.id, "paymentMethodId": "pm_not_mine"})
    assert response.status_code == 404


def test_needs_a_token(client, product):
    response = client.post("/payments/create-intent", json={"productId": product.id})
    assert response.status_code == 401


def test_sandbox_declined_card_through_the_api(client, sandbox, user):
    """Without the fake: the real SDK against the sandbox, 4000000000000341 declines."""
    if not hasattr(sandbox, "client"):
        pytest.skip("the Stripe sandbox is not installed")

    product = make_product(stock=3)
    card = wallet.attach_card(wallet.user_wallet(user), "pm_card_chargeCustomerFail")
    headers = {"Authorization": f"Bearer {issue_token(user)}"}
    response = _post(client, headers, {"productId": product.id, "paymentMethodId": card.stripe_id})
    assert response.status_code == 402 and response.json["error"]["code"] == "card_declined"
    assert stock_of(product.id) == 3
    assert db.session.get(Order, 1).status == OrderStatus.FAILED
