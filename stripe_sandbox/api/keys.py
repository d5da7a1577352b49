"""API keys: secret keys reach everything, publishable keys only what Stripe.js may call."""

from __future__ import annotations

from typing import Any

from flask import request

from stripe_sandbox.api.routing import Route
from stripe_sandbox.errors import authentication_error, invalid_request


def api_key() -> str | None:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header[7:].strip()
    if request.authorization and request.authorization.username:
        return request.authorization.username
    return None


def check_key(route: Route) -> None:
    key = api_key()
    if not key:
        raise authentication_error(
            "You did not provide an API key. You need to provide your API key in the Authorization header, "
            "using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY')."
        )
    if key.startswith(("sk_test_", "rk_test_")):
        return
    if key.startswith("pk_test_"):
        if not route.publishable:
            raise authentication_error(
                "This API call cannot be made with a publishable API key. Please use a secret API key. "
                "You can find a list of your API keys at https://dashboard.stripe.com/account/apikeys."
            )
        return
    shown = key[:8] + "*" * max(0, len(key) - 12) + key[-4:] if len(key) > 12 else key
    raise authentication_error(f"Invalid API Key provided: {shown}")


def check_client_secret(obj: dict[str, Any], params: dict[str, Any]) -> None:
    """With a publishable key, an intent is reachable only with its client secret."""
    key = api_key() or ""
    if key.startswith("pk_test_") and params.get("client_secret") != obj.get("client_secret"):
        raise invalid_request(
            "The client_secret provided does not match the client_secret associated with the "
            f"{obj['object'].replace('_', '')}.",
            param="client_secret",
        )


def raw_card_data_refused() -> Exception:
    """Card numbers sent with a secret key: Stripe refuses them unless the account has raw card data
    APIs enabled (https://docs.stripe.com/testing#cards: use test PaymentMethods such as
    ``pm_card_visa``). Stripe.js sends them with the publishable key, which stays allowed."""
    return invalid_request(
        "Sending credit card numbers directly to the Stripe API is generally unsafe. We suggest you use "
        "test tokens that map to the test card you are using, see https://stripe.com/docs/testing. To "
        "enable testing raw card data APIs, see "
        "https://support.stripe.com/questions/enabling-access-to-raw-card-data-apis.",
        param="card[number]",
    )
