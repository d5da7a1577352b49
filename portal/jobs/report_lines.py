"""The nightly report's lines: kept as facts, said in the reader's words when they are shown.

The report (``ReconcileReport.lines``) keeps a JSON list of small dicts, one per line, and the
drift email gets the same dicts: ``/admin/jobs`` says them in the reader's language, the email in
each admin's (``report_lines``, the template filter of that name). A difference:
``{"owner": "practice", "id": 3, "name": "Riverside Family Clinic", "field": "subscription_status",
"portal": "canceled", "stripe": "active"}`` reads "Riverside Family Clinic — Subscription status:
the portal says Cancelled, Stripe says Active" (an invoice's or a card's line names it in
``"object"``); an event Stripe has and the inbox lacks: ``{"event": "evt_1", "type": "invoice.paid"}``.

Reports kept before were English text, one line each: they still read as they were kept.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
from typing import NamedTuple

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from portal.formatting import format_moment, format_money
from portal.practices.kinds import Plan
from portal.webhooks.reconcile import CardState, Drift, InvoiceState
from portal.words import billing_status_label, card_brand, invoice_status_label, subscription_status_label

#: What each compared field is called, as the billing pages call it (every ``PRACTICE_FIELDS``).
FIELD_LABELS = {
    "billing_status": _l("Billing status"),
    "subscription_status": _l("Subscription status"),
    "stripe_subscription_id": _l("Stripe subscription id"),
    "cancel_at_period_end": _l("Cancels at the end of the period"),
    "cancel_at": _l("Cancels on"),
    "trial_end": _l("Trial ends"),
    "pause_behavior": _l("Payment collection"),
    "pause_resumes_at": _l("Collection resumes on"),
    "current_period_start": _l("Current period starts"),
    "current_period_end": _l("Current period ends"),
    "plan": _l("Plan"),
    "onboarding_paid_at": _l("Onboarding fee paid on"),
    "live_subscriptions": _l("Live subscriptions at Stripe"),
}

#: The fields holding a moment (kept as ISO text, said as the pages say a moment).
MOMENT_FIELDS = frozenset(
    {
        "cancel_at",
        "trial_end",
        "pause_resumes_at",
        "current_period_start",
        "current_period_end",
        "onboarding_paid_at",
    }
)

#: Payment collection, by the pause Stripe applies (None: collecting).
PAUSE_WORDS = {
    None: _l("Collecting"),
    "void": _l("Paused (renewals voided)"),
    "keep_as_draft": _l("Paused (renewals kept as drafts)"),
    "mark_uncollectible": _l("Paused (renewals marked uncollectible)"),
}

#: ``reconcile_target``'s own names for what is not a field of a practice.
_FIELD_OF_DRIFT = {"live subscriptions at Stripe": "live_subscriptions"}


class SaidLine(NamedTuple):
    """One line in the reader's words: whose it is (a practice's name, a user's email; empty for an
    event or a line kept as text), the practice it links to, and what differs."""

    name: str
    practice_id: int | None
    words: str


# --- kept ----------------------------------------------------------------------------------------


def drift_fact(drift: Drift) -> dict:
    """A difference as the report keeps it (JSON-safe)."""
    target = drift.target
    fact: dict = {"owner": target.kind, "id": target.id, "name": target.name or target.label}
    kind, _space, obj = drift.field.partition(" ")
    if kind in ("invoice", "card") and obj:
        fact.update(field=kind, object=obj)
    else:
        fact["field"] = _FIELD_OF_DRIFT.get(drift.field, drift.field)
    fact.update(portal=_kept(drift.local), stripe=_kept(drift.stripe))
    return fact


def event_fact(event: dict) -> dict:
    """An event Stripe has and the inbox lacks."""
    return {"event": event["id"], "type": event.get("type") or ""}


def _kept(value: object) -> object:
    if isinstance(value, (InvoiceState, CardState)):
        return value._asdict()
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def dumps(facts: list[dict]) -> str:
    return json.dumps(facts, ensure_ascii=False)


# --- said ----------------------------------------------------------------------------------------


def report_lines(kept: str | list | None) -> list[SaidLine]:
    """The report's lines (its ``lines`` text, or the email's list of facts) in the reader's words."""
    if not kept:
        return []
    facts = kept if isinstance(kept, list) else _loads(kept)
    if facts is None:  # a report kept before: English text, a line each
        return [SaidLine("", None, line) for line in kept.splitlines() if line.strip()]
    return [said_line(fact) if isinstance(fact, dict) else SaidLine("", None, str(fact)) for fact in facts]


def _loads(text: str) -> list | None:
    if not text.lstrip().startswith("["):
        return None
    try:
        facts = json.loads(text)
    except ValueError:
        return None
    return facts if isinstance(facts, list) else None


def said_line(fact: dict) -> SaidLine:
    if "event" in fact:
        return SaidLine(
            "", None, _("Event %(id)s (%(type)s) was not received", id=fact["event"], type=fact.get("type"))
        )
    practice_id = fact.get("id") if fact.get("owner") == "practice" else None
    name = str(fact.get("name") or "")
    field = str(fact.get("field") or "")
    portal, stripe = fact.get("portal"), fact.get("stripe")
    if field == "stripe":  # Stripe answered with an error: nothing was compared
        error = str(stripe or "").removeprefix("error: ")
        return SaidLine(name, practice_id, _("Stripe could not be read: %(error)s", error=error))
    words = _(
        "%(field)s: the portal says %(portal)s, Stripe says %(stripe)s",
        field=field_label(field, fact.get("object")),
        portal=value_words(field, portal),
        stripe=value_words(field, stripe),
    )
    return SaidLine(name, practice_id, words)


def field_label(field: str, obj: object = None) -> str:
    if field == "invoice":
        return _("Invoice %(id)s", id=obj)
    if field == "card":
        return _("Card %(id)s", id=obj)
    label = FIELD_LABELS.get(field)
    return str(label) if label is not None else field.replace("_", " ").capitalize()


def value_words(field: str, value: object) -> str:
    """A value as the billing pages show it; None as "none"."""
    if field == "pause_behavior":
        return str(PAUSE_WORDS.get(value, value))
    if value is None:
        return _("none")
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if field == "billing_status":
        return billing_status_label(value)
    if field == "subscription_status":
        return subscription_status_label(str(value))
    if field == "plan":
        return Plan(value).label if value in Plan._value2member_map_ else str(value)
    if field in MOMENT_FIELDS and isinstance(value, str):
        try:
            return format_moment(dt.datetime.fromisoformat(value))
        except ValueError:
            return value
    if field == "invoice" and isinstance(value, dict):
        currency = value.get("currency") or "usd"
        return _(
            "%(status)s, %(due)s due, %(paid)s paid",
            status=invoice_status_label(value.get("status")),
            due=format_money(value.get("amount_due"), currency),
            paid=format_money(value.get("amount_paid"), currency),
        )
    if field == "card" and isinstance(value, dict):
        card = _(
            "%(brand)s ending in %(last4)s", brand=card_brand(value.get("brand")), last4=value.get("last4")
        )
        expiry = f"{int(value.get('exp_month') or 0):02d}/{value.get('exp_year')}"
        if value.get("default"):
            return _("%(card)s, expires %(expiry)s, the default card", card=card, expiry=expiry)
        return _("%(card)s, expires %(expiry)s", card=card, expiry=expiry)
    return str(value)
