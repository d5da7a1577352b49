"""Bearer tokens for the JSON API: stored hashed, expiring, revocable."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.auth.models import User
from portal.database import NEVER_REUSED_IDS, surrogate_id, utcnow
from portal.extensions import db


class ApiToken(db.Model):
    __tablename__ = "api_tokens"
    __table_args__ = (NEVER_REUSED_IDS,)

    id: Mapped[int] = surrogate_id()
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    #: SHA-256 of the token: a leaked database does not leak usable tokens.
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    revoked_at: Mapped[dt.datetime | None]
    user: Mapped[User] = relationship()
