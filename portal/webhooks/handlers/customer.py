"""``customer.*`` events: keep the mirror of our customers in step with Stripe."""

from __future__ import annotations

from portal.practices import balance
from portal.wallet import mirror


def updated(event: dict) -> None:
    """The default payment method may have changed (name and email flow the other way: we push them);
    a practice's balance too (credit from a plan switched down, used by its next invoices)."""
    mirror.apply_customer(event["data"]["object"], event["created"])
    balance.apply_customer_balance(event["data"]["object"], event["created"])


def deleted(event: dict) -> None:
    """Deleted at Stripe (e.g. from the Dashboard): unlink the user and forget the cards."""
    mirror.remove_customer(event["data"]["object"]["id"], event["created"])
