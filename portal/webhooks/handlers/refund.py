"""``refund.*`` and ``charge.refunded`` events: a refund of a shop order or of a practice invoice,
whoever made it (the portal, or Stripe's dashboard), recorded once.

The refund is read fresh from Stripe (an event may be late: its copy can be older than the refund's
status now), and a charge's refunds are listed (its ``refunds`` are not in the event since API
version 2022-11-15). Each is recorded against the order its PaymentIntent paid, else the practice
invoice it paid; the feature's one insert per refund id makes duplicates and any order harmless.
"""

from __future__ import annotations

from portal.gateway import refunds as stripe_refunds
from portal.gateway.shapes import as_dict
from portal.practices import refunds as invoice_refunds
from portal.shop import refunds as order_refunds


def _apply(refund: dict) -> None:
    if not order_refunds.refund_changed(refund):
        invoice_refunds.refund_changed(refund)


def read_first(event: dict) -> None:
    """Before the event's transaction: the refund ``changed`` reads (``portal.gateway.read_first``)."""
    stripe_refunds.retrieve_refund(event["data"]["object"]["id"])


def charge_read_first(event: dict) -> None:
    """Before the event's transaction: the charge's refunds ``charge_refunded`` reads."""
    stripe_refunds.charge_refunds(event["data"]["object"]["id"])


def changed(event: dict) -> None:
    """``refund.created`` / ``refund.updated``."""
    _apply(as_dict(stripe_refunds.retrieve_refund(event["data"]["object"]["id"])))


def charge_refunded(event: dict) -> None:
    """``charge.refunded``: every refund of the charge."""
    for refund in stripe_refunds.charge_refunds(event["data"]["object"]["id"]):
        _apply(refund)
