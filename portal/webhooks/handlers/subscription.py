"""``customer.subscription.*`` events: a practice's subscription."""

from __future__ import annotations

from portal.practices import mirror


def changed(event: dict) -> None:
    """created / updated / deleted / paused / resumed: the object carries the whole new state."""
    mirror.apply_subscription(event["data"]["object"], event["created"])
