"""One effect per intent: a billing action runs once per key, however often its form is posted.

Every billing form carries a key generated when it was rendered (``attempt``). The
action first claims ``(practice, action, key)`` with an ``INSERT ... ON CONFLICT DO
NOTHING`` (the unique constraint decides, on SQLite and PostgreSQL alike). The post that
inserted the row runs the action (one Stripe call, one audit line) and records its
outcome; a concurrent or later post of the same form finds the row, waits for that
outcome and answers with it, as if it had run. The portal's own one-time effects
(cancelling a duplicate subscription) claim keys the same way.

A key is one form; two tabs are two forms. So every billing form also carries the practice's
billing version as it was rendered (``billing_version``), and the action claims that version
with a compare-and-swap before it acts (``in_step``): of two tabs drawn from the same state,
the first to act moves the version on and the other acts not, answering ``STALE`` with the
current state.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from dataclasses import dataclass

import sqlalchemy as sa

from portal.database import upsert_insert, utcnow
from portal.extensions import db
from portal.practices.models import BillingIntent, Practice
from portal.text import N_

log = logging.getLogger(__name__)

#: How long a repeated post waits for the first one's outcome (a Stripe call takes at most this long).
WAIT_SECONDS = 30.0
_POLL_SECONDS = 0.05
_KEY = re.compile(r"[A-Za-z0-9_-]{8,64}")


@dataclass(frozen=True)
class Outcome:
    """What a billing action answered: a message or an error, or a redirect (to Checkout)."""

    message: str | None = None
    error: str | None = None
    status: int = 200
    redirect_to: str | None = None
    #: False for a refusal before anything happened (a form error): the key stays usable.
    settled: bool = True


STILL_RUNNING = Outcome(
    error=N_("Your earlier request is still being processed. Reload the page in a moment to see its result."),
    status=409,
)


STALE = Outcome(
    error=N_(
        "Billing changed in another tab or window since this page was loaded; here is the current state."
    ),
    status=409,
)


def new_key() -> str:
    """A key for one rendered form."""
    return secrets.token_hex(12)


def posted_key(value: str | None) -> str:
    """The form's key; a form without a (well-formed) one is an intent of its own."""
    return value if value and _KEY.fullmatch(value) else new_key()


def posted_version(value: str | None) -> int | None:
    """The billing version a form was rendered with; None for a form without one (it acts not)."""
    return int(value) if value and value.isdigit() and len(value) < 12 else None


