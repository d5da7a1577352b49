"""``customer.subscription.*`` events: a practice's subscription."""

from __future__ import annotations

from portal.gateway import discounts as stripe_discounts
from portal.gateway import schedules as stripe_schedules
from portal.practices import discounts, mirror, schedule_mirror, trials, unpaid_invoices


def read_first(event: dict) -> None:
    """Before the event's transaction: the subscription (a disagreeing state, older or of the same
    second as the practice's), the schedule and the discounts ``changed`` reads from Stripe
    (``portal.gateway.read_first``), so an outage never holds the database while Stripe is awaited."""
    sub = event["data"]["object"]
    practice = mirror.find_practice(sub.get("metadata"), sub.get("customer"), lock=False)
    if practice is None:
        return
    mirror.settled_by_stripe(practice, sub, event["created"])  # an older state waits for Stripe
    schedule_id = schedule_mirror.schedule_to_read(practice, sub)
    if schedule_id and sub.get("status") not in mirror.ENDED_STATES:
        stripe_schedules.retrieve_schedule(schedule_id)
    if discounts.discounts_to_read(practice, sub):
        stripe_discounts.subscription_discounts(sub["id"])


def changed(event: dict) -> None:
    """created / updated / deleted / paused / resumed: the object carries the whole new state; an
    ended one's open invoices are settled at Stripe (``portal.practices.unpaid_invoices``)."""
    practice = mirror.apply_subscription(event["data"]["object"], event["created"])
    discounts.refresh_discounts(practice, event["data"]["object"])  # its discounts, read fresh if new
    if practice is not None:
        unpaid_invoices.settle(practice)


def trial_will_end(event: dict) -> None:
    """Three days before a trial ends: the subscription applied, the billing managers emailed once."""
    trials.announce_trial_end(event["data"]["object"], event["created"])
