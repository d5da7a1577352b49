"""Store every verified event once, then run its handler exactly once.

The inbox row is written with ``INSERT ... ON CONFLICT DO NOTHING``, so
concurrent deliveries of one event leave one row. Running the handler starts
with a conditional claim (``UPDATE ... WHERE status IN ('received', 'failed')``)
in the same transaction as the handler's effects and the final status: a second
delivery waits on the row (PostgreSQL's row lock, SQLite's single writer) and
then finds nothing left to claim. A handler that raises leaves no effect; the
failure is recorded in a fresh transaction and the next delivery retries it.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import logging

import sqlalchemy as sa
from flask import Flask, current_app
from sqlalchemy.orm import Session

from portal.database import upsert_insert, utcnow
from portal.extensions import PortalSession, db
from portal.gateway import read_first
from portal.gateway.errors import BillingError, StripeUnavailable
from portal.gateway.shapes import object_id
from portal.gateway.webhooks import parse_secrets
from portal.mail.outbox import caused_by
from portal.metrics import record_webhook_event
from portal.queueing import PROCESS_WEBHOOK_EVENT, enqueue, queue_mode
from portal.webhooks.handlers import handler_for, read_first_for
from portal.webhooks.models import RUNNABLE, EventStatus, WebhookEvent

log = logging.getLogger("portal.webhooks")

#: Set in ``Session.info`` while a handler runs.
_IN_HANDLER = "webhook_handler_running"


def init_app(app: Flask) -> None:
    """A handler that commits is refused (on the portal's sessions; attached by ``create_app``)."""
    if not sa.event.contains(PortalSession, "before_commit", _handlers_must_not_commit):
        sa.event.listen(PortalSession, "before_commit", _handlers_must_not_commit)


def _handlers_must_not_commit(session: Session) -> None:
    if session.info.get(_IN_HANDLER):
        raise RuntimeError(
            "a webhook handler must not commit: the dispatcher commits its effects with the status"
        )


class Outcome(enum.StrEnum):
    PROCESSED = "processed"  #: the handler ran and its effects are committed
    IGNORED = "ignored"  #: no handler for this type
    FAILED = "failed"  #: the handler raised; nothing of it was kept
    DUPLICATE = "duplicate"  #: already handled (or being handled) by another delivery
    QUEUED = "queued"  #: stored and handed to the job queue (QUEUE_URL): a worker applies it
    NOT_FOUND = "not_found"  #: no such event in the inbox


def webhook_secrets() -> list[str]:
    """The endpoint secrets; several during a rotation (comma-separated in STRIPE_WEBHOOK_SECRET)."""
    return parse_secrets(current_app.config.get("STRIPE_WEBHOOK_SECRET"))


def store_event(event: dict, payload: str) -> int:
    """Insert the event unless its id is already stored; the inbox row's id either way."""
    known = handler_for(event["type"]) is not None
    api_version = event.get("api_version")
    stmt = (
        upsert_insert(WebhookEvent.__table__)
        .values(
            stripe_event_id=event["id"],
            type=event["type"],
            api_version=api_version[:64] if isinstance(api_version, str) else None,
            created=event["created"],
            object_id=(object_id(event["data"]["object"].get("id")) or "")[:255] or None,
            payload=payload,
            status=EventStatus.RECEIVED if known else EventStatus.IGNORED,
            attempts=0,
            received_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=[WebhookEvent.__table__.c.stripe_event_id])
    )
    inserted = db.session.execute(stmt.returning(WebhookEvent.__table__.c.id)).first() is not None
    db.session.commit()
    if inserted and not known:
        log.info("webhook ignored id=%s type=%s (no handler)", event["id"], event["type"])
    return db.session.scalar(sa.select(WebhookEvent.id).where(WebhookEvent.stripe_event_id == event["id"]))


def receive_event(event: dict, payload: str) -> Outcome:
    """A verified delivery: store it, then run its handler unless that already happened.

    With a job queue (``QUEUE_URL``) the handler runs in a worker instead, so Stripe hears 200 as
    soon as the event is stored; the row's claim keeps it once-only across workers and deliveries.
    """
    row_id = store_event(event, payload)
    outcome = Outcome.IGNORED if handler_for(event["type"]) is None else _run_or_queue(row_id)
    record_webhook_event(event["type"], outcome)
    return outcome


def _run_or_queue(row_id: int) -> Outcome:
    """The stored event to a worker (queue mode), or applied here and now."""
    if queue_mode():
        enqueue(PROCESS_WEBHOOK_EVENT, row_id)
        return Outcome.QUEUED
    return process_event(row_id)


#: An event stored this long ago and still waiting for its handler was lost on its way to a worker
#: (a worker killed with it taken, the broker emptied): the retry job sends it again. Sending one a
#: worker still has is harmless: the claim makes the second run a no-op.
STRANDED_AFTER = dt.timedelta(minutes=15)
#: A failed one whose retries have not all run is stranded after this long: its next retry waited
#: in a worker that died, or in a broker that lost it (recheck R3); the retries' backoff is far
#: shorter. Each sending counts a try, so one that keeps failing stops at the retry limit.
FAILED_STRANDED_AFTER = dt.timedelta(hours=1)
STRANDED_BATCH = 500


def resend_stranded(now: dt.datetime | None = None) -> int:
    """Events still ``received`` ``STRANDED_AFTER`` after they came, and failed ones with tries left
    ``FAILED_STRANDED_AFTER`` after: to the workers again (applied here without a queue); how many."""
    now = now or utcnow()
    tries = int(current_app.config.get("JOB_MAX_RETRIES", 5)) + 1
    lost = sa.and_(
        WebhookEvent.status == EventStatus.RECEIVED, WebhookEvent.received_at < now - STRANDED_AFTER
    )
    retry_lost = sa.and_(
        WebhookEvent.status == EventStatus.FAILED,
        WebhookEvent.attempts < tries,
        WebhookEvent.received_at < now - FAILED_STRANDED_AFTER,
    )
    stranded = db.session.scalars(
        sa.select(WebhookEvent.id)
        .where(sa.or_(lost, retry_lost))
        .order_by(WebhookEvent.id)
        .limit(STRANDED_BATCH)
    ).all()
    db.session.rollback()
    for row_id in stranded:
        _run_or_queue(row_id)
    if stranded:
        log.warning("webhook events resent after %s unapplied: %s", STRANDED_AFTER, len(stranded))
    return len(stranded)


def process_event(row_id: int, *, force: bool = False) -> Outcome:
    """Claim the event and run its handler, committing effects and status together.

    ``force`` (replay by an admin) also re-runs processed or ignored events. The handler's Stripe
    reads are made first, before the claim opens the write transaction (``_read_first``); Stripe
    unreachable then fails the event at once, for the next delivery to retry.
    """
    reads = _read_first(row_id, force)
    if isinstance(reads, Outcome):
        return reads
    db.session.rollback()  # start from a clean transaction: the claim must be its first statement
    claim = sa.update(WebhookEvent).where(WebhookEvent.id == row_id)
    if not force:
        claim = claim.where(WebhookEvent.status.in_(RUNNABLE))
    claimed = db.session.execute(
        claim.values(attempts=WebhookEvent.attempts + 1).execution_options(synchronize_session=False)
    ).rowcount
    if not claimed:
        db.session.rollback()
        return Outcome.DUPLICATE

    row = db.session.get(WebhookEvent, row_id, populate_existing=True)
    stripe_event_id, event_type = row.stripe_event_id, row.type
    handler = handler_for(event_type)
    try:
        if handler is not None:
            db.session.info[_IN_HANDLER] = True
            try:
                # Emails the handler queues are committed with its effects, once per event.
                with caused_by(f"event:{stripe_event_id}"), read_first.serving(reads):
                    handler(json.loads(row.payload))
            finally:
                db.session.info.pop(_IN_HANDLER, None)
        row.status = EventStatus.PROCESSED if handler else EventStatus.IGNORED
        row.processed_at = utcnow()
        row.last_error = None
        db.session.commit()
    except Exception as error:
        db.session.rollback()
        log.exception("webhook handler failed id=%s type=%s", stripe_event_id, event_type)
        _record_failure(row_id, error)
        return Outcome.FAILED
    outcome = Outcome.PROCESSED if handler else Outcome.IGNORED
    log.info("webhook id=%s type=%s outcome=%s", stripe_event_id, event_type, outcome)
    return outcome


def _read_first(row_id: int, force: bool) -> dict | Outcome:
    """The event type's Stripe reads (``READ_FIRST``), with no transaction open (attack 3 F12: each
    delivery held SQLite's write lock through seconds of Stripe retries; a person's request waited,
    then failed "database is locked"). Stripe unreachable: the event fails now, claimed by no one."""
    db.session.rollback()
    row = db.session.get(WebhookEvent, row_id, populate_existing=True)
    step = read_first_for(row.type) if row is not None else None
    if step is None or (not force and row.status not in RUNNABLE):
        db.session.rollback()
        return {}
    payload, stripe_event_id, event_type = json.loads(row.payload), row.stripe_event_id, row.type
    db.session.rollback()  # the row was only looked at: nothing of this session is held while Stripe answers
    with read_first.recording() as reads:
        try:
            step(payload)
        except StripeUnavailable as error:
            db.session.rollback()
            log.warning(
                "webhook id=%s type=%s: Stripe unreachable, retried later", stripe_event_id, event_type
            )
            _record_failure(row_id, error)
            return Outcome.FAILED
        except BillingError:  # refused (not found, ...): the handler reads it again and decides
            pass
    db.session.rollback()
    return reads


def _record_failure(row_id: int, error: Exception) -> None:
    """In its own transaction: the run counts, the error is kept, the event stays retryable."""
    message = f"{type(error).__name__}: {error}"[:2000]
    try:
        db.session.execute(
            sa.update(WebhookEvent)
            .where(WebhookEvent.id == row_id, WebhookEvent.status.in_(RUNNABLE))
            .values(status=EventStatus.FAILED, attempts=WebhookEvent.attempts + 1, last_error=message)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
    except Exception:  # the database itself is failing; Stripe's retry is the safety net
        db.session.rollback()
        log.exception("could not record webhook failure row=%s", row_id)


def event_row(row_id: int) -> WebhookEvent | None:
    return db.session.get(WebhookEvent, row_id, populate_existing=True)


def find_event(stripe_event_id: str) -> WebhookEvent | None:
    return db.session.scalar(sa.select(WebhookEvent).where(WebhookEvent.stripe_event_id == stripe_event_id))


def replay_event(stripe_event_id: str, *, force: bool = False) -> Outcome:
    """Run a stored event's handler again (a failed one, or with ``force`` any)."""
    row = find_event(stripe_event_id)
    if row is None:
        return Outcome.NOT_FOUND
    return process_event(row.id, force=force)


def list_events(status: EventStatus | None = None, event_type: str | None = None) -> sa.Select:
    """The inbox, newest first, optionally filtered."""
    query = sa.select(WebhookEvent).order_by(WebhookEvent.received_at.desc(), WebhookEvent.id.desc())
    if status is not None:
        query = query.where(WebhookEvent.status == status)
    if event_type:
        query = query.where(WebhookEvent.type == event_type)
    return query


def event_types() -> list[str]:
    return list(db.session.scalars(sa.select(WebhookEvent.type).distinct().order_by(WebhookEvent.type)))


def status_counts() -> dict[EventStatus, int]:
    rows = db.session.execute(sa.select(WebhookEvent.status, sa.func.count()).group_by(WebhookEvent.status))
    counts = dict.fromkeys(EventStatus, 0)
    counts.update({status: count for status, count in rows})
    return counts


#: Event types an admin should look at even when their handler succeeded.
ALERT_TYPES = ("invoice.finalization_failed",)


def alerts(limit: int = 10) -> list[WebhookEvent]:
    """Events needing an admin's eye, newest first: failed handlers and ``ALERT_TYPES``."""
    return list(
        db.session.scalars(
            sa.select(WebhookEvent)
            .where(sa.or_(WebhookEvent.type.in_(ALERT_TYPES), WebhookEvent.status == EventStatus.FAILED))
            .order_by(WebhookEvent.received_at.desc(), WebhookEvent.id.desc())
            .limit(limit)
        )
    )
