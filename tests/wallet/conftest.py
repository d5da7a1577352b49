"""Wallet fixtures: a user with a Stripe customer, and cards saved the way Stripe.js saves them."""

from __future__ import annotations

import pytest

from portal.wallet import services


@pytest.fixture
def stripe_calls(app):
    """Operations sent to Stripe inside the ``with`` block."""
    return app.extensions["stripe_call_counter"].watch


@pytest.fixture
def save_card(sandbox):
    """Save a test card to a wallet: SetupIntent confirmed as the browser would, then completed."""

    def save(wallet: services.Wallet, payment_method: str = "pm_card_visa"):
        client = sandbox.client()
        intent = client.v1.setup_intents.create(
            {"customer": wallet.customer_id, "allowed_payment_method_types": ["card"]}
        )
        client.v1.setup_intents.confirm(intent.id, {"payment_method": payment_method})
        return services.complete_card_setup(wallet, intent.id)

    return save
