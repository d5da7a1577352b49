"""Figure: ids handed out again after a deletion (0 of N), on SQLite and PostgreSQL.

Each round creates an account with an API token, a practice it owns and an order, then deletes
them the way the portal does (the account through ``delete_user``, which takes its practice, token
and memberships along) -- always the newest rows, the ones SQLite without AUTOINCREMENT hands out
again.
"""

from __future__ import annotations

import sqlalchemy as sa

from portal.auth import api_tokens as tokens
from portal.auth import services as accounts
from portal.auth.api_tokens import ApiToken
from portal.extensions import db
from portal.practices.models import Practice, PracticeMember
from portal.shop.models import Order, Product
from portal.users.models import User
from tests.conftest import both_engines
from tests.factories import OrderFactory, PracticeFactory, ProductFactory, UserFactory

ROUNDS = 40


def _round(product: Product, n: int) -> dict[str, int]:
    """One account's life; the ids it was given."""
    user = UserFactory(name=f"Person {n}", email=f"person{n}@example.com", password_hash="x")
    tokens.issue_token(user)
    token_id = db.session.scalar(sa.select(ApiToken.id).where(ApiToken.user_id == user.id))
    practice = PracticeFactory(name=f"Clinic {n}", owner=user, stripe_customer_id=None)
    order = OrderFactory(user=user, product=product)
    ids = {"users": user.id, "api_tokens": token_id, "practices": practice.id, "orders": order.id}
    ids["practice_members"] = practice.members[0].id

    accounts.delete_user(user)  # no Stripe customer: nothing to call Stripe for
    db.session.execute(sa.delete(Order).where(Order.id == order.id))
    db.session.commit()
    return ids


@both_engines
def test_no_id_is_handed_out_twice(app, figure, engine):
    product = ProductFactory(name="Gloves", price=100, stock=1)

    issued: dict[str, list[int]] = {}
    for n in range(ROUNDS):
        for table, row_id in _round(product, n).items():
            issued.setdefault(table, []).append(row_id)

    # Everything of every round is gone...
    for model in (User, ApiToken, Practice, PracticeMember, Order):
        assert db.session.scalar(sa.select(sa.func.count()).select_from(model)) == 0
    # ...and no id came back.
    total = sum(len(ids) for ids in issued.values())
    reused = total - sum(len(set(ids)) for ids in issued.values())
    assert reused == 0, {table: ids for table, ids in issued.items() if len(set(ids)) != len(ids)}
    figure(
        f"ids_reused[{engine}]",
        reused,
        f"of {total} ids reused after deletion ({ROUNDS} accounts with a token, a practice, a membership "
        "and an order, each deleted before the next)",
    )
