"""Jobs that failed for good: one row each (``failed_jobs``), on ``/admin/jobs``, sent again from there."""

from __future__ import annotations

import enum
import json
import logging
from dataclasses import dataclass

import sqlalchemy as sa
from celery import Task
from flask import current_app
from flask_babel import lazy_gettext as _l

from portal.database import upsert_insert, utcnow
from portal.extensions import db
from portal.jobs import schedule
from portal.jobs.models import FailedJob
from portal.metrics import record_job_failure
from portal.text import N_

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


#: What each job does, in an admin's words (the page showed ``portal.jobs.nightly_reconcile`` and
#: its arguments as JSON; attack 19 A13).
JOB_LABELS = {
    schedule.RETRY_PENDING: _l("Retry what Stripe did not answer"),
    schedule.SEND_EMAILS: _l("Send the emails waiting in the outbox"),
    schedule.RELEASE_STALE_ORDERS: _l("Give back the stock of abandoned orders"),
    schedule.NIGHTLY_RECONCILE: _l("Nightly comparison with Stripe"),
    schedule.PROCESS_WEBHOOK_EVENT: _l("Apply a Stripe event"),
}


@dataclass(frozen=True)
class JobWords:
    label: str
    #: The inbox row of the Stripe event the job applies (its admin page), if it is one.
    event_row_id: int | None = None


def describe(job: FailedJob) -> JobWords:
    """The job's label for ``/admin/jobs``, and the event it applies when it applies one."""
    label = JOB_LABELS.get(job.task_name, job.task_name)
    args = json.loads(job.args or "[]")
    if job.task_name == schedule.PROCESS_WEBHOOK_EVENT and args and isinstance(args[0], int):
        return JobWords(str(label), args[0])
    return JobWords(str(label))


def find(job_id: int) -> FailedJob | None:
    return db.session.get(FailedJob, job_id)


class RetryOutcome(enum.Enum):
    ALREADY_SENT = "already_sent"  # a second click, another tab: the first one sent it
    QUEUED = "queued"  # to the workers (queue mode): its outcome shows here if it fails again
    DONE = "done"  # ran here and finished
    FAILED_AGAIN = "failed_again"  # ran here and failed: a new row says why


#: What the admin is told after Retry: (message, flash category), by outcome.
RETRY_MESSAGES = {
    RetryOutcome.ALREADY_SENT: (N_("That job was already sent again."), "info"),
    RetryOutcome.QUEUED: (
        N_("Job %(name)s sent to the workers. If it fails again, it is listed here again."),
        "success",
    ),
    RetryOutcome.DONE: (N_("Job %(name)s ran again and finished."), "success"),
    RetryOutcome.FAILED_AGAIN: (
        N_("Job %(name)s ran again and failed again; the newest row below says why."),
        "error",
    ),
}


def retry(job: FailedJob) -> RetryOutcome:
    """Send a failed job again with its arguments, once (a second click finds it already sent).

    With a queue it goes to the workers. Without one it runs here, once: an eager job's retries
    would run back to back inside the admin's request, ignoring their backoff (attack 19 A7: six
    tries, 40 s with Stripe hanging, reported as "sent again"); a failure is recorded as a new row
    and said as such."""
    claimed = db.session.execute(
        sa.update(FailedJob)
        .where(FailedJob.id == job.id, FailedJob.retried_at.is_(None))
        .values(retried_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    if not claimed:
        return RetryOutcome.ALREADY_SENT
    celery = current_app.extensions["celery"]
    task, args = celery.tasks[job.task_name], json.loads(job.args)
    if not celery.conf.task_always_eager:
        task.apply_async(args=args)
        return RetryOutcome.QUEUED
    result = task.apply(args=args, retries=task.max_retries, throw=False)  # its last try: no retry
    if not result.failed():
        return RetryOutcome.DONE
    db.session.execute(  # its row counts the one try made (it was started as the last of several)
        sa.update(FailedJob).where(FailedJob.task_id == str(result.id)[:64]).values(attempts=1)
    )
    db.session.commit()
    return RetryOutcome.FAILED_AGAIN
