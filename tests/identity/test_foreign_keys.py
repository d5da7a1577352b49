"""SQLite enforces foreign keys on every connection, and each has the ON DELETE rule it needs."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from portal.auth.api_tokens import ApiToken
from portal.extensions import db
from portal.practices.models import BillingAuditEntry, MemberRole, PracticeMember
from portal.shop.models import Order, Product
from portal.users.models import User, UserSession
from tests.conftest import both_engines
from tests.factories import (
    ApiTokenFactory,
    BillingAuditEntryFactory,
    OrderFactory,
    PracticeFactory,
    PracticeMemberFactory,
    ProductFactory,
    UserSessionFactory,
)


def _count(model, **where) -> int:
    query = sa.select(sa.func.count()).select_from(model)
    for column, value in where.items():
        query = query.where(getattr(model, column) == value)
    return db.session.scalar(query)


def test_every_sqlite_connection_enforces_foreign_keys(app):
    for _ in range(3):  # fresh pool connections, not only the first one
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        db.engine.dispose()


@both_engines
def test_a_row_pointing_at_no_user_is_refused(app):
    db.session.add(PracticeMember(practice_id=1, user_id=12345, role=MemberRole.OWNER))
    with pytest.raises(sa.exc.IntegrityError):
        db.session.commit()
    db.session.rollback()


@both_engines
def test_deleting_a_user_row_takes_its_credentials_and_keeps_the_records(app, user):
    product = ProductFactory(name="Gloves", price=500, stock=3)
    practice = PracticeFactory(name="Clinic", stripe_customer_id=None)
    ApiTokenFactory(user=user)
    UserSessionFactory(user=user)
    PracticeMemberFactory(practice=practice, user=user, role=MemberRole.ADMIN)
    BillingAuditEntryFactory(practice=practice, actor=user, action="card_added")
    OrderFactory(user=user, product=product)

    # Straight SQL, no ORM cascade: the database itself applies the rules.
    db.session.execute(sa.delete(User).where(User.id == user.id))
    db.session.commit()
    db.session.expire_all()
    assert _count(ApiToken) == _count(UserSession) == _count(PracticeMember) == 0
    # Sales and the billing history stay, without the person.
    assert db.session.scalar(sa.select(Order.user_id)) is None
    assert db.session.scalar(sa.select(BillingAuditEntry.actor_id)) is None
    # A product that was sold cannot vanish from under its orders.
    with pytest.raises(sa.exc.IntegrityError):
        db.session.execute(sa.delete(Product).where(Product.id == product.id))
        db.session.commit()
    db.session.rollback()
