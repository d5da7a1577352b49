"""The outbox: every email the portal sends, written in the transaction that decided to send it."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from portal.database import NEVER_REUSED_IDS, surrogate_id, utcnow
from portal.extensions import db


class OutboundEmail(db.Model):
    """One rendered email to one address; ``sent_at`` is set once it left (or went to the log)."""

    __tablename__ = "outbound_emails"
    __table_args__ = (NEVER_REUSED_IDS,)

    id: Mapped[int] = surrogate_id()
    #: ``<cause>:<template>:<recipient>`` (cause e.g. ``event:evt_...``): the same cause never
    #: emails the same person twice, however often its handler runs. None: no deduplication.
    dedupe_key: Mapped[str | None] = mapped_column(sa.String(255), unique=True)
    recipient: Mapped[str] = mapped_column(sa.String(254))
    subject: Mapped[str] = mapped_column(sa.String(255))
    template: Mapped[str] = mapped_column(sa.String(64))
    text_body: Mapped[str] = mapped_column(sa.Text)
    html_body: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    sent_at: Mapped[dt.datetime | None] = mapped_column(index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.String(500))

    def __repr__(self) -> str:
        return f"<OutboundEmail {self.id} {self.template} to={self.recipient} sent={self.sent_at}>"
