"""Apply Stripe state (webhook payloads or API results) to a practice's subscription. Never commits.

Webhook handlers and the portal's own actions call the same functions:

- ``apply_subscription(obj, event_created)`` for customer.subscription.* events,
- ``invoice_mirror.apply_invoice(obj, event_created, event_type)`` for invoice.* events,
- ``checkout_mirror.fulfil_checkout_session(obj, event_created)`` for checkout.session.completed
  and the checkout success page.

Each takes a plain dict or an SDK object and returns the practice it touched
(or None when the object is not a practice's). ``event_created`` is the Stripe
time of the state; state older than the practice's ``stripe_state_at`` does not
overwrite newer state. Facts that only ever become true (the onboarding fee was
paid) are applied whatever the order. ``fresh=True`` marks an object just
returned by the Stripe API: it is the newest state there is.
"""

from __future__ import annotations

import datetime as dt
import logging

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from portal.extensions import db
from portal.formatting import lazy_date
from portal.gateway import subscriptions as stripe_subscriptions
from portal.gateway.errors import NotFound, StripeUnavailable
from portal.gateway.gateway import stripe_time
from portal.gateway.shapes import (
    as_dict,
    object_id,
    subscription_period,
    subscription_price,
)
from portal.practices import audit, duplicates, endings, notifications, schedule_mirror
from portal.practices.models import Practice
from portal.practices.plans import plan_from_price
from portal.practices.status import CANCELLED_STATES, INACTIVE_STATES

log = logging.getLogger(__name__)


ENDED_STATES = CANCELLED_STATES | INACTIVE_STATES


def to_datetime(timestamp: int | None) -> dt.datetime | None:
    if timestamp is None:
        return None
    return dt.datetime.fromtimestamp(int(timestamp), dt.UTC).replace(tzinfo=None)


def find_practice(metadata: dict | None, customer: object = None, *, lock: bool = True) -> Practice | None:
    """By ``metadata.practiceId`` first, then by the Stripe customer id.

    The row is locked until the caller's transaction ends (FOR UPDATE; SQLite serializes
    writers anyway) and read fresh: two events of one practice applied at once on
    PostgreSQL then take turns, and the second sees the first's state before comparing times.
    ``lock=False``: only to look (a webhook's reads before its transaction).
    """
    practice_id = (metadata or {}).get("practiceId")
    customer_id = object_id(customer)
    if practice_id and str(practice_id).isdigit():
        practice = db.session.get(Practice, int(practice_id), with_for_update=lock, populate_existing=True)
        # The id alone could name a practice of another database sharing the Stripe account.
        if practice is not None and (
            customer_id is None or practice.stripe_customer_id in (None, customer_id)
        ):
            return practice
    if customer_id:
        query = sa.select(Practice).where(Practice.stripe_customer_id == customer_id)
        return db.session.scalar(
            (query.with_for_update() if lock else query).execution_options(populate_existing=True)
        )
    return None


def record_onboarding_paid(
    practice: Practice, paid: bool, carries_onboarding: bool, paid_at: int, source_id: str | None
) -> bool:
    """The one rule for "onboarding fee paid": a paid payment that carried the fee marks it paid,
    once, with a History line. True if it did so now.

    The fee rides on a subscription's first invoice (``checkout.start_checkout`` adds it to the
    Checkout until it is paid), so the invoice, the webhook and reconciliation all prove it.
    """
    if not (paid and carries_onboarding) or practice.onboarding_paid_at is not None:
        return False
    practice.onboarding_paid_at = to_datetime(paid_at)
    audit.record(practice, "onboarding_paid", source_id)
    return True


def is_stale(practice: Practice, event_created: int, fresh: bool) -> bool:
    return not fresh and event_created < practice.stripe_state_at


def stamp(practice: Practice, event_created: int) -> None:
    practice.stripe_state_at = max(practice.stripe_state_at or 0, int(event_created))


def adopt_subscription(practice: Practice, subscription_id: str | None, status: str | None) -> bool:
    """Is ``subscription_id`` the practice's subscription? Takes a new one only when the old one ended.

    Late events about an earlier, ended subscription are thereby ignored. A second live one
    (two checkouts paid at once) is settled at Stripe by ``duplicates.resolve``.
    """
    if subscription_id is None:
        return False
    current = practice.stripe_subscription_id
    if current == subscription_id:
        return True
    if (
        current is None
        or practice.subscription_status in ENDED_STATES
        or practice.subscription_status is None
    ):
        if status in ENDED_STATES and current is not None:
            return False  # an old subscription's ending never replaces the current one
        _take_subscription(practice, subscription_id, status)
        return True
    if status in ENDED_STATES:
        return False
    return _settle_second_subscription(practice, subscription_id)


def _take_subscription(practice: Practice, subscription_id: str, status: str | None) -> None:
    practice.stripe_subscription_id = subscription_id
    practice.subscription_status = status
    practice.cancel_at_period_end = False
    practice.cancel_at = None
    practice.cancellation_reason = None
    practice.schedule_id, practice.pending_plan, practice.pending_plan_at = None, None, None
    audit.record(practice, "subscription_started", subscription_id)


