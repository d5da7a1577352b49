"""Billing emails: sent at most once per cause, and only if the transaction that caused them commits.

Why an outbox, and not "send in the handler" or "send after the commit":

- Sending inside a webhook handler, before its commit, double-sends: the handler
  can still roll back (a later write fails, the worker dies before the commit),
  and Stripe's redelivery runs it, and sends, again.
- Sending after the commit with nothing recorded loses the email whenever the
  process dies, or the SMTP server is down, between the commit and the send.

So ``queue_email`` renders the email and inserts it as a row *in the caller's
transaction*, keyed by its cause (``event:evt_...``), template and recipient
under a unique constraint. The row exists if and only if the effects that caused
it were committed, and a cause that runs again (a redelivery after a rollback,
an admin's forced replay) finds the key taken and adds nothing. After the commit
the rows that transaction queued are sent: in a request, once its response has
gone out (``run_after_response``), so no page waits on the mail server; outside a
request (CLI), right away. Every SMTP connection times out after ``MAIL_TIMEOUT``
seconds (``portal.timed_mail``). A row whose send failed
stays unsent and ``flask billing send-emails`` sends it later.

Every email goes this way, account emails (confirmation, reset, "someone tried
to register") and shop receipts included, so a page that says an email was sent
says it once the row is committed. Any failure to send (the SMTP server down or
refusing the recipient, a header Flask-Mail rejects) leaves the row unsent, with
its error, for ``flask billing send-emails``; it is never marked sent. Headers are
made single-line when queued and again when sent (rows stored earlier).

With no MAIL_SERVER outside production, emails are kept for the development
inbox (``/dev/inbox``) and never written to the log: they carry live links.

Each row is claimed (``sent_at`` set) before the SMTP conversation, so two
senders never both send it. The one window left, a process killed after the
claim and before the SMTP server accepted the message, loses that email rather
than risking a duplicate: the same state is on the practice's banners anyway,
and a billing notice that arrives twice erodes trust more than a missing one.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from flask import Flask, current_app, has_app_context
from sqlalchemy.orm import Session

from portal.after_response import response_pending, run_after_response
from portal.database import upsert_insert, utcnow
from portal.extensions import PortalSession, db
from portal.i18n import reading_as
from portal.mail.models import OutboundEmail
from portal.mail.services import deliver_message, header_safe, render_email
from portal.queueing import SEND_EMAILS, enqueue, queue_mode

log = logging.getLogger(__name__)

#: ``Session.info`` keys: the cause of the emails queued now, and the rows to send after the commit.
_CAUSE = "outbox_cause"
_PENDING = "outbox_pending"


@contextmanager
def caused_by(cause: str) -> Iterator[None]:
    """Emails queued inside the block are deduplicated by ``cause`` (e.g. ``event:evt_123``)."""
    info = db.session.info
    previous = info.get(_CAUSE)
    info[_CAUSE] = cause
    try:
        yield
    finally:
        if previous is None:
            info.pop(_CAUSE, None)
        else:
            info[_CAUSE] = previous


def _dedupe_key(cause: str | None, template: str, to: str | None) -> str | None:
    if not cause:
        return None
    return (f"{cause}:{template}:{to}" if to else f"{cause}:{template}")[:255]


#: ``app.extensions`` key: email -> (locale, time zone) of the account with that address, or None
#: (no account has it); ``create_app`` names it (the users layer's lookup) through ``init_app``.
_READER = "outbox_reader"


def queue_email(
    to: str,
    subject: object,
    template: str,
    *,
    sent_once: bool = False,
    locale: str | None = None,
    timezone: str | None = None,
    **context: object,
) -> bool:
    """Render and store one email in the current transaction; False if its cause already sent it.

    It reads in its recipient's language and time zone, not in those of the request or job that
    queues it (often a webhook's: English, UTC): the language the account with that address chose
    (``users.locale``; English if none), or for an address no account has ``locale`` (a practice's
    language for its billing address, the person's own for a new address of theirs), else English;
    the zone ``timezone`` (a practice's email reads in the practice's), else the account's, else
    UTC. ``subject`` is read there too:
    pass a lazy string (``lazy_gettext``), and lazy days and amounts (``portal.formatting.lazy_date``).

    ``sent_once``: the cause sends this email once, to whichever address (a receipt goes to the
    billing email of the moment): its key leaves the recipient out. Never commits; the email goes
    out after the caller's commit (and never if it rolls back).
    """
    account = _recipient_reading(to)
    if account is not None:
        locale, timezone = account[0], timezone or account[1]
    with reading_as(locale, timezone):
        text, html = render_email(template, **context)
        subject = str(subject)
    to, subject = header_safe(to), header_safe(subject)
    key = _dedupe_key(db.session.info.get(_CAUSE), template, None if sent_once else to)
    table = OutboundEmail.__table__
    stmt = (
        upsert_insert(table)
        .values(
            dedupe_key=key,
            recipient=to,
            subject=subject[:255],
            template=template[:64],
            text_body=text,
            html_body=html,
            created_at=utcnow(),
            attempts=0,
        )
        .on_conflict_do_nothing(index_elements=[table.c.dedupe_key])
        .returning(table.c.id)
    )
    row = db.session.execute(stmt).first()
    if row is None:
        log.info("email already queued for %s", key)
        return False
    db.session.info.setdefault(_PENDING, []).append(row.id)
    return True


def _recipient_reading(to: str) -> tuple[str | None, str | None] | None:
    """(language, zone) the account at ``to`` chose; None if no account has that address."""
    reader = current_app.extensions.get(_READER)
    return reader(to) if reader is not None and to else None


def sent_once_queued(cause: str, template: str) -> bool:
    """Has ``cause`` already queued its ``sent_once`` email (``queue_email``)? Lets a caller skip
    the work of rendering it again (a Stripe call for a receipt's card) on a repeated event."""
    key = _dedupe_key(cause, template, None)
    return db.session.scalar(sa.select(OutboundEmail.id).where(OutboundEmail.dedupe_key == key)) is not None


def init_app(app: Flask, reader: Callable[[str], tuple[str | None, str | None] | None] | None = None) -> None:
    """Send what a commit queued, forget what a rollback dropped: on the portal's sessions only.

    ``reader``: the (locale, time zone) of the account with an address, for ``queue_email``.
    """
    if reader is not None:
        app.extensions[_READER] = reader
    for name, listener in (("after_commit", _send_after_commit), ("after_rollback", _forget_after_rollback)):
        if not sa.event.contains(PortalSession, name, listener):
            sa.event.listen(PortalSession, name, listener)


def _send_after_commit(session: Session) -> None:
    ids = session.info.pop(_PENDING, None)
    if not ids or not has_app_context():
        return
    if response_pending() and queue_mode():  # a worker sends them (the page answers at once)
        enqueue(SEND_EMAILS, ids)
    elif response_pending():  # no page waits on the mail server: send once the answer has gone out
        run_after_response(send_queued, ids)
    else:  # a CLI command, or work already after the response
        send_queued(ids)


def _forget_after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)


def send_queued(ids: list[int]) -> int:
    """Send the given unsent rows (each claimed first); how many went out. Never raises."""
    sent = 0
    for email_id in ids:
        try:
            sent += _send_one(email_id)
        except Exception:  # the caller's work is committed; a mail problem must not undo or fail it
            log.exception("outbox send failed id=%s", email_id)
    return sent


def _send_one(email_id: int) -> bool:
    table = OutboundEmail.__table__
    # Its own connection: this runs right after a commit, when the session cannot emit SQL.
    with db.engine.begin() as conn:
        claimed = conn.execute(
            sa.update(table)
            .where(table.c.id == email_id, table.c.sent_at.is_(None))
            .values(sent_at=utcnow(), attempts=table.c.attempts + 1)
        ).rowcount
        if not claimed:
            return False
        row = conn.execute(sa.select(table).where(table.c.id == email_id)).one()
    try:
        sent = deliver_message(row.recipient, row.subject, row.text_body, row.html_body)
    except Exception as error:  # whatever failed, the email is not lost: it waits for send-emails
        reason = f"{type(error).__name__}: {error}"[:500]
        log.warning("email not sent yet id=%s to=%s: %s", email_id, row.recipient, reason)
        with db.engine.begin() as conn:
            conn.execute(
                sa.update(table).where(table.c.id == email_id).values(sent_at=None, last_error=reason)
            )
        return False
    if not sent:
        log.info("email id=%s to=%s kept for the development inbox (/dev/inbox)", email_id, row.recipient)
    return True


def send_unsent(min_age_seconds: int = 0, limit: int = 500) -> tuple[int, int]:
    """Retry rows still unsent (SMTP was down, the process died): (sent now, still unsent)."""
    cutoff = utcnow() - dt.timedelta(seconds=min_age_seconds)
    ids = list(
        db.session.scalars(
            sa.select(OutboundEmail.id)
            .where(OutboundEmail.sent_at.is_(None), OutboundEmail.created_at <= cutoff)
            .order_by(OutboundEmail.id)
            .limit(limit)
        )
    )
    db.session.rollback()  # end the read, so the sends below see no open transaction of ours
    sent = send_queued(ids)
    return sent, unsent_count()


def unsent_count() -> int:
    """Emails waiting in the outbox (the backlog gauge of /metrics reads it at each scrape)."""
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(OutboundEmail).where(OutboundEmail.sent_at.is_(None))
    )
