"""Shared column types and mixins for the feature models."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column


def utcnow() -> dt.datetime:
    """Naive UTC now: stored the same way on SQLite and PostgreSQL."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class TimestampMixin:
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow, nullable=False)
    updated_at: Mapped[dt.datetime] = mapped_column(
        sa.DateTime, default=utcnow, onupdate=utcnow, nullable=False
    )


def upsert_insert(table):
    """``INSERT`` for the session's dialect, with ``on_conflict_do_nothing``/``_do_update``.

    SQLite and PostgreSQL both resolve a conflicting insert atomically in the
    database, which is how concurrent writers of one row stay correct without a
    read-then-write race.
    """
    from portal.extensions import db

    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - the portal supports exactly these two
        raise RuntimeError(f"no upsert for database dialect {dialect!r}")
    return insert(table)


#: The largest value of each integer column type on both databases (SQLite's INTEGER holds more).
_INTEGER_MAXIMA = ((sa.BigInteger, 2**63 - 1), (sa.SmallInteger, 2**15 - 1), (sa.Integer, 2**31 - 1))


def largest_row_id(metadata: sa.MetaData) -> int:
    """The largest id every integer primary key can hold (PostgreSQL's INTEGER: 2**31 - 1).

    An id beyond it names no row, and handing it to the database is an error (PostgreSQL:
    "integer out of range", SQLite: OverflowError) rather than "not found".
    """
    maxima = [
        next(largest for kind, largest in _INTEGER_MAXIMA if isinstance(column.type, kind))
        for table in metadata.tables.values()
        for column in table.primary_key.columns
        if isinstance(column.type, sa.Integer)
    ]
    return min(maxima, default=2**63 - 1)
