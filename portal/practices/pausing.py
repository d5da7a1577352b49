"""Pausing a practice's payment collection (a platform admin's decision) and resuming it.

A pause is Stripe's ``pause_collection`` with ``behavior: void``: the subscription stays ``active``,
each renewal's invoice is created and voided at once, so nothing is charged while the practice
keeps its access (billing status ``DONE``; the billing page and a banner say collection is paused).
An optional resume day becomes ``resumes_at``: Stripe resumes collecting by itself then, and its
``customer.subscription.updated`` clears the pause here. A pause made in Stripe's dashboard is
mirrored from the same event (``mirror``), with a History line in Stripe's name.

Stripe first: when it refuses, or provably never got the request, nothing changes here and the
admin is told so; when the request reached it unanswered, the pause is written as asked and
confirmed later (``unconfirmed``), never reported as "nothing changed". Two admins
at once take turns on the practice's row (``closing.locked_practice``): the second is told
"already paused by ..." and nothing is written twice.
"""

from __future__ import annotations

import calendar
import datetime as dt

from flask_babel import lazy_gettext as _l

from portal.extensions import db
from portal.gateway.errors import BillingError
from portal.gateway.gateway import stripe_time
from portal.practices import audit, closing, mirror, unconfirmed
from portal.practices.errors import CLOSED, PracticeError
from portal.practices.models import Practice
from portal.users.models import User

#: The behavior the platform pauses with: renewals are voided, nothing is owed for them.
BEHAVIOR = "void"
NO_REASON = _l("Say why collection is paused; the practice's History keeps it.")
NOT_LIVE = _l(
    "%(name)s has no live subscription, so there is no payment collection to pause. Nothing was changed."
)
ENDED = _l("%(name)s has no live subscription, so nothing is collected to resume. Nothing was changed.")
#: ``by``: " by <admin>" (``closing.by_whom``), or "".
ALREADY_PAUSED = _l("Payment collection of %(name)s is already paused%(by)s. Nothing was changed.")
NOT_PAUSED = _l("Payment collection of %(name)s is not paused. Nothing was changed.")
NOT_PAUSED_RESUMED = _l("Payment collection of %(name)s is not paused (resumed%(by)s). Nothing was changed.")
NOT_CHANGED = _l("Stripe did not make the change, so nothing changed.")
RESUME_IN_PAST = _l("Choose a resume day after today, or leave it empty.")
PAUSED = _l(
    "Payment collection is paused: renewals are voided at Stripe and nothing is charged; access continues."
)
RESUMED = _l("Payment collection is resumed: the next renewal is charged.")


def pause_reason_problem(reason: str | None) -> str | None:
    """What is wrong with a pause reason (said under the field), or None: the closing rule."""
    reason = (reason or "").strip()
    if not reason:
        return str(NO_REASON)
    if len(reason) > closing.REASON_MAX:
        return closing.REASON_TOO_LONG.format(most=closing.REASON_MAX, count=len(reason))
    return None


def resume_time(resumes_on: dt.date | None, today: dt.date) -> int | None:
    """The resume day as Stripe's ``resumes_at`` (its start, UTC); refused unless after ``today``."""
    if resumes_on is None:
        return None
    if resumes_on <= today:
        raise PracticeError(str(RESUME_IN_PAST), status=422)
    return calendar.timegm(resumes_on.timetuple())


def _update_at_stripe(practice: Practice, pause: dict | str, asked) -> object:
    """Stripe first. A refusal, or a request Stripe provably never got: nothing changed. A request
    that reached Stripe unanswered may have been applied: ``asked`` writes what the admin asked (who
    and why) as the practice's unconfirmed call, and the page says so (``unconfirmed.OutcomeUnknown``);
    the same call with the same key later learns Stripe's outcome."""
    key = ("pause-collection", practice.stripe_ref, practice.stripe_subscription_id, practice.billing_version)
    call = unconfirmed.subscription_update(practice.stripe_subscription_id, {"pause_collection": pause}, key)
    try:
        return unconfirmed.send(practice, call, asked)
    except unconfirmed.OutcomeUnknown:
        raise
    except BillingError as error:
        raise PracticeError(f"{NOT_CHANGED} {error.message}", status=error.status) from error


def pause_collection(practice_id: int, admin: User, reason: str, resumes_on: dt.date | None = None) -> str:
    """Pause the practice's payment collection at Stripe (renewals voided, access kept); returns what
    the admin is told. Refused without a reason, with one too long, a resume day not in the future,
    a closed practice, no live subscription, or when already paused."""
    problem = pause_reason_problem(reason)
    if problem:
        raise PracticeError(problem, status=422)
    reason = reason.strip()
    resumes_at = resume_time(resumes_on, dt.datetime.now(dt.UTC).date())
    practice = closing.locked_practice(practice_id)
    if practice.deactivated:
        raise PracticeError(CLOSED, status=409)
    if not practice.subscription_live or practice.subscription_status == "incomplete":
        raise PracticeError(NOT_LIVE % {"name": practice.name}, status=409)
    if practice.pause_behavior is not None:
        by = closing.by_whom(practice, "collection_paused_by_admin")
        raise PracticeError(ALREADY_PAUSED % {"name": practice.name, "by": by}, status=409)
    pause = {"behavior": BEHAVIOR, **({"resumes_at": resumes_at} if resumes_at else {})}

    def asked() -> None:  # said here, by whom and why; Stripe's answer (and its echo) changes no more
        practice.pause_behavior = BEHAVIOR
        practice.pause_resumes_at = mirror.to_datetime(resumes_at)
        practice.pause_reason = reason
        until = f" until {resumes_on:%Y-%m-%d}" if resumes_on else ""
        detail = f"{closing.admin_name(admin)}{until}: {reason}"
        audit.record(practice, "collection_paused_by_admin", detail, actor_id=admin.id)

    subscription = _update_at_stripe(practice, pause, asked)
    asked()
    mirror.apply_subscription(subscription, stripe_time(subscription), fresh=True)
    db.session.commit()
    return str(PAUSED)


def resume_collection(practice_id: int, admin: User) -> str:
    """Collect payments again from the next renewal; refused when collection is not paused."""
    practice = closing.locked_practice(practice_id)
    if not practice.subscription_live:  # ended: nothing is collected any more, paused or not
        raise PracticeError(ENDED % {"name": practice.name}, status=409)
    if practice.pause_behavior is None:
        by = closing.by_whom(practice, "collection_resumed_by_admin")
        refusal = NOT_PAUSED_RESUMED if by else NOT_PAUSED
        raise PracticeError(refusal % {"name": practice.name, "by": by}, status=409)

    def asked() -> None:
        practice.pause_behavior = practice.pause_resumes_at = practice.pause_reason = None
        audit.record(practice, "collection_resumed_by_admin", closing.admin_name(admin), actor_id=admin.id)

    subscription = _update_at_stripe(practice, "", asked)
    asked()
    mirror.apply_subscription(subscription, stripe_time(subscription), fresh=True)
    db.session.commit()
    return str(RESUMED)
