"""The words every page uses for a status and a moment, so the same thing reads the same everywhere.

The billing page's badge labels are the labels: the admin pages, History and the practice list use
these too. Registered as template filters by ``register_words``.
"""

from __future__ import annotations

from flask import Flask, current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from portal.formatting import format_date, format_moment, format_money

#: A practice's billing status as the billing page shows it, and its badge's colour.
BILLING_STATUS = {
    "DONE": (_l("Active"), "badge-ok"),
    "PAST_DUE": (_l("Past due"), "badge-warn"),
    "REQUIRED": (_l("Billing required"), "badge-warn"),
    "CANCELLED": (_l("Cancelled"), "badge-bad"),
    "INACTIVE": (_l("Inactive"), "badge-muted"),
}

#: Stripe's subscription statuses in the same words.
SUBSCRIPTION_STATUS = {
    "active": _l("Active"),
    "trialing": _l("Active (trial)"),
    "past_due": _l("Past due"),
    "unpaid": _l("Cancelled (unpaid)"),
    "canceled": _l("Cancelled"),
    "incomplete": _l("Awaiting first payment"),
    "incomplete_expired": _l("Inactive (first payment never made)"),
    "paused": _l("Inactive (paused)"),
}

INVOICE_STATUS = {
    "paid": _l("Paid"),
    "open": _l("Open"),
    "draft": _l("Draft"),
    "void": _l("Void"),
    "uncollectible": _l("Uncollectible"),
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
    "invoice.payment_failed": _l("A payment failed"),
    "invoice.paid": _l("An invoice was paid"),
    "invoice.payment_succeeded": _l("A payment went through"),
    "invoice.payment_action_required": _l("A payment waits for the bank's check"),
    "invoice.finalized": _l("An invoice was issued"),
    "invoice.created": _l("An invoice was drafted"),
    "invoice.voided": _l("An invoice was voided"),
    "invoice.marked_uncollectible": _l("An invoice was marked uncollectible"),
    "customer.subscription.created": _l("A subscription started"),
    "customer.subscription.updated": _l("A subscription changed"),
    "customer.subscription.deleted": _l("A subscription ended"),
    "customer.subscription.trial_will_end": _l("A trial ends in 3 days"),
    "checkout.session.completed": _l("A checkout was paid"),
    "checkout.session.expired": _l("A checkout expired unpaid"),
    "payment_intent.succeeded": _l("A card payment went through"),
    "payment_intent.payment_failed": _l("A card payment failed"),
    "payment_method.attached": _l("A card was saved"),
    "payment_method.detached": _l("A card was removed"),
    "customer.updated": _l("A customer's details changed"),
    "customer.deleted": _l("A customer was deleted"),
}


def card_brand(brand: str | None) -> str:
    if not brand:
        return _("Card")
    return CARD_BRANDS.get(brand.lower(), brand.replace("_", " ").title())


def card_words(card) -> str:
    """``Visa ending in 4242``: how a card is named in buttons, questions and screen readers."""
    return _("%(brand)s ending in %(last4)s", brand=card_brand(card.brand), last4=card.last4)


def event_sentence(event_type: str | None) -> str:
    """``A payment failed`` for ``invoice.payment_failed``; an unlisted type in plain words."""
    if not event_type:
        return _("An event")
    if event_type in EVENT_SENTENCES:
        return str(EVENT_SENTENCES[event_type])
    words = event_type.replace(".", " ").replace("_", " ")
    return words[:1].upper() + words[1:]


#: A webhook event's state in the inbox, as the admin pages say it.
EVENT_STATUS = {
    "received": _l("Waiting"),
    "processed": _l("Processed"),
    "failed": _l("Failed"),
    "ignored": _l("Ignored"),
}


def event_status_label(status: object) -> str:
    value = str(getattr(status, "value", status))
    return str(EVENT_STATUS.get(value, value.capitalize()))


def billing_status_label(status: object) -> str:
    value = getattr(status, "value", status)
    return str(BILLING_STATUS.get(str(value), (str(value).replace("_", " ").capitalize(), ""))[0])


def billing_status_badge(status: object) -> str:
    return BILLING_STATUS.get(str(getattr(status, "value", status)), ("", "badge-muted"))[1]


def subscription_status_label(status: str | None) -> str:
    if not status:
        return _("None")
    return str(SUBSCRIPTION_STATUS.get(status, status.replace("_", " ").capitalize()))


