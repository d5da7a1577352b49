"""Subscription schedules: a plan switch at the end of the period (issue 17).

Stripe's way to change a subscription later: a schedule made from the subscription
(``from_subscription``), whose phases are then set (this period as it is, then the new price);
``release`` drops the schedule and leaves the subscription as it is (the "Undo").
https://docs.stripe.com/billing/subscriptions/subscription-schedules/use-cases
"""

from __future__ import annotations

import stripe

from portal.gateway.gateway import call_stripe, idempotency_key, stripe_client
from portal.gateway.read_first import remembered


def retrieve_schedule(schedule_id: str) -> stripe.SubscriptionSchedule:
    return remembered(
        "subscription_schedule.retrieve",
        schedule_id,
        lambda: call_stripe(
            "subscription_schedule.retrieve",
            lambda: stripe_client().v1.subscription_schedules.retrieve(schedule_id),
            schedule_id=schedule_id,
        ),
    )


def schedule_from_subscription(subscription_id: str, key: tuple[object, ...]) -> stripe.SubscriptionSchedule:
    return call_stripe(
        "subscription_schedule.create",
        lambda: stripe_client().v1.subscription_schedules.create(
            {"from_subscription": subscription_id},
            {"idempotency_key": idempotency_key("schedule-create", *key)},
        ),
        subscription_id=subscription_id,
    )


def update_schedule(schedule_id: str, params: dict, key: tuple[object, ...]) -> stripe.SubscriptionSchedule:
    return call_stripe(
        "subscription_schedule.update",
        lambda: stripe_client().v1.subscription_schedules.update(
            schedule_id, params, {"idempotency_key": idempotency_key("schedule-update", *key)}
        ),
        schedule_id=schedule_id,
    )


def release_schedule(schedule_id: str, key: tuple[object, ...]) -> stripe.SubscriptionSchedule:
    return call_stripe(
        "subscription_schedule.release",
        lambda: stripe_client().v1.subscription_schedules.release(
            schedule_id, {}, {"idempotency_key": idempotency_key("schedule-release", *key)}
        ),
        schedule_id=schedule_id,
    )
