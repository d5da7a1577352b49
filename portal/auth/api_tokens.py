"""Bearer tokens for the JSON API: stored hashed, expiring, revocable; issued, checked and revoked here."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.database import NEVER_REUSED_IDS, surrogate_id, utcnow
from portal.extensions import db
from portal.users.models import User


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


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(user: User) -> str:
    token = "pbp_" + secrets.token_urlsafe(32)
    ttl = dt.timedelta(seconds=current_app.config["API_TOKEN_TTL_SECONDS"])
    db.session.add(ApiToken(user_id=user.id, token_hash=_digest(token), expires_at=utcnow() + ttl))
    db.session.commit()
    return token


def user_for_token(token: str) -> User | None:
    row = db.session.scalar(sa.select(ApiToken).where(ApiToken.token_hash == _digest(token)))
    if row is None or row.revoked_at is not None or row.expires_at <= utcnow():
        return None
    return row.user


def revoke_token(token: str) -> None:
    db.session.execute(
        sa.update(ApiToken).where(ApiToken.token_hash == _digest(token)).values(revoked_at=utcnow())
    )
    db.session.commit()


def revoke_user_tokens(user: User, keep: str | None = None) -> None:
    """Revoke every live token of ``user`` but ``keep``; the caller's transaction commits it."""
    revoke = sa.update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    if keep:
        revoke = revoke.where(ApiToken.token_hash != _digest(keep))
    db.session.execute(revoke.values(revoked_at=utcnow()))
