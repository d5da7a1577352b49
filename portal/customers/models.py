"""What the customer lifecycle keeps locally: the deletions Stripe has yet to confirm."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from portal.database import utcnow
from portal.extensions import db


class PendingCustomerDeletion(db.Model):
    """A Stripe customer whose local owner is gone but Stripe was unreachable."""

    __tablename__ = "pending_customer_deletions"

    customer_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    requested_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.String(255))
