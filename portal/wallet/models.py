"""The local mirror of saved cards, and Stripe clean-up still owed."""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from portal.database import NEVER_REUSED_IDS, TimestampMixin, surrogate_id, utcnow
from portal.extensions import db


class PaymentMethod(TimestampMixin, db.Model):
    """A card saved at Stripe, mirrored so pages render without calling Stripe."""

    __tablename__ = "payment_methods"
    __table_args__ = (NEVER_REUSED_IDS,)

    id: Mapped[int] = surrogate_id()
    stripe_id: Mapped[str] = mapped_column(sa.String(64), unique=True)
    customer_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    brand: Mapped[str] = mapped_column(sa.String(32))
    last4: Mapped[str] = mapped_column(sa.String(4))
    exp_month: Mapped[int]
    exp_year: Mapped[int]
    is_default: Mapped[bool] = mapped_column(default=False)
    #: Stripe's ``created`` of the newest state applied; older events never overwrite it.
    stripe_synced_at: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class SavedCard(NamedTuple):
    """A saved card as pages and the API show it: a plain row of the mirror, not an ORM object
    (the account and billing pages list cards on every visit)."""

    stripe_id: str
    customer_id: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    is_default: bool

    def expires_before(self, when: dt.date) -> bool:
        return (self.exp_year, self.exp_month) < (when.year, when.month)

    @property
    def expired(self) -> bool:
        return self.expires_before(utcnow().date())

    @property
    def expiring_soon(self) -> bool:
        """Still valid, but not beyond the month after next."""
        today = utcnow().date()
        in_two_months = today.replace(day=1) + dt.timedelta(days=62)
        return not self.expired and self.expires_before(in_two_months)


class StripeObjectVersion(db.Model):
    """Per Stripe object, the ``created`` of the newest state applied to the mirror.

    Claiming a newer version is one atomic upsert (``portal.wallet.mirror.claim_version``),
    so concurrent events about one object queue on its row, an older event never
    overwrites a newer one, and a deletion is remembered (a late "attached" after
    "detached" changes nothing).
    """

    __tablename__ = "stripe_object_versions"

    object_id: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    synced_at: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    deleted: Mapped[bool] = mapped_column(default=False)
    #: Customers only: ``invoice_settings.default_payment_method`` as of ``synced_at``.
    default_payment_method: Mapped[str | None] = mapped_column(sa.String(255))