def _settle_second_subscription(practice: Practice, subscription_id: str) -> bool:
    """Another live subscription while the practice has one: keep one at Stripe, cancel the rest.

    Always False: when the kept one is not the current one, it replaces it here, applied as
    Stripe holds it now (the event at hand may be older than the practice's state).
    """
    if duplicates.already_cancelled(practice, subscription_id):
        return False
    kept = duplicates.resolve(practice)
    if kept is not None and kept["id"] != practice.stripe_subscription_id:
        _take_subscription(practice, kept["id"], kept.get("status"))
        apply_subscription(kept, practice.stripe_state_at or 0, fresh=True)
    return False


def rederive_status(practice: Practice) -> None:
    """Re-derive the status; an audit line when it changed."""
    before = practice.billing_status
    after = practice.refresh_billing_status()
    if before != after:
        audit.record(practice, "status_changed", f"{before} → {after}")
        if after in ("CANCELLED", "INACTIVE"):
            practice.checkout_generation = (practice.checkout_generation or 0) + 1
            practice.checkout_session_id = None
    db.session.flush()


@audit.dated_by_event
def apply_subscription(obj: object, event_created: int, *, fresh: bool = False) -> Practice | None:
    """customer.subscription.created/updated/deleted/paused/resumed, or a subscription from the API."""
    sub = as_dict(obj)
    practice = find_practice(sub.get("metadata"), sub.get("customer"))
    if practice is None:
        log.info("subscription %s belongs to no practice", sub.get("id"))
        return None
    if not adopt_subscription(practice, sub.get("id"), sub.get("status")):
        log.info(
            "ignoring subscription %s: practice %s has %s",
            sub.get("id"),
            practice.id,
            practice.stripe_subscription_id,
        )
        return practice
    if not fresh and (current := settled_by_stripe(practice, sub, event_created)) is not None:
        return apply_subscription(current, stripe_time(current), fresh=True)
    if is_stale(practice, event_created, fresh) or _goes_back(practice, sub.get("status"), event_created):
        log.info("ignoring stale subscription state practice_id=%s", practice.id)
        _keep_newer_period(practice, sub)
        return practice
    stamp(practice, event_created)

    was_scheduled = practice.cancel_at_period_end or practice.cancel_at is not None
    was_ended = practice.subscription_status in CANCELLED_STATES
    status = sub.get("status")
    practice.subscription_status = status
    practice.cancel_at_period_end = bool(sub.get("cancel_at_period_end"))
    practice.cancel_at = to_datetime(sub.get("cancel_at"))
    start, end = subscription_period(sub)
    practice.current_period_start = to_datetime(start) or practice.current_period_start
    practice.current_period_end = to_datetime(end) or practice.current_period_end
    practice.plan = plan_from_price(subscription_price(sub)) or practice.plan
    practice.latest_invoice_id = object_id(sub.get("latest_invoice")) or practice.latest_invoice_id
    _apply_trial_and_pause(practice, sub)
    comment = (sub.get("cancellation_details") or {}).get("comment")
    if comment:
        practice.cancellation_reason = comment[:500]
    if status not in ENDED_STATES:  # a switch waiting for the period's end, read fresh from Stripe
        schedule_mirror.follow_subscription(practice, sub, quiet=fresh)
    else:  # an ended subscription switches to nothing (Stripe cancels its schedule with it)
        practice.schedule_id, practice.pending_plan, practice.pending_plan_at = None, None, None
    if status in ("active", "trialing"):
        # Active means the latest invoice is paid: nothing is failing any more.
        practice.last_payment_error = None
        practice.action_required_invoice_id = None

    if status not in ENDED_STATES:
        _say_cancellation_change(practice, was_scheduled)
    rederive_status(practice)
    if not was_ended:  # the end seen now; the outbox keeps it to one email per subscription anyway
        endings.announce_end(practice, sub, to_datetime(sub.get("ended_at") or event_created))
    return practice


def _say_cancellation_change(practice: Practice, was_scheduled: bool) -> None:
    """A cancellation at the period's end newly set (History and an email) or withdrawn (History)."""
    now_scheduled = practice.cancel_at_period_end or practice.cancel_at is not None
    if now_scheduled and not was_scheduled:
        ends = practice.cancel_at or practice.current_period_end
        audit.record(practice, "cancellation_scheduled", f"ends {ends:%Y-%m-%d}" if ends else None)
        notifications.notify(
            practice,
            _l("%(practice)s: subscription ends on %(day)s", practice=practice.name, day=lazy_date(ends))
            if ends
            else _l("Subscription cancelled"),
            "practice_cancellation_scheduled",
            ends_on=lazy_date(ends) if ends else _l("the end of the period"),
        )
    elif was_scheduled and not now_scheduled:
        audit.record(practice, "cancellation_withdrawn")


