"""``invoice.*`` events: a practice's invoices, onboarding fee, payment failures, receipts, reminders."""

from __future__ import annotations

from portal.practices import invoice_mirror, unpaid_invoices


def changed(event: dict) -> None:
    """Mirror, onboarding, payment failures, authentication requests, emails, the receipt of a paid one;
    an invoice its ended subscription left open (its events may come after the end) is settled."""
    practice = invoice_mirror.apply_invoice(event["data"]["object"], event["created"], event["type"])
    if practice is not None:
        unpaid_invoices.settle(practice)


def upcoming(event: dict) -> None:
    """The renewal reminder email (at most once per event: the outbox keys it by the event id)."""
    invoice_mirror.remind_renewal(event["data"]["object"], event["created"])


def finalization_failed(event: dict) -> None:
    invoice_mirror.finalization_failed(event["data"]["object"], event["created"])
