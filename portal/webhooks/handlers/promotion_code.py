"""``promotion_code.*`` events: the admin page's mirror of the platform's promotion codes."""

from __future__ import annotations

from portal.promotions import codes


def changed(event: dict) -> None:
    """created / updated: times redeemed, active, as Stripe has them (older states never win)."""
    codes.apply_code_event(event["data"]["object"], event["created"])
