"""``subscription_schedule.*`` events: a practice's plan switch at the end of its period (issue 17).

Created, updated, released, canceled or completed, the handler reads the schedule fresh from Stripe
and mirrors what it says now, so any order of these events (and of the subscription's own) ends in
Stripe's state, and a repeat changes nothing.
"""

from __future__ import annotations

from portal.gateway import schedules as stripe_schedules
from portal.practices import mirror, schedule_mirror


def read_first(event: dict) -> None:
    """Before the event's transaction: the schedule ``changed`` reads (``portal.gateway.read_first``)."""
    schedule = event["data"]["object"]
    if mirror.find_practice(schedule.get("metadata"), schedule.get("customer"), lock=False) is not None:
        stripe_schedules.retrieve_schedule(schedule["id"])


def changed(event: dict) -> None:
    schedule = event["data"]["object"]
    practice = mirror.find_practice(schedule.get("metadata"), schedule.get("customer"))
    if practice is not None:
        schedule_mirror.refresh(practice, schedule.get("id"))