def _swap_version(practice_id: int, was: int, becomes: int, column=Practice.billing_version) -> bool:
    """``column`` (a version of the practice): ``was`` -> ``becomes`` if nobody moved it meanwhile.
    Commits."""
    changed = db.session.execute(
        sa.update(Practice)
        .where(Practice.id == practice_id, column == was)
        .values({column.key: becomes})
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return changed == 1


def _version_is(practice_id: int, version: int, column=Practice.billing_version) -> bool:
    db.session.rollback()  # a fresh snapshot
    return db.session.scalar(sa.select(column).where(Practice.id == practice_id)) == version


def in_step(
    practice_id: int,
    version: int | None,
    perform,
    *,
    claims_version: bool = True,
    column=Practice.billing_version,
) -> Outcome:
    """``perform()`` only if the form was rendered from the billing state as it is now.

    An action that changes the billing (``claims_version``) moves the version on first, so a
    form of the same state in another tab acts not; one refused before anything happened
    (``settled=False``) gives it back. One that failed midway keeps it moved on: what it did at
    Stripe is unknown, so the forms drawn before it act not. Starting a Checkout changes nothing
    yet: it only checks. ``column`` is the version claimed: ``billing_version`` (the subscription's
    forms), or ``details_version`` (the billing details form, a section of its own).
    """
    if version is None:
        return STALE
    if not claims_version:
        return perform() if _version_is(practice_id, version, column) else STALE
    if not _swap_version(practice_id, version, version + 1, column):
        return STALE
    outcome = perform()
    if not outcome.settled:
        db.session.rollback()
        _swap_version(practice_id, version + 1, version, column)
    return outcome


def claim(practice_id: int, action: str, key: str) -> int | None:
    """The claimed row's id, or None when another post of this intent claimed it first. Commits."""
    table = BillingIntent.__table__
    stmt = (
        upsert_insert(table)
        .values(practice_id=practice_id, action=action[:64], intent_key=key[:64], created_at=utcnow())
        .on_conflict_do_nothing(index_elements=[table.c.practice_id, table.c.action, table.c.intent_key])
        .returning(table.c.id)
    )
    row_id = db.session.execute(stmt).scalar()
    db.session.commit()
    return row_id


def record(intent_id: int, outcome: Outcome) -> None:
    """Keep what the action answered (or give the key back when nothing happened). Commits."""
    db.session.rollback()  # whatever the action left uncommitted is not part of its outcome
    table = BillingIntent.__table__
    if not outcome.settled:
        db.session.execute(sa.delete(table).where(table.c.id == intent_id))
    else:
        db.session.execute(
            sa.update(table)
            .where(table.c.id == intent_id)
            .values(
                finished_at=utcnow(),
                message=(outcome.error or outcome.message or "")[:500] or None,
                is_error=outcome.error is not None,
                status_code=outcome.status,
                redirect_to=outcome.redirect_to,
            )
        )
    db.session.commit()


def release(intent_id: int) -> None:
    """The action crashed: forget the claim, so the form can be posted again."""
    db.session.rollback()
    db.session.execute(sa.delete(BillingIntent.__table__).where(BillingIntent.id == intent_id))
    db.session.commit()


def _finished(practice_id: int, action: str, key: str) -> tuple[bool, Outcome | None]:
    """(still claimed, its outcome once finished)."""
    db.session.rollback()  # a fresh snapshot each time
    row = db.session.execute(
        sa.select(BillingIntent).where(
            BillingIntent.practice_id == practice_id,
            BillingIntent.action == action[:64],
            BillingIntent.intent_key == key[:64],
        )
    ).scalar_one_or_none()
    if row is None:
        return False, None
    if row.finished_at is None:
        return True, None
    outcome = Outcome(
        message=None if row.is_error else row.message,
        error=row.message if row.is_error else None,
        status=row.status_code,
        redirect_to=row.redirect_to,
    )
    return True, outcome


def wait_for_outcome(practice_id: int, action: str, key: str) -> Outcome | None:
    """The first post's outcome; None when it gave the key back (run the action again)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        claimed, outcome = _finished(practice_id, action, key)
        if not claimed:
            return None
        if outcome is not None:
            return outcome
        if time.monotonic() > deadline:
            log.warning("billing intent still running practice_id=%s action=%s", practice_id, action)
            return STILL_RUNNING
        time.sleep(_POLL_SECONDS)


def run_once(practice_id: int, action: str, key: str, perform) -> Outcome:
    """``perform()`` (which returns an ``Outcome``) at most once for ``(practice, action, key)``."""
    for _ in range(3):  # a claim given back (form error) is claimed again by the next post
        intent_id = claim(practice_id, action, key)
        if intent_id is None:
            outcome = wait_for_outcome(practice_id, action, key)
            if outcome is None:
                continue
            return outcome
        try:
            outcome = perform()
        except BaseException:
            release(intent_id)
            raise
        record(intent_id, outcome)
        return outcome
    return STILL_RUNNING


def claim_effect(practice_id: int, action: str, key: str) -> bool:
    """The portal's own one-time effects: True for the first caller, inside its transaction.

    Not committed here: the claim commits (or rolls back) with the effect it guards.
    """
    table = BillingIntent.__table__
    stmt = (
        upsert_insert(table)
        .values(
            practice_id=practice_id,
            action=action[:64],
            intent_key=key[:64],
            created_at=utcnow(),
            finished_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=[table.c.practice_id, table.c.action, table.c.intent_key])
        .returning(table.c.id)
    )
    return db.session.execute(stmt).scalar() is not None
