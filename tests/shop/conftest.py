"""Shop fixtures: products, buyers with a saved card, and a stand-in for Stripe's PaymentIntents.

``fake_payments`` replaces ``portal.gateway.payment_intents`` (the only Stripe calls the shop
makes) with an in-memory, thread-safe double that answers like the pinned API version, so
stock logic is tested without a network. The sandbox tests use the real SDK instead.
"""

from __future__ import annotations

import copy
import itertools
import os
import threading

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.gateway import payment_intents
from portal.gateway.errors import CardDeclined
from portal.shop.models import Product
from portal.users.models import StripeSyncState, User
from tests import conftest as shared
from tests import stripe_payloads
from tests.factories import PaymentMethodFactory, ProductFactory

_ids = itertools.count(1)


@pytest.fixture
def database_url(engine, tmp_path) -> str:
    """As the shared fixture, but PostgreSQL runs in a database of the shop's own.

    Other features' suites may run at the same time on the same server; their
    ``drop_all`` must not pull tables from under the concurrency tests.
    """
    if engine != "postgresql":
        return f"sqlite:///{tmp_path / 'portal.sqlite'}"
    url = sa.engine.make_url(shared.postgres_url())
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = 'portal_test_shop'")):
            conn.execute(sa.text("CREATE DATABASE portal_test_shop"))
    admin.dispose()
    return url.set(database="portal_test_shop").render_as_string(hide_password=False)


class FakePayments:
    """PaymentIntents by card: ``pm_card_visa`` succeeds, ``pm_card_threeDSecure2Required`` needs
    authentication, ``pm_card_chargeDeclined`` is declined. Idempotency keys replay like Stripe."""

    DECLINE_MESSAGE = "Your card was declined."

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.intents: dict[str, dict] = {}
        self.by_key: dict[str, str] = {}
        self.calls: list[dict] = []
        self.unavailable = False
        #: Stripe does the work but its answer is lost on the way (a read timeout).
        self.lose_answers = False

    def charged(self) -> list[dict]:
        return [pi for pi in self.intents.values() if pi["status"] == "succeeded"]

    def create_payment_intent(self, **kwargs):
        from portal.gateway.errors import StripeUnavailable

        intent = self._create_payment_intent(**kwargs)
        if self.lose_answers:
            raise StripeUnavailable()
        return intent

    def _create_payment_intent(self, **kwargs):
        from portal.gateway.errors import StripeUnavailable

        with self.lock:
            self.calls.append(kwargs)
            if self.unavailable:
                raise StripeUnavailable()
            key = "-".join(str(p) for p in kwargs["key"])
            if key in self.by_key:
                return copy.deepcopy(self.intents[self.by_key[key]])
            pi_id = f"pi_fake{next(_ids):06d}"
            pm = kwargs["payment_method_id"]
            kind = pm.split("__")[0] if pm else None
            intent = stripe_payloads.payment_intent(
                id=pi_id,
                amount=kwargs["amount"],
                currency=kwargs["currency"],
                customer=kwargs["customer_id"],
                metadata=dict(kwargs["metadata"]),
                receipt_email=kwargs["receipt_email"],
                payment_method=pm,
                client_secret=f"{pi_id}_secret_x",
                status="requires_payment_method",
            )
            self.intents[pi_id] = intent
            self.by_key[key] = pi_id
            if pm is None:
                return copy.deepcopy(intent)
            if kind == "pm_card_chargeDeclined":
                intent["last_payment_error"] = {"message": self.DECLINE_MESSAGE, "code": "card_declined"}
                error = CardDeclined(self.DECLINE_MESSAGE, decline_code="generic_decline")
                error.payment_intent_id = pi_id
                raise error
            intent["status"] = "requires_action" if kind == "pm_card_threeDSecure2Required" else "succeeded"
            return copy.deepcopy(intent)

    def find_payment_intent(self, customer_id, metadata_key, value, *, created_since):
        from portal.gateway.errors import StripeUnavailable

        if self.unavailable:
            raise StripeUnavailable()
        for intent in self.intents.values():
            if intent["customer"] == customer_id and intent["metadata"].get(metadata_key) == value:
                return copy.deepcopy(intent)
        return None

    def retrieve_payment_intent(self, payment_intent_id):
        return copy.deepcopy(self.intents[payment_intent_id])

    def cancel_payment_intent(self, payment_intent_id, key):
        from portal.gateway.errors import InvalidRequest

        intent = self.intents[payment_intent_id]
        if intent["status"] == "succeeded":
            raise InvalidRequest("This PaymentIntent's status is succeeded.")
        intent["status"] = "canceled"
        return copy.deepcopy(intent)

    # What the browser (Stripe.js) does with the bank's check.
    def authenticate(self, payment_intent_id: str, *, approve: bool = True) -> dict:
        intent = self.intents[payment_intent_id]
        if approve:
            intent["status"] = "succeeded"
        else:
            intent["status"] = "requires_payment_method"
            intent["last_payment_error"] = {
                "message": "We are unable to authenticate your payment method.",
                "code": "payment_intent_authentication_failure",
            }
        return copy.deepcopy(intent)


@pytest.fixture
def fake_payments(monkeypatch) -> FakePayments:
    fake = FakePayments()
    for name in (
        "create_payment_intent",
        "retrieve_payment_intent",
        "cancel_payment_intent",
        "find_payment_intent",
    ):
        monkeypatch.setattr(payment_intents, name, getattr(fake, name))
    return fake


def make_product(name: str = "Thermometer", price: int = 1999, stock: int = 10, **fields) -> Product:
    return ProductFactory(name=name, price=price, stock=stock, **fields)


def give_card(user: User, payment_method_id: str = "pm_card_visa", *, default: bool = True, last4="4242"):
    """A customer id (no Stripe call) and a saved card in the wallet mirror.

    The card's id is ``<test card>__u<user id>`` (unique per user); the fake answers by the test card.
    """
    if user.stripe_customer_id is None:
        user.stripe_customer_id = f"cus_test{user.id:05d}"
        user.stripe_sync = StripeSyncState.SYNCED
    return PaymentMethodFactory(
        stripe_id=f"{payment_method_id}__u{user.id}",
        customer_id=user.stripe_customer_id,
        last4=last4,
        is_default=default,
    )


@pytest.fixture
def product(app) -> Product:
    return make_product()


@pytest.fixture
def buyer(user) -> User:
    give_card(user, "pm_card_visa")
    return user


def stock_of(product_id: int) -> int:
    db.session.expire_all()
    return db.session.get(Product, product_id).stock


def needs_postgres() -> bool:
    return bool(os.environ.get("TEST_DATABASE_URL"))
