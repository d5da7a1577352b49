"""Jobs that failed for good, and what the nightly reconcile found."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from portal.database import NEVER_REUSED_IDS, surrogate_id, utcnow
from portal.extensions import db


class FailedJob(db.Model):
    """A job whose retries ran out: listed on ``/admin/jobs`` until an admin retries it."""

    __tablename__ = "failed_jobs"
    __table_args__ = (NEVER_REUSED_IDS,)

    id: Mapped[int] = surrogate_id()
    #: Celery's task id (one row per job, however often its failure is reported).
    task_id: Mapped[str] = mapped_column(sa.String(64), unique=True)
    task_name: Mapped[str] = mapped_column(sa.String(128), index=True)
    #: The job's arguments as JSON, to send it again.
    args: Mapped[str] = mapped_column(sa.Text, default="[]")
    error: Mapped[str] = mapped_column(sa.Text)
    attempts: Mapped[int] = mapped_column(default=1)
    failed_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    #: Set when an admin sent it again (the row stays, saying so).
    retried_at: Mapped[dt.datetime | None]


class ReconcileReport(db.Model):
    """One nightly comparison with Stripe: how much drift, and its lines."""

    __tablename__ = "reconcile_reports"
    __table_args__ = (NEVER_REUSED_IDS,)

    id: Mapped[int] = surrogate_id()
    #: The UTC day it ran for ("2026-11-30"): one report (and one email) per night, however often run.
    day: Mapped[str] = mapped_column(sa.String(10), unique=True)
    ran_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    checked: Mapped[int] = mapped_column(default=0)
    drift_count: Mapped[int] = mapped_column(default=0)
    missing_events: Mapped[int] = mapped_column(default=0)
    #: One line per difference or missing event: a JSON list of facts, said in the reader's words
    #: when shown (``portal.jobs.report_lines``); a report kept before holds English text, a line each.
    lines: Mapped[str] = mapped_column(sa.Text, default="")
