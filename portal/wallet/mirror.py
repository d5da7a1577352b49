"""Writes to the local card mirror, shared by wallet actions and webhook handlers.

``synced_at`` is the Stripe time of the state being applied; a row already
holding newer state is left alone, so events applied in any order converge.
These functions never commit: the caller owns the transaction.
"""

from __future__ import annotations

import sqlalchemy as sa

from portal.billing.shapes import card_fields
from portal.extensions import db
from portal.wallet.models import PaymentMethod


def upsert_payment_method(payment_method: object, synced_at: int) -> PaymentMethod | None:
    fields = card_fields(payment_method)
    fields.pop("created")
    row = db.session.scalar(sa.select(PaymentMethod).where(PaymentMethod.stripe_id == fields["stripe_id"]))
    if row is not None and row.stripe_synced_at > synced_at:
        return row
    if fields["customer_id"] is None:  # detached at this point in time
        if row is not None:
            db.session.delete(row)
        return None
    if row is None:
        row = PaymentMethod(**fields, stripe_synced_at=synced_at)
        db.session.add(row)
    else:
        for name, value in fields.items():
            setattr(row, name, value)
        row.stripe_synced_at = synced_at
    db.session.flush()
    return row


def remove_payment_method(stripe_id: str, synced_at: int) -> None:
    db.session.execute(
        sa.delete(PaymentMethod).where(
            PaymentMethod.stripe_id == stripe_id, PaymentMethod.stripe_synced_at <= synced_at
        )
    )


def set_default_card(customer_id: str, payment_method_id: str | None) -> None:
    """Mark exactly one of the customer's cards as the default (or none)."""
    db.session.execute(
        sa.update(PaymentMethod)
        .where(PaymentMethod.customer_id == customer_id)
        .values(is_default=PaymentMethod.stripe_id == payment_method_id)
    )
