"""Finding a user by email, the one way every feature does it."""

from __future__ import annotations

import sqlalchemy as sa

from portal.extensions import db
from portal.users.models import User


def normalize_email(email: str) -> str:
    return email.strip().lower()


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.email == normalize_email(email)))