def invoice_status_label(status: str | None) -> str:
    return str(INVOICE_STATUS.get(status or "", (status or "—").capitalize()))


#: Stripe's subscription statuses after which nothing renews any more.
ENDED_SUBSCRIPTION = frozenset({"canceled", "unpaid", "incomplete_expired"})


class RenewalLine(tuple):
    """``(label, value)`` in the reader's words, with ``kind`` saying which line it is in any language:
    ``renews``, ``ends``, ``ended``, ``paused`` or ``trial``."""

    kind: str

    def __new__(cls, kind: str, label: str, value: str) -> RenewalLine:
        line = super().__new__(cls, (label, value))
        line.kind = kind
        return line


def renewal_line(practice, price: str | None = None) -> RenewalLine | None:
    """The renewal line as the subscription's status says it, the same on every page (``price``:
    a trial's plan as it will be charged, its discounts taken off; the list price by default):
    ("Next renewal", day), ("Ends on", day) once cancelled at period end, ("Ended", day or "")
    once Stripe ended it (after failed renewals it ends before its period's end: no day then);
    None before any subscription."""
    ends = practice.cancel_at or (practice.current_period_end if practice.cancel_at_period_end else None)
    if practice.subscription_status in ENDED_SUBSCRIPTION:
        return RenewalLine("ended", _("Ended"), format_date(ends) if ends else "")
    if not practice.subscription_live or not practice.current_period_end:
        return None
    if ends:
        return RenewalLine("ends", _("Ends on"), format_date(ends))
    if practice.pause_behavior:
        resumes = practice.pause_resumes_at
        until = _("nothing is charged until %(day)s", day=format_date(resumes)) if resumes else None
        return RenewalLine("paused", _("Collection paused"), until or _("nothing is charged"))
    if practice.subscription_status == "trialing" and practice.trial_end:
        then = _(
            "%(day)s, then %(price)s",
            day=format_date(practice.trial_end),
            price=price or plan_price_words(practice.plan, practice.currency),
        )
        return RenewalLine("trial", _("Trial until"), then)
    return RenewalLine("renews", _("Next renewal"), format_date(practice.current_period_end))


#: A plan's price setting and how often it is charged (``config.py``).
PLAN_PRICES = {
    "monthly": ("BILLING_MONTHLY_PRICE", _l("%(price)s every month")),
    "semiannual": ("BILLING_SEMIANNUAL_PRICE", _l("%(price)s every 6 months")),
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
    return str(every) % {"price": format_money(cfg[setting], currency)}


def price_per_words(price: str, plan: object) -> str:
    """``$99.00 per month`` / ``$499.00 every 6 months``: a price, as often as the plan charges it."""
    if str(getattr(plan, "value", plan)) == "monthly":
        return _("%(price)s per month", price=price)
    return _("%(price)s every 6 months", price=price)


#: A member's role as a badge says it, and as a sentence does ("invited ... as admin").
ROLE_LABELS = {"owner": _l("Owner"), "admin": _l("Admin"), "member": _l("Member")}
ROLE_WORDS = {"owner": _l("owner"), "admin": _l("admin"), "member": _l("member")}


def role_label(role: object) -> str:
    value = str(getattr(role, "value", role))
    return str(ROLE_LABELS.get(value, value.capitalize()))


def role_word(role: object) -> str:
    value = str(getattr(role, "value", role))
    return str(ROLE_WORDS.get(value, value))


def stored_words(text: str | None) -> str:
    """Words the portal stored in English (a decline reason kept on the practice): in the reader's
    language when the catalogue has them (their msgids are marked where they are written), else as
    stored (Stripe's own message, say)."""
    return _(text) if text else (text or "")


def open_invoices_words(still_open) -> str:
    """``3 invoices are still open: €297.00 in all.`` (``still_open``: count, total, currency)."""
    count, total, currency = still_open
    return ngettext(
        "%(num)d invoice is still open: %(amount)s.",
        "%(num)d invoices are still open: %(amount)s in all.",
        count,
        amount=format_money(total, currency),
    )


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
    app.add_template_global(price_per_words)
    app.add_template_filter(role_label, "role_label")
    app.add_template_filter(role_word, "role_word")
    app.add_template_filter(stored_words, "decline_words")
    app.add_template_filter(card_brand, "card_brand")
    app.add_template_filter(card_words, "card_words")
    app.add_template_filter(event_sentence, "event_sentence")
