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
from portal.extensions import db
from tests.conftest import both_engines

MIGRATIONS_DB = "portal_migrations_test"


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
    context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
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
            assert set(db.metadata.tables) <= tables
            assert "alembic_version" in tables
        finally:
            db.session.remove()
            db.engine.dispose()
