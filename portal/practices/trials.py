"""A practice's free trial: the email Stripe's ``customer.subscription.trial_will_end`` causes.

Stripe sends the event three days before the trial ends. The billing managers get one email per
subscription (the outbox keys it by the subscription's id, so a duplicate, a replay or a second
notice of the same trial sends nothing) saying when the trial ends and what will be charged then.
The event applies the subscription like every ``customer.subscription.*`` event first; only a
subscription still on trial, as the practice's mirror holds it after that, is announced: a notice
arriving after the trial ended, the subscription was cancelled, or the practice closed, says
nothing.
"""

from __future__ import annotations

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l

from portal.formatting import format_date, format_money, lazy_date, money_token
from portal.gateway.shapes import as_dict, subscription_item, subscription_price
from portal.mail.outbox import caused_by
from portal.practices import audit, mirror, notifications
from portal.practices.models import Practice


def _still_on_trial(practice: Practice | None, subscription_id: str | None) -> bool:
    return (
        practice is not None
        and practice.stripe_subscription_id == subscription_id
        and practice.on_trial
        and not (practice.cancel_at_period_end or practice.cancel_at or practice.deactivated)
    )


def charge_words(subscription: dict, stored: bool = False) -> str:
    """``$99.00 every month``: what the plan charges when the trial ends, from Stripe's price
    (``stored``: the amount as a ``money_token``, for History to say in its reader's language)."""
    price = subscription_price(subscription)
    quantity = int(subscription_item(subscription).get("quantity") or 1)
    recurring = price.get("recurring") or {}
    count, interval = int(recurring.get("interval_count") or 1), recurring.get("interval") or "month"
    every = f"every {interval}" if count == 1 else f"every {count} {interval}s"
    say = money_token if stored else format_money
    return f"{say((price.get('unit_amount') or 0) * quantity, price.get('currency') or 'usd')} {every}"


def announce_trial_end(obj: object, event_created: int) -> Practice | None:
    """``customer.subscription.trial_will_end``: the subscription applied, then the email, once."""
    subscription = as_dict(obj)
    practice = mirror.apply_subscription(subscription, event_created)
    if not _still_on_trial(practice, subscription.get("id")):
        return practice
    ends_on = format_date(practice.trial_end)
    with caused_by(f"trial-ending:{subscription['id']}"):
        sent = notifications.notify(
            practice,
            _l(
                "%(practice)s: the free trial ends on %(day)s",
                practice=practice.name,
                day=lazy_date(practice.trial_end),
            ),
            "practice_trial_ending",
            ends_on=lazy_date(practice.trial_end),
            charge=LazyString(charge_words, subscription),
        )
    if sent:
        with audit.written_for_event(event_created):
            audit.record(
                practice,
                "trial_ending_notice",
                f"the trial ends on {ends_on}, then {charge_words(subscription, stored=True)}",
            )
    return practice
