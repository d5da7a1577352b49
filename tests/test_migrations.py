"""Migrations build the schema the models describe, on SQLite and on PostgreSQL."""

from __future__ import annotations

import logging
import os

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade

from portal import create_app
from portal.database import server_default_comparison
from portal.extensions import db
from tests.conftest import both_engines

#: Named after TEST_DATABASE_NAME, so two checkouts can run this test at once.
MIGRATIONS_DB = os.environ.get("TEST_DATABASE_NAME", "portal") + "_migrations"


def _empty_postgres_url() -> str:
    """A freshly created, empty database on TEST_DATABASE_URL's server (fails, never skips, if down)."""
    url = sa.engine.make_url(os.environ["TEST_DATABASE_URL"]).set(drivername="postgresql+psycopg")
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {MIGRATIONS_DB} WITH (FORCE)"))
            conn.execute(sa.text(f"CREATE DATABASE {MIGRATIONS_DB}"))
    finally:
        admin.dispose()
    return url.set(database=MIGRATIONS_DB).render_as_string(hide_password=False)


@pytest.fixture
def empty_database_url(engine, tmp_path) -> str:
    if engine == "postgresql":
        return _empty_postgres_url()
    return f"sqlite:///{tmp_path / 'migrations.sqlite'}"


@pytest.fixture
def keep_logging():
    """migrations/env.py runs ``fileConfig``, which disables every existing logger; undo that."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    loggers = [
        logger for logger in logging.Logger.manager.loggerDict.values() if isinstance(logger, logging.Logger)
    ]
    disabled = {logger: logger.disabled for logger in loggers}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for logger, was_disabled in disabled.items():
        logger.disabled = was_disabled


def _diff(conn) -> list:
    context = MigrationContext.configure(
        conn,
        opts={"compare_type": True, "compare_server_default": server_default_comparison(conn.dialect.name)},
    )
    return compare_metadata(context, db.metadata)


@both_engines
def test_upgrade_on_empty_database_matches_models(engine, empty_database_url, keep_logging):
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=empty_database_url)
    with app.app_context():
        try:
            with db.engine.connect() as conn:
                assert sa.inspect(conn).get_table_names() == []
                # The comparison is not vacuous: on the empty database it sees every table missing.
                missing = {op[1].name for op in _diff(conn) if op[0] == "add_table"}
                assert missing == set(db.metadata.tables)
            upgrade()
            with db.engine.connect() as conn:
                diff = _diff(conn)
                tables = set(sa.inspect(conn).get_table_names())
            assert diff == [], f"models and migrations differ on {engine}: {diff}"
            if engine == "sqlite":  # Alembic does not compare AUTOINCREMENT: read the tables' SQL
                assert _autoincrement_tables() == _tables_asking_for_autoincrement()
            assert set(db.metadata.tables) <= tables
            assert "alembic_version" in tables
        finally:
            db.session.remove()
            db.engine.dispose()


def _insert(conn, model, **values) -> int:
    return conn.execute(sa.insert(model.__table__).values(**values).returning(model.__table__.c.id)).scalar()


def _add_user(conn, email: str) -> int:
    from portal.users.models import User

    return _insert(conn, User, name=email, email=email, password_hash="x")


@both_engines
def test_upgrade_keeps_every_row_and_ids_are_never_reused_after_it(engine, empty_database_url, keep_logging):
    from flask_migrate import downgrade

    from portal.auth.api_tokens import ApiToken
    from portal.practices.models import MemberRole, Practice, PracticeMember
    from portal.shop.models import Order, Product
    from portal.users.models import User

    app = create_app("testing", SQLALCHEMY_DATABASE_URI=empty_database_url)
    with app.app_context():
        try:
            upgrade(revision="68f00a98e466")
            with db.engine.begin() as conn:
                first, second, gone = (_add_user(conn, f"u{n}@example.com") for n in range(3))
                conn.execute(sa.delete(User.__table__).where(User.__table__.c.id == gone))
                _insert(conn, ApiToken, user_id=first, token_hash="h" * 64, expires_at=sa.func.now())
                practice = _insert(conn, Practice, name="Clinic")
                _insert(conn, PracticeMember, practice_id=practice, user_id=second, role=MemberRole.OWNER)
                product = _insert(conn, Product, name="Gloves", price=100, stock=1)
                _insert(
                    conn,
                    Order,
                    user_id=first,
                    product_id=product,
                    quantity=1,
                    unit_amount=100,
                    amount=100,
                    currency="usd",
                )
            before = _all_rows()
            upgrade()
            after = _all_rows()
            kept = {name: [_columns_of(row, rows) for row in after[name]] for name, rows in before.items()}
            assert kept == before  # every row, in the columns it had (new columns take their defaults)
            assert not any(
                rows for name, rows in after.items() if name not in before
            )  # new tables start empty
            with db.engine.begin() as conn:
                conn.execute(sa.delete(User.__table__).where(User.__table__.c.id == second))
                fresh = _add_user(conn, "new@example.com")
                assert conn.scalar(sa.select(sa.func.count()).select_from(PracticeMember.__table__)) == 0
            # SQLite never saw ``gone`` after the rebuild; PostgreSQL's sequence remembers it too.
            assert fresh > (gone if engine == "postgresql" else second)
            downgrade(revision="68f00a98e466")
            upgrade()
        finally:
            db.session.remove()
            db.engine.dispose()


def _all_rows() -> dict:
    """Every row of every table the database has at its revision, in the columns it has then (later
    tables and columns are not there yet)."""
    with db.engine.connect() as conn:
        inspector = sa.inspect(conn)
        present = set(inspector.get_table_names())
        rows = {}
        for name, table in db.metadata.tables.items():
            if name in present:
                columns = {column["name"] for column in inspector.get_columns(name)}
                selected = [column for column in table.columns if column.name in columns]
                query = sa.select(*selected).order_by(*table.primary_key.columns)
                rows[name] = [row._asdict() for row in conn.execute(query)]
        return rows


def _columns_of(row: dict, like: list[dict]) -> dict:
    """``row`` in the columns the rows of ``like`` have."""
    return {key: row[key] for key in like[0]} if like else row


def _tables_asking_for_autoincrement() -> set[str]:
    return {
        name for name, table in db.metadata.tables.items() if table.dialect_options["sqlite"]["autoincrement"]
    }


def _autoincrement_tables() -> set[str]:
    with db.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'table'").all()
    return {name for name, sql in rows if "AUTOINCREMENT" in sql.upper()}


def test_upgrade_drops_what_a_reused_id_handed_to_the_next_account(tmp_path, keep_logging):
    """Finding 1 in a database from before: the next account got a deleted one's token and practice."""
    from portal.auth.api_tokens import ApiToken
    from portal.practices.models import MemberRole, Practice, PracticeMember
    from portal.users.models import User

    app = create_app("testing", SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'old.sqlite'}")
    with app.app_context():
        try:
            upgrade(revision="68f00a98e466")
            with db.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA foreign_keys=OFF")  # as every connection was before
                conn.commit()
                gone = _add_user(conn, "gone@example.com")
                _insert(conn, ApiToken, user_id=gone, token_hash="h" * 64, expires_at=sa.func.now())
                practice = _insert(conn, Practice, name="Old Clinic")
                _insert(conn, PracticeMember, practice_id=practice, user_id=gone, role=MemberRole.OWNER)
                conn.execute(sa.delete(User.__table__))
                assert _add_user(conn, "next@example.com") == gone  # the same id, handed out again
                conn.commit()
            db.engine.dispose()
            upgrade()
            with db.engine.connect() as conn:
                assert conn.scalar(sa.select(sa.func.count()).select_from(ApiToken.__table__)) == 0
                assert conn.scalar(sa.select(sa.func.count()).select_from(PracticeMember.__table__)) == 0
                assert conn.scalar(sa.select(User.__table__.c.email)) == "next@example.com"
        finally:
            db.session.remove()
            db.engine.dispose()
