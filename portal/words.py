"""The words every page uses for a status and a moment, so the same thing reads the same everywhere.

The billing page's badge labels are the labels: the admin pages, History and the practice list use
these too. Registered as template filters by ``register_words``.
"""

from __future__ import annotations

from flask import Flask, current_app

from portal.formatting import format_date, format_moment, format_money

#: A practice's billing status as the billing page shows it, and its badge's colour.
BILLING_STATUS = {
    "DONE": ("Active", "badge-ok"),
    "PAST_DUE": ("Past due", "badge-warn"),
    "REQUIRED": ("Billing required", "badge-warn"),
    "CANCELLED": ("Cancelled", "badge-bad"),
    "INACTIVE": ("Inactive", "badge-muted"),
}

#: Stripe's subscription statuses in the same words.
SUBSCRIPTION_STATUS = {
    "active": "Active",
    "trialing": "Active (trial)",
    "past_due": "Past due",
    "unpaid": "Cancelled (unpaid)",
    "canceled": "Cancelled",
    "incomplete": "Awaiting first payment",
    "incomplete_expired": "Inactive (first payment never made)",
    "paused": "Inactive (paused)",
}

INVOICE_STATUS = {
    "paid": "Paid",
    "open": "Open",
    "draft": "Draft",
    "void": "Void",
    "uncollectible": "Uncollectible",
}


#: Card brands as their owners write them (Stripe sends them in lower case).
CARD_BRANDS = {
    "visa": "Visa",
    "mastercard": "Mastercard",
    "amex": "American Express",
    "discover": "Discover",
    "diners": "Diners Club",
    "jcb": "JCB",
    "unionpay": "UnionPay",
}

#: What a webhook event says happened, in a sentence (the admin pages; its type in the Stripe ids).
EVENT_SENTENCES = {
    "invoice.payment_failed": "A payment failed",
    "invoice.paid": "An invoice was paid",
    "invoice.payment_succeeded": "A payment went through",
    "invoice.payment_action_required": "A payment waits for the bank's check",
    "invoice.finalized": "An invoice was issued",
    "invoice.created": "An invoice was drafted",
    "invoice.voided": "An invoice was voided",
    "invoice.marked_uncollectible": "An invoice was marked uncollectible",
    "customer.subscription.created": "A subscription started",
    "customer.subscription.updated": "A subscription changed",
    "customer.subscription.deleted": "A subscription ended",
    "customer.subscription.trial_will_end": "A trial ends in 3 days",
    "checkout.session.completed": "A checkout was paid",
    "checkout.session.expired": "A checkout expired unpaid",
    "payment_intent.succeeded": "A card payment went through",
    "payment_intent.payment_failed": "A card payment failed",
    "payment_method.attached": "A card was saved",
    "payment_method.detached": "A card was removed",
    "customer.updated": "A customer's details changed",
    "customer.deleted": "A customer was deleted",
}


def card_brand(brand: str | None) -> str:
    return CARD_BRANDS.get((brand or "").lower(), (brand or "Card").replace("_", " ").title())


def card_words(card) -> str:
    """``Visa ending in 4242``: how a card is named in buttons, questions and screen readers."""
    return f"{card_brand(card.brand)} ending in {card.last4}"


def event_sentence(event_type: str | None) -> str:
    """``A payment failed`` for ``invoice.payment_failed``; an unlisted type in plain words."""
    if not event_type:
        return "An event"
    if event_type in EVENT_SENTENCES:
        return EVENT_SENTENCES[event_type]
    words = event_type.replace(".", " ").replace("_", " ")
    return words[:1].upper() + words[1:]


#: A webhook event's state in the inbox, as the admin pages say it.
EVENT_STATUS = {"received": "Waiting", "processed": "Processed", "failed": "Failed", "ignored": "Ignored"}


def event_status_label(status: object) -> str:
    value = str(getattr(status, "value", status))
    return EVENT_STATUS.get(value, value.capitalize())


