"""The inbox: every verified Stripe event, stored once by its id."""

from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from portal.database import NEVER_REUSED_IDS, surrogate_id, utcnow
from portal.extensions import db


class EventStatus(enum.StrEnum):
    RECEIVED = "received"  #: stored, its handler not run (or run and rolled back by a crash)
    PROCESSED = "processed"  #: the handler's effects are committed with this status
    FAILED = "failed"  #: the handler raised; Stripe's redelivery or an admin replay retries it
    IGNORED = "ignored"  #: no handler for this type; acknowledged and kept for the log


#: States from which the handler may (still) run.
RUNNABLE = (EventStatus.RECEIVED, EventStatus.FAILED)


class WebhookEvent(db.Model):
    __tablename__ = "webhook_events"
    __table_args__ = (NEVER_REUSED_IDS,)

    id: Mapped[int] = surrogate_id()
    #: Stripe's ``evt_...``; the unique constraint is what makes concurrent duplicates harmless.
    stripe_event_id: Mapped[str] = mapped_column(sa.String(255), unique=True)
    type: Mapped[str] = mapped_column(sa.String(255), index=True)
    api_version: Mapped[str | None] = mapped_column(sa.String(64))
    #: Stripe's ``created`` (Unix seconds): the order handlers compare against the mirror.
    created: Mapped[int] = mapped_column(sa.BigInteger)
    object_id: Mapped[str | None] = mapped_column(sa.String(255), index=True)
    #: The body exactly as Stripe sent it.
    payload: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[EventStatus] = mapped_column(
        sa.Enum(EventStatus, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e]),
        default=EventStatus.RECEIVED,
        index=True,
    )
    #: How many times the handler ran (a run rolled back by a crash before it could count is not seen).
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    processed_at: Mapped[dt.datetime | None]

    @property
    def replayable(self) -> bool:
        return self.status in RUNNABLE

    def __repr__(self) -> str:
        return f"<WebhookEvent {self.stripe_event_id} {self.type} {self.status}>"
