"""Jobs that failed for good: one row each (``failed_jobs``), on ``/admin/jobs``, sent again from there."""

from __future__ import annotations

import json
import logging

import sqlalchemy as sa
from celery import Task
from flask import current_app

from portal.database import upsert_insert, utcnow
from portal.extensions import db
from portal.jobs.models import FailedJob
from portal.metrics import record_job_failure

log = logging.getLogger("portal.jobs")


def record_failure(task: Task, task_id: str, args: tuple | list, error: BaseException) -> None:
    """The job ran out of retries: keep it (once per task id) for an admin. Never raises."""
    record_job_failure(task.name, final=True)
    retries = getattr(task.request, "retries", 0) or 0
    message = f"{type(error).__name__}: {error}"[:2000]
    log.error("job failed for good: %s id=%s after %s tries: %s", task.name, task_id, retries + 1, message)
    table = FailedJob.__table__
    values = {"error": message, "attempts": retries + 1, "failed_at": utcnow(), "retried_at": None}
    try:
        db.session.rollback()  # whatever the job left open
        db.session.execute(
            upsert_insert(table)
            .values(
                task_id=str(task_id)[:64], task_name=task.name[:128], args=json.dumps(list(args)), **values
            )
            .on_conflict_do_update(index_elements=[table.c.task_id], set_=values)
        )
        db.session.commit()
    except Exception:  # the database itself is failing: the log line above is what is left
        db.session.rollback()
        log.exception("could not record the failed job %s", task_id)


def failed_jobs() -> sa.Select:
    """Newest first; retried ones too (they say when)."""
    return sa.select(FailedJob).order_by(FailedJob.failed_at.desc(), FailedJob.id.desc())


def waiting_count() -> int:
    """Failed jobs no admin has sent again (the /metrics gauge and the dashboard read it)."""
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(FailedJob).where(FailedJob.retried_at.is_(None))
    )


def retry(job_id: int) -> FailedJob | None:
    """Send a failed job again with its arguments (once: a second click finds it already retried)."""
    claimed = db.session.execute(
        sa.update(FailedJob)
        .where(FailedJob.id == job_id, FailedJob.retried_at.is_(None))
        .values(retried_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    job = db.session.get(FailedJob, job_id, populate_existing=True)
    if claimed and job is not None:
        # apply_async: to the broker in queue mode, here and now without a queue (task_always_eager).
        current_app.extensions["celery"].tasks[job.task_name].apply_async(args=json.loads(job.args))
    return job if claimed else None
