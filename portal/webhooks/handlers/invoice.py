"""``invoice.*`` events: a practice's invoices, onboarding fee, payment failures, receipts, reminders."""

from __future__ import annotations

from portal.practices import invoice_mirror


def changed(event: dict) -> None:
    """Mirror, onboarding, payment failures, authentication requests, emails, the receipt of a paid one."""
    invoice_mirror.apply_invoice(event["data"]["object"], event["created"], event["type"])


def upcoming(event: dict) -> None:
    """The renewal reminder email (at most once per event: the outbox keys it by the event id)."""
    invoice_mirror.remind_renewal(event["data"]["object"], event["created"])


def finalization_failed(event: dict) -> None:
    invoice_mirror.finalization_failed(event["data"]["object"], event["created"])
