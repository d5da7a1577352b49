"""Issue, check and revoke API bearer tokens."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

import sqlalchemy as sa
from flask import current_app

from portal.api.models import ApiToken
from portal.auth.models import User
from portal.database import utcnow
from portal.extensions import db


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
