"""``customer.subscription.*`` events: a practice's subscription."""

from __future__ import annotations

from portal.practices import discounts, mirror, trials, unpaid_invoices


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
