"""``payment_method.*`` events: the saved-card mirror."""

from __future__ import annotations

from portal.wallet import mirror


def changed(event: dict) -> None:
    """attached / updated / automatically_updated: the object carries the whole new state.

    An object without a customer (e.g. an update after a detach) removes the card.
    """
    mirror.upsert_payment_method(event["data"]["object"], event["created"])


def detached(event: dict) -> None:
    mirror.remove_payment_method(event["data"]["object"]["id"], event["created"])
