"""Writes to the local mirror of Stripe customers and their saved cards.

Webhook handlers call these with the event's ``created``; the wallet calls them
after its own Stripe calls (with the time of the call). Each write first claims
a newer version of the object (``claim_version``): an older state never
overwrites a newer one, whatever order events arrive in, and a removal is
remembered so a late "attached" cannot bring a detached card back.

None of these commit: the caller's transaction decides (the webhook dispatcher
commits the effects together with the event's status).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from portal.database import upsert_insert, utcnow
from portal.extensions import db
from portal.gateway.shapes import as_dict, object_id
from portal.users.models import User
from portal.wallet.models import PaymentMethod, StripeObjectVersion


def claim_version(object_id: str, synced_at: int, *, deleted: bool = False, **values: Any) -> bool:
    """Record ``synced_at`` as the newest state of ``object_id``; False if a newer one is recorded.

    One atomic upsert: concurrent claims for one object wait on its row, so the
    caller's writes that follow are applied in version order. On a tie, a
    deletion wins (Stripe never brings a deleted object back).
    """
    table = StripeObjectVersion.__table__
    stmt = upsert_insert(table).values(object_id=object_id, synced_at=synced_at, deleted=deleted, **values)
    new = stmt.excluded
    is_newer = sa.or_(
        table.c.synced_at < new.synced_at,
        sa.and_(table.c.synced_at == new.synced_at, sa.or_(new.deleted, sa.not_(table.c.deleted))),
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.object_id],
        set_={"synced_at": new.synced_at, "deleted": new.deleted, **{k: new[k] for k in values}},
        where=is_newer,
    )
    # RETURNING, not rowcount: psycopg reports -1 for an INSERT ... ON CONFLICT.
    return db.session.execute(stmt.returning(table.c.object_id)).first() is not None


def _lock_customer(customer_id: str) -> tuple[bool, str | None]:
    """(deleted, default payment method) of the customer, its version row locked until commit."""
    table = StripeObjectVersion.__table__
    stmt = upsert_insert(table).values(object_id=customer_id, synced_at=0, deleted=False)
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.object_id], set_={"object_id": stmt.excluded.object_id}
    ).returning(table.c.deleted, table.c.default_payment_method)
    row = db.session.execute(stmt).one()
    return bool(row.deleted), row.default_payment_method


def upsert_payment_method(obj: Mapping, synced_at: int) -> bool:
    """Mirror a PaymentMethod object as of ``synced_at``; False if a newer state is already applied.

    A payment method with no customer is detached: the row is removed.
    """
    obj = as_dict(obj)
    pm_id = obj["id"]
    customer_id = object_id(obj.get("customer"))
    if customer_id is None:
        return remove_payment_method(pm_id, synced_at)
    if not claim_version(pm_id, synced_at):
        return False
    customer_deleted, default_pm = _lock_customer(customer_id)
    if customer_deleted:  # its cards went with it
        _delete_row(pm_id, synced_at)
        return True
    details = obj.get(obj.get("type") or "card") or obj.get("card") or {}
    now = utcnow()
    values = {
        "customer_id": customer_id,
        "brand": str(details.get("brand") or obj.get("type") or "card")[:32],
        "last4": str(details.get("last4") or "")[:4],
        "exp_month": int(details.get("exp_month") or 0),
        "exp_year": int(details.get("exp_year") or 0),
        "is_default": default_pm == pm_id,
        "stripe_synced_at": synced_at,
        "updated_at": now,
    }
    stmt = upsert_insert(PaymentMethod.__table__).values(stripe_id=pm_id, created_at=now, **values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[PaymentMethod.__table__.c.stripe_id],
        set_=values,
        where=PaymentMethod.__table__.c.stripe_synced_at <= synced_at,
    )
    db.session.execute(stmt)
    return True


def remove_payment_method(payment_method_id: str, synced_at: int) -> bool:
    """The card was detached at ``synced_at``; False if a newer state is already applied."""
    if not claim_version(payment_method_id, synced_at, deleted=True):
        return False
    _delete_row(payment_method_id, synced_at)
    return True


def _delete_row(payment_method_id: str, synced_at: int) -> None:
    db.session.execute(
        sa.delete(PaymentMethod).where(
            PaymentMethod.stripe_id == payment_method_id, PaymentMethod.stripe_synced_at <= synced_at
        )
    )


def set_default_payment_method(customer_id: str, payment_method_id: str | None, synced_at: int) -> bool:
    """The customer's default card as of ``synced_at`` (None: no default); False if outdated.

    Remembered on the customer, so a card mirrored later still gets the right flag.
    """
    if not claim_version(customer_id, synced_at, default_payment_method=payment_method_id):
        return False
    is_default = PaymentMethod.stripe_id == payment_method_id if payment_method_id else sa.false()
    db.session.execute(
        sa.update(PaymentMethod)
        .where(PaymentMethod.customer_id == customer_id)
        .values(is_default=is_default)
        .execution_options(synchronize_session=False)
    )
    return True


def apply_customer(obj: Mapping, synced_at: int) -> bool:
    """Mirror what we keep of a Customer object: its default payment method."""
    obj = as_dict(obj)
    settings = obj.get("invoice_settings") or {}
    return set_default_payment_method(obj["id"], object_id(settings.get("default_payment_method")), synced_at)


def remove_customer(customer_id: str, synced_at: int) -> bool:
    """The customer was deleted at Stripe: forget its cards and unlink its user."""
    if not claim_version(customer_id, synced_at, deleted=True, default_payment_method=None):
        return False
    db.session.execute(sa.delete(PaymentMethod).where(PaymentMethod.customer_id == customer_id))
    db.session.execute(
        sa.update(User)
        .where(User.stripe_customer_id == customer_id)
        .values(stripe_customer_id=None)
        .execution_options(synchronize_session=False)
    )
    return True
