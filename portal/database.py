"""Shared column types and mixins for the feature models."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Mapped, mapped_column


def utcnow() -> dt.datetime:
    """Naive UTC now: stored the same way on SQLite and PostgreSQL."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def surrogate_id() -> Mapped[int]:
    """An integer primary key that is never handed to a second row.

    An id reaches credentials, URLs and Stripe metadata; were a deleted row's id given to the next
    row, whatever still pointed at the old one would reach the new one. PostgreSQL: an identity
    column (a sequence never goes back). SQLite: ``AUTOINCREMENT``, which the table asks for with
    ``NEVER_REUSED_IDS`` in its ``__table_args__`` (tests/identity checks every table does).
    """
    return mapped_column(sa.Identity(), primary_key=True)


#: ``__table_args__`` (the trailing dict) of every table with a ``surrogate_id``: without
#: AUTOINCREMENT SQLite gives the highest id again once its row is deleted.
NEVER_REUSED_IDS = {"sqlite_autoincrement": True}


def _sqlite_compare_server_default(_context, _inspected, metadata_column, *_defaults) -> bool | None:
    """SQLite cannot hold an identity column: ``AUTOINCREMENT`` stands in for it
    (``NEVER_REUSED_IDS``; tests/test_migrations.py checks every such table has it).
    None: compare as Alembic does by default."""
    return False if isinstance(metadata_column.server_default, sa.Identity) else None


def server_default_comparison(dialect_name: str) -> object:
    """Alembic's ``compare_server_default`` for this database (a callable breaks it on PostgreSQL)."""
    return _sqlite_compare_server_default if dialect_name == "sqlite" else True


def enforce_foreign_keys(engine: sa.Engine) -> None:
    """SQLite checks foreign keys (and runs their ON DELETE rules) only on connections that ask.

    Every connection of the pool asks as it opens; PostgreSQL always enforces them.
    """
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def foreign_keys_on(dbapi_connection, _connection_record) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")  # outside any transaction, where it takes effect
        cursor.close()


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


def insert_once(table, values: dict, unique: sa.Column, *, refresh: tuple = (), fill: tuple = ()) -> bool:
    """Write a row mirrored from Stripe by several writers (a person's request and the webhooks of
    the same object): one insert-or-nothing on ``unique``, so whichever writer comes first records it
    and the others find it, in any order and at once. A writer that finds the row updates its
    ``refresh`` columns and fills its ``fill`` columns still empty (a webhook that came first knew
    less). True if this call inserted the row (the caller's once-only effects follow it)."""
    from portal.extensions import db

    inserted = db.session.execute(
        upsert_insert(table)
        .values(**values)
        .on_conflict_do_nothing(index_elements=[unique])
        .returning(*table.primary_key.columns)
    ).first()
    if inserted is not None:
        return True
    changes = {name: values[name] for name in refresh}
    changes.update({name: sa.func.coalesce(table.c[name], values[name]) for name in fill})
    if changes:
        db.session.execute(
            sa.update(table)
            .where(unique == values[unique.name])
            .values(**changes)
            .execution_options(synchronize_session=False)
        )
    return False
