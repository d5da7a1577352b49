"""Users and their login sessions (the accounts every feature refers to)."""

from __future__ import annotations

import datetime as dt
import enum
import secrets
import uuid
from typing import ClassVar

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.database import NEVER_REUSED_IDS, TimestampMixin, surrogate_id, utcnow
from portal.extensions import db


class Role(enum.StrEnum):
    USER = "user"  #: an end user: profile, cards, purchases
    ADMIN = "admin"  #: a platform admin: every practice, the webhook inbox


class StripeSyncState(enum.StrEnum):
    SYNCED = "synced"  #: the Stripe customer matches the user
    PENDING = "pending"  #: Stripe was unreachable; a retry will create or update the customer


class User(UserMixin, TimestampMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = surrogate_id()
    name: Mapped[str] = mapped_column(sa.String(120))
    email: Mapped[str] = mapped_column(sa.String(254))
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[Role] = mapped_column(
        sa.Enum(Role, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e]),
        default=Role.USER,
    )
    #: Unique for the account's whole life (ids start again when a database is reset or restored):
    #: scopes Stripe idempotency keys and the metadata search for this user's customer.
    stripe_ref: Mapped[str] = mapped_column(sa.String(32), unique=True, default=lambda: uuid.uuid4().hex)
    stripe_customer_id: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    stripe_sync: Mapped[StripeSyncState] = mapped_column(
        sa.Enum(
            StripeSyncState,
            native_enum=False,
            length=16,
            values_callable=lambda e: [m.value for m in e],
        ),
        default=StripeSyncState.PENDING,
    )
    email_verified: Mapped[bool] = mapped_column(default=False)
    email_verified_at: Mapped[dt.datetime | None]
    password_changed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    #: Goes up whenever the email or the password changes (``_credentials_changed``): every emailed
    #: reset or email-change link names the version it was sent for and dies with it.
    credential_version: Mapped[int] = mapped_column(server_default=sa.text("0"))
    #: The language chosen with the header's switcher (``en``, ``vi``); None: the browser's.
    locale: Mapped[str | None] = mapped_column(sa.String(8))
    #: The IANA time zone chosen on the profile page; None: UTC (a practice's pages use its own).
    timezone: Mapped[str | None] = mapped_column(sa.String(64))

    sessions: Mapped[list[UserSession]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )

    __table_args__ = (
        # Case-insensitive uniqueness: emails are stored lower-cased and compared that way.
        sa.UniqueConstraint("email", name="uq_users_email"),
        NEVER_REUSED_IDS,
    )

    #: The login session this request was authenticated by (set by the user loader).
    current_session_key: ClassVar[str | None] = None

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    def get_id(self) -> str | None:
        # Flask-Login stores this in the session cookie: it names a server-side
        # session row, so logging out kills every copy of the cookie.
        return self.current_session_key

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email}>"


@sa.event.listens_for(User, "before_update")
def _credentials_changed(_mapper, _connection, user: User) -> None:
    """One rule for every route and command, present and future: a new email or password is a new
    credential version, so no link sent before it opens the account after it."""
    state = sa.inspect(user)
    if state.attrs.email.history.has_changes() or state.attrs.password_hash.history.has_changes():
        user.credential_version = (user.credential_version or 0) + 1


class UserSession(db.Model):
    """A login: created at login, deleted at logout."""

    __tablename__ = "user_sessions"

    key: Mapped[str] = mapped_column(
        sa.String(64), primary_key=True, default=lambda: secrets.token_urlsafe(32)
    )
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    user: Mapped[User] = relationship(back_populates="sessions")
