"""Finding a user by email, the one way every feature does it."""

from __future__ import annotations

import sqlalchemy as sa

from portal.extensions import db
from portal.users.models import User


def normalize_email(email: str) -> str:
    return email.strip().lower()


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.email == normalize_email(email)))


def mail_reading(email: str) -> tuple[str | None, str | None] | None:
    """(language, time zone) the account with this address chose (either may be None): its emails
    are written so (``portal.mail.outbox.queue_email``); None for an address with no account."""
    row = db.session.execute(
        sa.select(User.locale, User.timezone).where(User.email == normalize_email(email))
    ).first()
    return (row.locale, row.timezone) if row is not None else None
