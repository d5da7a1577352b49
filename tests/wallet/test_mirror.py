"""The mirror writers the webhook handlers and the wallet share."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
import stripe

from portal.extensions import db
from portal.wallet import mirror
from portal.wallet.models import PaymentMethod
from tests.conftest import both_engines
from tests.stripe_payloads import customer, payment_method


def _cards() -> list[tuple]:
    db.session.expire_all()
    return [
        tuple(row)
        for row in db.session.execute(
            sa.select(PaymentMethod.stripe_id, PaymentMethod.exp_year, PaymentMethod.is_default).order_by(
                PaymentMethod.stripe_id
            )
        )
    ]


@both_engines
def test_claim_version_keeps_the_newest(app):
    assert mirror.claim_version("pm_1", 100)
    assert not mirror.claim_version("pm_1", 99)
    assert mirror.claim_version("pm_1", 100)  # same moment, not a deletion: applied again
    assert mirror.claim_version("pm_1", 100, deleted=True)  # a deletion wins a tie ...
    assert not mirror.claim_version("pm_1", 100)  # ... and is not undone by one
    assert mirror.claim_version("pm_1", 101)
    db.session.rollback()


def test_accepts_sdk_objects_and_expanded_customers(app):
    obj = payment_method("pm_1", None)
    obj["customer"] = customer("cus_1", default_payment_method="pm_1")  # expanded
    assert mirror.upsert_payment_method(stripe.PaymentMethod.construct_from(obj, "sk_test"), 100)
    assert mirror.apply_customer(stripe.Customer.construct_from(obj["customer"], "sk_test"), 100)
    db.session.commit()
    assert _cards() == [("pm_1", 2030, True)]
    assert db.session.scalar(sa.select(PaymentMethod.customer_id)) == "cus_1"


def test_a_card_mirrored_after_the_default_was_set_is_marked_default(app):
    mirror.set_default_payment_method("cus_1", "pm_2", 100)
    mirror.upsert_payment_method(payment_method("pm_1", "cus_1"), 90)
    mirror.upsert_payment_method(payment_method("pm_2", "cus_1"), 90)
    db.session.commit()
    assert _cards() == [("pm_1", 2030, False), ("pm_2", 2030, True)]


def test_older_state_is_skipped_and_functions_do_not_commit(app):
    mirror.upsert_payment_method(payment_method("pm_1", "cus_1", exp_year=2031), 200)
    assert not mirror.upsert_payment_method(payment_method("pm_1", "cus_1", exp_year=2029), 150)
    assert not mirror.remove_payment_method("pm_1", 150)
    assert _cards() == [("pm_1", 2031, False)]
    db.session.rollback()  # nothing was committed by the mirror functions
    assert _cards() == []


@pytest.mark.parametrize("created", [100, 300])
def test_a_deleted_customer_takes_its_cards_along(app, created):
    mirror.upsert_payment_method(payment_method("pm_1", "cus_1"), 200)
    mirror.remove_customer("cus_1", 250)
    mirror.upsert_payment_method(payment_method("pm_2", "cus_1"), created)  # a late or racing attach
    db.session.commit()
    assert _cards() == []
