"""``make run-distributed``'s first step: the PostgreSQL database it names exists (created if not).

python -m portal.jobs.distributed postgresql://postgres@127.0.0.1:5432/portal_distributed
"""

from __future__ import annotations

import sys

import sqlalchemy as sa


def ensure_database(url: str) -> bool:
    """Create the database ``url`` names unless it exists (PostgreSQL; SQLite makes its own file).
    True if it was created."""
    target = sa.engine.make_url(url)
    if not target.drivername.startswith("postgresql"):
        return False
    target = target.set(drivername="postgresql+psycopg")
    server = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as conn:
            query = sa.text("SELECT 1 FROM pg_database WHERE datname = :name")
            if conn.scalar(query, {"name": target.database}):
                return False
            conn.execute(sa.text(f'CREATE DATABASE "{target.database}"'))
            return True
    finally:
        server.dispose()


if __name__ == "__main__":
    print("created" if ensure_database(sys.argv[1]) else "exists")