def _apply_trial_and_pause(practice: Practice, sub: dict) -> None:
    """The trial's end, and paused collection as Stripe has it (a platform admin's pause here, or
    one made in Stripe's dashboard, or its ``resumes_at`` passing): History says a change once."""
    practice.trial_end = to_datetime(sub.get("trial_end"))
    pause = sub.get("pause_collection") or {}
    behavior, resumes = pause.get("behavior"), to_datetime(pause.get("resumes_at"))
    if behavior and not practice.pause_behavior:
        audit.record(practice, "collection_paused", f"resumes {resumes:%Y-%m-%d}" if resumes else None)
    elif practice.pause_behavior and not behavior:
        audit.record(practice, "collection_resumed")
        practice.pause_reason = None
    practice.pause_behavior, practice.pause_resumes_at = behavior, resumes


def _disagrees(practice: Practice, sub: dict) -> bool:
    """Does an older state of the subscription say something else than the practice holds?

    The practice's clock also moves with invoice events, which say nothing of the subscription's
    own fields: a renewal's invoice (an hour after its ``customer.subscription.updated``) delivered
    first makes that update look old, yet it may carry what nothing else tells (a trial ended,
    collection resumed, a schedule's new plan). Either it is truly old or it is news: reading the
    subscription from Stripe settles which."""
    pause = (sub.get("pause_collection") or {}).get("behavior")
    return (
        sub.get("status") != practice.subscription_status
        or bool(sub.get("cancel_at_period_end")) != bool(practice.cancel_at_period_end)
        or to_datetime(sub.get("cancel_at")) != practice.cancel_at
        or pause != practice.pause_behavior
        or to_datetime(sub.get("trial_end")) != practice.trial_end
        or plan_from_price(subscription_price(sub)) not in (None, practice.plan)
    )


def settled_by_stripe(practice: Practice, sub: dict, event_created: int) -> object | None:
    """The subscription read from Stripe when the event's state says something else than the
    practice holds and is older, or of the same second: Stripe's clock counts whole seconds, so of
    two states of one second which is newer is unknown (attack 19 A15: a switch's payment failed and
    the practice went Past due; the ``customer.subscription.updated`` of that second, taken before
    the failure, made it Active again for a moment, a "recovery" on the numbers page). None when no
    read is needed, or it settles nothing (``_as_stripe_has_it``). The webhook's read-first step
    calls it too, so the read is made before the event's transaction
    (``portal.gateway.read_first``) and the handler is served its answer, or its failure."""
    same_second_or_older = practice.stripe_state_at is not None and event_created <= practice.stripe_state_at
    if not (same_second_or_older and _disagrees(practice, sub)):
        return None
    return _as_stripe_has_it(sub, older=is_stale(practice, event_created, False))


def _as_stripe_has_it(sub: dict, *, older: bool) -> object | None:
    """The subscription read from Stripe; None when Stripe has no such subscription (the event's
    state is then all there is). Stripe unreachable: an ``older`` state waits for it (the error
    goes up, the event is sent again); one of the practice's own second is taken at its word, as
    before that read existed, so a subscription's end still applies while Stripe is down."""
    log.info("subscription state differs: reading subscription %s from Stripe", sub.get("id"))
    try:
        return stripe_subscriptions.retrieve_subscription(sub["id"])
    except NotFound:
        return None
    except StripeUnavailable:
        if older:
            raise
        log.warning("Stripe unreachable: subscription %s taken as its event says", sub.get("id"))
        return None


def _keep_newer_period(practice: Practice, sub: dict) -> None:
    """A renewal's ``customer.subscription.updated`` may arrive after the invoice events it caused
    (Stripe charges a renewal about an hour after moving the period): the period only moves
    forward, so a later one is kept even from an event older than the practice's state. Only on the
    plan the practice is on: a switch down now starts a shorter period, which an older event of the
    longer plan never undoes."""
    if practice.plan is not None and plan_from_price(subscription_price(sub)) not in (None, practice.plan):
        return
    start, end = subscription_period(sub)
    later = to_datetime(end)
    if later is None or (practice.current_period_end is not None and later <= practice.current_period_end):
        return
    practice.current_period_start = to_datetime(start) or practice.current_period_start
    practice.current_period_end = later


#: Subscription statuses Stripe never leaves.
TERMINAL_STATES = frozenset({"canceled", "incomplete_expired"})


def _goes_back(practice: Practice, status: str | None, event_created: int) -> bool:
    """A state from the same second as ours that a subscription can never return to.

    Stripe's events of one second (created as incomplete, then active) carry the same
    ``created``: on such a tie, ``incomplete`` never replaces a later status, ``trialing`` never
    replaces what a trial ends in (its end and the first plan invoice share a second), and nothing
    replaces an ended one.
    """
    if event_created != practice.stripe_state_at or practice.subscription_status is None:
        return False
    if practice.subscription_status in TERMINAL_STATES:
        return status != practice.subscription_status
    if status == "trialing" and practice.subscription_status in ("active", "past_due", "unpaid"):
        return True
    return status == "incomplete" and practice.subscription_status != "incomplete"
