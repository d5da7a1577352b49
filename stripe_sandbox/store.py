"""The sandbox's own SQLite file: every object as a JSON blob keyed by its id.

One connection shared by all threads, guarded by one re-entrant lock: the sandbox is a test
double, so serialising every request is simpler than per-row locking and makes idempotency and
"process everything due" trivially race-free.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    customer TEXT,
    data TEXT NOT NULL,
    meta TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS objects_type ON objects (type, seq);
CREATE INDEX IF NOT EXISTS objects_customer ON objects (customer, type);
CREATE INDEX IF NOT EXISTS objects_created ON objects (type, json_extract(data, '$.created'));
CREATE TABLE IF NOT EXISTS idempotency (
    key TEXT NOT NULL,
    path TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status INTEGER NOT NULL,
    body TEXT NOT NULL,
    request_id TEXT,
    PRIMARY KEY (key, path)
);
CREATE TABLE IF NOT EXISTS settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS deliveries (
    event_id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
"""


_SQL_OPS = {"eq": "=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


class Store:
    def __init__(self, path: str) -> None:
        self.lock = threading.RLock()
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(SCHEMA)
        columns = {row[1] for row in self._conn.execute("PRAGMA table_info(idempotency)")}
        if "request_id" not in columns:  # a sandbox database from before replays named their request
            self._conn.execute("ALTER TABLE idempotency ADD COLUMN request_id TEXT")
        self._depth = 0
        #: Ids of the objects written (put, deleted, meta set) while a set is here: the clock's step
        #: re-examines only those after each action (``billing.clock.process_until``).
        self.touched: set[str] | None = None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Lock + one SQLite transaction; nested calls join the outer one."""
        with self.lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self._conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield
            except BaseException as error:
                # Card errors keep their changes (see SandboxError.keep_changes).
                self._conn.execute("COMMIT" if getattr(error, "keep_changes", False) else "ROLLBACK")
                raise
            else:
                self._conn.execute("COMMIT")
            finally:
                self._depth = 0

    # objects -------------------------------------------------------------------------------

    def get(self, object_id: str) -> dict[str, Any] | None:
        with self.lock:
            row = self._conn.execute("SELECT data FROM objects WHERE id = ?", (object_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, obj: dict[str, Any], object_type: str | None = None) -> None:
        customer = obj.get("customer") if isinstance(obj.get("customer"), str) else None
        with self.lock:
            self._conn.execute(
                "INSERT INTO objects (id, type, customer, data) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET data = excluded.data, customer = excluded.customer",
                (obj["id"], object_type or obj["object"], customer, json.dumps(obj)),
            )
            if self.touched is not None:
                self.touched.add(obj["id"])

    def delete(self, object_id: str) -> None:
        with self.lock:
            self._conn.execute("DELETE FROM objects WHERE id = ?", (object_id,))
            if self.touched is not None:
                self.touched.add(object_id)

    def get_meta(self, object_id: str) -> dict[str, Any]:
        with self.lock:
            row = self._conn.execute("SELECT meta FROM objects WHERE id = ?", (object_id,)).fetchone()
        return json.loads(row[0]) if row else {}

    def set_meta(self, object_id: str, meta: dict[str, Any]) -> None:
        with self.lock:
            self._conn.execute("UPDATE objects SET meta = ? WHERE id = ?", (json.dumps(meta), object_id))
            if self.touched is not None:
                self.touched.add(object_id)

    def seq_of(self, object_id: str) -> int | None:
        with self.lock:
            row = self._conn.execute("SELECT seq FROM objects WHERE id = ?", (object_id,)).fetchone()
        return row[0] if row else None

    def all_of(self, object_type: str, customer: str | None = None) -> list[dict[str, Any]]:
        """Every object of a type, newest first (Stripe's list order)."""
        sql = "SELECT data, seq FROM objects WHERE type = ?"
        args: list[Any] = [object_type]
        if customer is not None:
            sql += " AND customer = ?"
            args.append(customer)
        sql += " ORDER BY seq DESC"
        with self.lock:
            rows = self._conn.execute(sql, args).fetchall()
        out = []
        for data, seq in rows:
            obj = json.loads(data)
            obj["__seq"] = seq
            out.append(obj)
        return out

    def page_of(
        self,
        object_type: str,
        limit: int,
        *,
        before_seq: int | None = None,
        created: list[tuple[str, int]] = (),
    ) -> list[dict[str, Any]]:
        """Up to ``limit`` objects of a type, newest first, older than ``before_seq``, whose ``created``
        passes each ``(operator, bound)``: one page read from the index, not every object decoded."""
        # A lower bound (the events since a time) reads the ``created`` index: by ``seq`` alone, the
        # last page would scan every older object to learn there are no more.
        indexed = any(op in ("eq", "gt", "gte") and bound > 0 for op, bound in created)
        sql = "SELECT data, seq FROM objects"
        sql += " INDEXED BY objects_created WHERE type = ?" if indexed else " WHERE type = ?"
        args: list[Any] = [object_type]
        if before_seq is not None:
            sql += " AND seq < ?"
            args.append(before_seq)
        for op, bound in created:
            # No ``created`` counts as 0, as in ``created_filter``; a bound above 0 excludes it either way.
            field = "json_extract(data, '$.created')"
            if not (op in ("eq", "gt", "gte") and bound > 0):
                field = f"COALESCE({field}, 0)"
            sql += f" AND {field} {_SQL_OPS[op]} ?"
            args.append(bound)
        sql += " ORDER BY seq DESC LIMIT ?"
        args.append(limit)
        with self.lock:
            rows = self._conn.execute(sql, args).fetchall()
        out = []
        for data, seq in rows:
            obj = json.loads(data)
            obj["__seq"] = seq
            out.append(obj)
        return out

    # idempotency ---------------------------------------------------------------------------

    def idempotent_get(self, key: str) -> tuple[str, str, int, str, str | None] | None:
        """(endpoint, fingerprint, status, body, request id) saved for ``key``, whichever endpoint it
        was used on."""
        with self.lock:
            row = self._conn.execute(
                "SELECT path, fingerprint, status, body, request_id FROM idempotency WHERE key = ?", (key,)
            ).fetchone()
        return (row[0], row[1], row[2], row[3], row[4]) if row else None

    def idempotent_put(
        self, key: str, path: str, fingerprint: str, status: int, body: str, request_id: str | None = None
    ) -> None:
        with self.lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO idempotency (key, path, fingerprint, status, body, request_id) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (key, path, fingerprint, status, body, request_id),
            )

    # settings ------------------------------------------------------------------------------

    def setting(self, name: str, default: Any = None) -> Any:
        with self.lock:
            row = self._conn.execute("SELECT value FROM settings WHERE name = ?", (name,)).fetchone()
        return json.loads(row[0]) if row else default

    def set_setting(self, name: str, value: Any) -> None:
        with self.lock:
            self._conn.execute("INSERT OR REPLACE INTO settings VALUES (?, ?)", (name, json.dumps(value)))

    # webhook deliveries --------------------------------------------------------------------

    def mark_delivery(self, event_id: str, status: str, attempts: int, last_error: str | None = None) -> None:
        with self.lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO deliveries VALUES (?, ?, ?, ?)",
                (event_id, status, attempts, last_error),
            )

    def pending_deliveries(self) -> list[str]:
        with self.lock:
            rows = self._conn.execute(
                "SELECT d.event_id FROM deliveries d JOIN objects o ON o.id = d.event_id "
                "WHERE d.status = 'pending' ORDER BY o.seq"
            ).fetchall()
        return [r[0] for r in rows]

    def delivery_counts(self) -> dict[str, int]:
        with self.lock:
            rows = self._conn.execute("SELECT status, COUNT(*) FROM deliveries GROUP BY status").fetchall()
        return {status: count for status, count in rows}

    def reset(self) -> None:
        """Forget everything (objects, idempotency keys, clock, deliveries)."""
        with self.lock:
            self._conn.executescript(
                "DELETE FROM objects; DELETE FROM idempotency; DELETE FROM settings; DELETE FROM deliveries;"
            )

    def close(self) -> None:
        with self.lock:
            self._conn.close()
