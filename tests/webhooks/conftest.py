from __future__ import annotations

import pytest
import sqlalchemy as sa

from portal.extensions import db
from tests.factories import UserFactory
from tests.stripe_payloads import SECRETS_CONFIG


@pytest.fixture
def app_overrides() -> dict:
    return {"STRIPE_WEBHOOK_SECRET": SECRETS_CONFIG}


@pytest.fixture
def customer_user(app):
    """A user linked to ``cus_test_1`` (written directly: no Stripe call, no email)."""
    return UserFactory(
        name="Jenny Rosen", email="jenny@example.com", password_hash="x", stripe_customer_id="cus_test_1"
    )


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))
