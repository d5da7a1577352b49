"""Throttles that hold across gunicorn workers and hosts.

Flask-Limiter's ``memory://`` storage lives in one process: with the two workers
of ``make run`` each counted its own attempts, so "5 a minute" let 10 through.
The default storage here, ``portal-database://``, keeps the counters in the
portal's own database (the ``rate_limit_counters`` table): every worker of every
host that shares the database shares the counts, with nothing else to run. One
atomic upsert per hit (``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``) makes
a count exact under concurrency on SQLite and PostgreSQL alike. Set
``RATELIMIT_STORAGE_URI=redis://...`` to keep the counters in Redis instead.

Counting is exact too: a throttled form counts every attempt *before* it runs
(an atomic hit), and a login that succeeds gives its hit back
(``refund_request_limits``). Testing first and counting after the response,
as Flask-Limiter's ``deduct_when`` does, lets concurrent attempts all pass the
test before any is counted.

The windows are fixed: a limit of 5 per minute allows 5 in the minute that
starts at the first counted attempt, then resets.

A limit is one counter per setting, not per route: the web form and the JSON API that
spend ``LOGIN_THROTTLE`` spend the same count (Flask-Limiter's shared limits, scoped by
the setting's name), so the documented number holds whichever way a client comes in.
Checks that happen inside a service (a current password, an email change) spend a
setting the same way through ``count_attempt``.
"""

from __future__ import annotations

import hashlib
import random
import time

import sqlalchemy as sa
from flask import Flask, current_app, has_app_context, request
from flask_babel import lazy_gettext as _l
from flask_limiter.util import get_remote_address
from limits import parse
from limits.storage import (
    SCHEMES,  # limits' scheme -> storage table (not in its __all__)
    Storage,
)
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.exceptions import TooManyRequests

from portal.extensions import db, limiter

#: The storage scheme of ``RATELIMIT_STORAGE_URI`` that names the portal's database.
SCHEME = "portal-database"
#: Share of hits that also delete ended windows, so the table stays the size of the live ones.
PRUNE_CHANCE = 0.01


class RateLimitCounter(db.Model):
    """One fixed-window counter of ``portal-database://``: hits so far, and when the window ends."""

    __tablename__ = "rate_limit_counters"

    key: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    hits: Mapped[int] = mapped_column(default=0)
    #: Unix time the window ends; an expired row counts as absent and is reset by the next hit.
    expires_at: Mapped[float] = mapped_column(sa.Float, index=True)


def _row_key(key: str) -> str:
    """A counter's row key: a digest, so any key fits the column exactly (no two share a row by
    truncation) and whatever a client typed (a NUL, say) never reaches the database as text."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


class DatabaseStorage(Storage):
    """A ``limits`` storage (fixed windows) in the portal's database: shared by every worker and host.

    No ``STORAGE_SCHEME`` here: ``limits`` would add the class to its global scheme table when this
    module is imported; ``init_app`` names the scheme instead, when an app is built."""

    def __init__(self, uri: str, wrap_exceptions: bool = False, **options: object) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    @property
    def base_exceptions(self) -> type[Exception]:
        return sa.exc.SQLAlchemyError

    @staticmethod
    def _engine() -> sa.Engine:
        # The current app's engine: throttles are checked inside requests. A connection of its
        # own, so a hit commits at once, whatever the request's session is doing.
        if not has_app_context():
            raise RuntimeError("the portal-database:// throttle storage needs an app context")
        return db.engine

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """Add ``amount`` to the window's count (a new window if it ended) and return the count."""
        table = RateLimitCounter.__table__
        now = time.time()
        dialect = self._engine().dialect.name
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        stmt = insert(table).values(key=_row_key(key), hits=amount, expires_at=now + expiry)
        expired = table.c.expires_at <= now
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.key],
            set_={
                "hits": sa.case((expired, amount), else_=table.c.hits + amount),
                "expires_at": sa.case((expired, now + expiry), else_=table.c.expires_at),
            },
        ).returning(table.c.hits)
        with self._engine().begin() as conn:
            hits = int(conn.execute(stmt).scalar_one())
            if random.random() < PRUNE_CHANCE:  # windows of addresses never seen again
                conn.execute(sa.delete(table).where(table.c.expires_at <= now))
        return hits

    def _live_row(self, key: str):
        table = RateLimitCounter.__table__
        with self._engine().connect() as conn:
            return conn.execute(
                sa.select(table.c.hits, table.c.expires_at).where(
                    table.c.key == _row_key(key), table.c.expires_at > time.time()
                )
            ).first()

    def get(self, key: str) -> int:
        row = self._live_row(key)
        return int(row.hits) if row else 0

    def get_expiry(self, key: str) -> float:
        row = self._live_row(key)
        return float(row.expires_at) if row else time.time()

    def check(self) -> bool:
        try:
            with self._engine().connect() as conn:
                conn.execute(sa.select(1))
            return True
        except sa.exc.SQLAlchemyError:
            return False

    def reset(self) -> int | None:
        with self._engine().begin() as conn:
            return conn.execute(sa.delete(RateLimitCounter.__table__)).rowcount

    def clear(self, key: str) -> None:
        table = RateLimitCounter.__table__
        with self._engine().begin() as conn:
            conn.execute(sa.delete(table).where(table.c.key == _row_key(key)))