def billing_status_label(status: object) -> str:
    value = getattr(status, "value", status)
    return BILLING_STATUS.get(str(value), (str(value).replace("_", " ").capitalize(), ""))[0]


def billing_status_badge(status: object) -> str:
    return BILLING_STATUS.get(str(getattr(status, "value", status)), ("", "badge-muted"))[1]


def subscription_status_label(status: str | None) -> str:
    if not status:
        return "None"
    return SUBSCRIPTION_STATUS.get(status, status.replace("_", " ").capitalize())


def invoice_status_label(status: str | None) -> str:
    return INVOICE_STATUS.get(status or "", (status or "—").capitalize())


#: Stripe's subscription statuses after which nothing renews any more.
ENDED_SUBSCRIPTION = frozenset({"canceled", "unpaid", "incomplete_expired"})


def renewal_line(practice) -> tuple[str, str] | None:
    """The renewal line as the subscription's status says it, the same on every page:
    ("Next renewal", day), ("Ends on", day) once cancelled at period end, ("Ended", day or "")
    once Stripe ended it (after failed renewals it ends before its period's end: no day then);
    None before any subscription."""
    ends = practice.cancel_at or (practice.current_period_end if practice.cancel_at_period_end else None)
    if practice.subscription_status in ENDED_SUBSCRIPTION:
        return ("Ended", format_date(ends) if ends else "")
    if not practice.subscription_live or not practice.current_period_end:
        return None
    if ends:
        return ("Ends on", format_date(ends))
    if practice.pause_behavior:
        resumes = practice.pause_resumes_at
        return (
            "Collection paused",
            f"nothing is charged until {format_date(resumes)}" if resumes else "nothing is charged",
        )
    if practice.subscription_status == "trialing" and practice.trial_end:
        return (
            "Trial until",
            f"{format_date(practice.trial_end)}, then {plan_price_words(practice.plan, practice.currency)}",
        )
    return ("Next renewal", format_date(practice.current_period_end))


#: A plan's price setting and how often it is charged (``config.py``).
PLAN_PRICES = {
    "monthly": ("BILLING_MONTHLY_PRICE", "every month"),
    "semiannual": ("BILLING_SEMIANNUAL_PRICE", "every 6 months"),
}


def plan_price_words(plan: object, currency: str | None = None) -> str:
    """``$99.00 every month``: what a plan charges in ``currency`` (a practice's; None: the
    default ``BILLING_CURRENCY``), from the settings (``BILLING_VND_MONTHLY_PRICE`` for VND)."""
    setting, every = PLAN_PRICES.get(
        str(getattr(plan, "value", plan)), ("BILLING_MONTHLY_PRICE", "every month")
    )
    cfg = current_app.config
    currency = (currency or cfg["BILLING_CURRENCY"]).lower()
    if currency != cfg["BILLING_CURRENCY"].lower():
        setting = setting.replace("BILLING_", f"BILLING_{currency.upper()}_", 1)
    return f"{format_money(cfg[setting], currency)} {every}"


def open_invoices_words(still_open) -> str:
    """``3 invoices are still open: €297.00 in all.`` (``still_open``: count, total, currency)."""
    count, total, currency = still_open
    if count == 1:
        return f"1 invoice is still open: {format_money(total, currency)}."
    return f"{count} invoices are still open: {format_money(total, currency)} in all."


def register_words(app: Flask) -> None:
    app.add_template_filter(format_moment, "moment")
    app.add_template_filter(billing_status_label, "billing_status")
    app.add_template_filter(billing_status_badge, "billing_status_badge")
    app.add_template_filter(subscription_status_label, "subscription_status")
    app.add_template_filter(invoice_status_label, "invoice_status")
    app.add_template_filter(event_status_label, "event_status")
    app.add_template_filter(open_invoices_words, "open_invoices_words")
    app.add_template_global(renewal_line)
    app.add_template_global(plan_price_words)
    app.add_template_filter(card_brand, "card_brand")
    app.add_template_filter(card_words, "card_words")
    app.add_template_filter(event_sentence, "event_sentence")
