"""``credit_note.created``: the refunds a credit note made on a practice invoice (read fresh from
Stripe), recorded once with who made the note and why (its metadata)."""

from __future__ import annotations

from portal.gateway import refunds as stripe_refunds
from portal.practices import refunds as invoice_refunds


def read_first(event: dict) -> None:
    """Before the event's transaction: the note ``created`` reads (``portal.gateway.read_first``)."""
    stripe_refunds.retrieve_credit_note(event["data"]["object"]["id"])


def created(event: dict) -> None:
    note = stripe_refunds.retrieve_credit_note(event["data"]["object"]["id"])
    invoice_refunds.credit_note_changed(note)