def init_app(app: Flask) -> None:
    """Make ``portal-database://`` a storage ``limits`` knows, then bind the limiter to ``app``."""
    SCHEMES.setdefault(SCHEME, DatabaseStorage)
    limiter.init_app(app)


def client_address() -> str:
    """The throttle key of the client (its address, after TRUSTED_PROXIES hops)."""
    return get_remote_address()


def target_email() -> str:
    """The throttle key of the account a form is aimed at: its email, as the services normalise it."""
    body = request.get_json(silent=True) if request.is_json else request.form
    email = body.get("email") if hasattr(body, "get") else None
    return "email:" + (email if isinstance(email, str) else "").strip().lower()[:254]


def setting(name: str):
    """A limit read from config when the request comes, so tests and operators can change it."""
    return lambda: current_app.config[name]


def throttled(address_limit: str, email_limit: str, message: str):
    """Throttle a form's POSTs per client address and per target email, both counted before it runs.

    Each setting is one counter (scoped by its name) shared by every route that names it.
    """

    def decorate(view):
        return _limit_posts(view, ((email_limit, target_email), (address_limit, client_address)), message)

    return decorate


def _limit_posts(view, limits, message: str):
    """``view``'s POSTs under each (setting, key function): one counter per setting, whatever route."""
    for limit, key_func in limits:
        limit_posts = limiter.shared_limit(
            setting(limit), scope=limit, key_func=key_func, methods=["POST"], error_message=message
        )
        view = limit_posts(view)
    return view


INVITATIONS_THROTTLED = _l("Too many invitations sent from this practice or account. Try again later.")


def count_invitation(practice_id: int, inviter_id: int) -> None:
    """One invitation or ownership offer (each sends an email), per inviter and per practice.

    Only a loader that has already checked the inviter may call this
    (``practices.views.common.load_inviter``): a count keyed on a practice spent before that check
    would let an outsider use up the practice's invitations and lock its owner out.
    """
    count_attempt("INVITE_INVITER_THROTTLE", f"inviter:{inviter_id}", INVITATIONS_THROTTLED)
    count_attempt("INVITE_PRACTICE_THROTTLE", f"practice:{practice_id}", INVITATIONS_THROTTLED)


class Throttled(TooManyRequests):
    """A service-level limit ran out: 429 with the message (a page, or the API's JSON envelope)."""


class Attempt:
    """One counted attempt against a setting for one key; ``refund`` gives it back."""

    def __init__(self, setting_name: str, key: str) -> None:
        self.setting_name, self.key = setting_name, key

    def refund(self) -> None:
        if limiter.enabled:
            limit = parse(current_app.config[self.setting_name])
            limiter.limiter.hit(limit, self.setting_name, self.key, cost=-1)


def count_attempt(setting_name: str, key: str, message: str) -> Attempt:
    """Count one attempt of ``key`` against the limit ``setting_name`` names, atomically before
    the attempt runs (so concurrent ones cannot all slip under it); ``Throttled`` once it is over."""
    attempt = Attempt(setting_name, key)
    if not limiter.enabled:
        return attempt
    limit = parse(current_app.config[setting_name])
    if not limiter.limiter.hit(limit, setting_name, key):
        reset_at = limiter.limiter.get_window_stats(limit, setting_name, key).reset_time
        raise Throttled(description=message, retry_after=max(1, int(reset_at - time.time()) + 1))
    return attempt


def refund_request_limits() -> None:
    """Give back this request's hits: a login that succeeded is not an attempt to throttle."""
    for request_limit in limiter.current_limits:
        if not request_limit.breached:
            limiter.limiter.hit(request_limit.limit, *request_limit.request_args, cost=-1)
