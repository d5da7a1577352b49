"""A Stripe id a client sends is checked before any Stripe call: a clear 400, and short log lines."""

from __future__ import annotations

import logging

import pytest

from portal.gateway.ids import InvalidStripeId, stripe_id
from portal.wallet import services
from tests.conftest import extract_csrf
from tests.factories import api_register

ABSURD_IDS = [
    "pm_" + "a" * 70_000,
    "pm_abc/../../v1/customers",
    "pm_abc?expand[]=x",
    "pm_\u00e9t\u00e9",
    "pm_",
]


@pytest.fixture
def headers(client):
    data = api_register(client, "Card Holder", "holder@example.com", "long-enough-password")
    return {"Authorization": f"Bearer {data['access_token']}"}


@pytest.mark.parametrize("bad", ABSURD_IDS)
def test_the_api_refuses_a_malformed_payment_method_id_before_calling_stripe(
    app, client, headers, stripe_calls, caplog, bad
):
    with stripe_calls() as calls, caplog.at_level(logging.INFO):
        for method, path in (
            ("post", "/payments/customer/payment-methods"),
            ("patch", "/payments/customer/default-payment-method"),
        ):
            response = getattr(client, method)(path, json={"paymentMethodId": bad}, headers=headers)
            assert response.status_code == 400, response.get_data(as_text=True)[:300]
            assert "paymentMethodId" in response.get_json()["error"]["message"]
    assert calls == []
    assert max((len(record.getMessage()) for record in caplog.records), default=0) < 2000


def test_a_malformed_id_in_a_path_or_form_is_a_clear_400_without_stripe(app, logged_in, user, stripe_calls):
    services.user_wallet(user)
    token = extract_csrf(logged_in.get("/account").get_data(as_text=True))
    bad = "seti_" + "a" * 70_000
    with stripe_calls() as calls:
        fragment = logged_in.post(
            "/account/cards/complete",
            data={"setup_intent": bad},
            headers={"HX-Request": "true", "X-CSRFToken": token},
        )
        page = logged_in.post(
            "/account/cards/complete", data={"setup_intent": bad, "csrf_token": token}, follow_redirects=True
        )
    assert calls == []
    assert fragment.status_code == 200  # so htmx swaps the message in (portal.htmx.fragment_status)
    for html in (fragment.get_data(as_text=True), page.get_data(as_text=True)):
        assert "not a valid Stripe setup intent id" in html and bad not in html


def test_the_gateway_refuses_any_malformed_id(app, stripe_calls):
    from portal.gateway import invoices, payment_methods

    with stripe_calls() as calls:
        for call in (
            lambda: payment_methods.retrieve_setup_intent("pi_wrong_prefix"),
            lambda: payment_methods.detach_payment_method("pm_" + "x" * 300),
            lambda: invoices.retrieve_invoice("in_bad id"),
        ):
            with pytest.raises(InvalidStripeId) as refused:
                call()
            assert refused.value.status == 400
    assert calls == []
    assert stripe_id("pm_card_visa", "payment_method_id") == "pm_card_visa"
