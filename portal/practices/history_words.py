"""The sentences the History tab (and the admin's practice page) shows for each audit line.

Audit lines are written tersely for the record (``status_changed``, ``REQUIRED → DONE``,
``pm_...``); a person reads "Billing status: Billing required → Active". Stripe's ids are kept
apart (``HistoryLine.ids``), for the page to show behind a details toggle. The records are English;
the sentences are said in the reader's language when the page is drawn (plan names, roles, statuses
and days included; what a person typed, such as a reason, stays as typed).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask_babel import gettext as _

from portal.extensions import db
from portal.formatting import format_date, said_money
from portal.practices.kinds import PLAN_LABELS, PLAN_RECORD_LABELS, MemberRole
from portal.promotions.words import said_terms
from portal.text import N_
from portal.wallet.models import PaymentMethod
from portal.words import billing_status_label, role_word, stored_words

#: Stripe's object ids: ``cs_test_a1B2``, ``in_123``, ``pm_card_visa``...
STRIPE_ID = re.compile(r"\b(?:cus|sub|in|pm|cs|pi|seti|ch|re|cn|evt|card|src)_[A-Za-z0-9_]+")

#: Lines the portal writes on its own (from Stripe's events or a reconciliation), with no person.
BY_STRIPE = frozenset(
    {
        "billing_details_from_checkout",
        "subscription_started",
        "plan_switch_scheduled",
        "plan_switch_undone",
        "plan_switch_done",
        "status_changed",
        "cancellation_scheduled",
        "cancellation_withdrawn",
        "onboarding_paid",
        "payment_failed",
        "action_required",
        "renewal_reminder",
        "invoice_finalization_failed",
        "collection_paused",
        "collection_resumed",
        "trial_ending_notice",
        "invoice_refunded_at_stripe",
        "promotion_code_redeemed",
    }
)
BY_PORTAL = frozenset(
    {
        "duplicate_subscription_cancelled",
        "ownership_transferred",
        "receipt_sent",
        "invoice_refunded_by_portal",
    }
)


@dataclass(frozen=True)
class HistoryLine:
    sentence: str
    who: str
    ids: tuple[str, ...]


def _role(text: str) -> str:
    """``MemberRole.ADMIN`` or ``admin`` as a person says it (in the reader's language)."""
    value = text.rsplit(".", 1)[-1].strip().lower()
    return role_word(value) if value in {role.value for role in MemberRole} else value


def _email_as_role(detail: str) -> dict[str, str]:
    email, _sep, role = detail.partition(" as ")
    return {"email": email.strip(), "role": _role(role)}


def _card(detail: str) -> str:
    """``visa 4242`` -> ``Visa ending 4242``."""
    brand, _sep, last4 = detail.strip().partition(" ")
    return _("%(brand)s ending %(last4)s", brand=brand.capitalize(), last4=last4) if last4 else detail


def _card_of(payment_method_id: str) -> str:
    of_id = PaymentMethod.stripe_id == payment_method_id
    row = db.session.execute(sa.select(PaymentMethod.brand, PaymentMethod.last4).where(of_id)).first()
    return _card(f"{row.brand} {row.last4}") if row else _("A card")


def _plan(text: str) -> str:
    """A plan's name as recorded (``Every 6 months``) in the reader's words; anything else as it is."""
    text = text.strip()
    for value, recorded in PLAN_RECORD_LABELS.items():
        if text == recorded:
            return str(PLAN_LABELS[value])
    return text


def _arrow(detail: str) -> tuple[str, str]:
    before, _sep, after = detail.partition("→")
    return before.strip(), after.strip()


def _after_colon(detail: str) -> str:
    return detail.partition(": ")[2].strip() or detail


def _status_change(detail: str) -> str:
    before, after = _arrow(detail)
    return _(
        "Billing status: %(before)s → %(after)s",
        before=billing_status_label(before),
        after=billing_status_label(after),
    )


def _plan_changed(detail: str) -> str:
    before, after = _arrow(detail)
    return _("Plan switched from %(before)s to %(after)s", before=_plan(before), after=_plan(after))


def _switch_scheduled(detail: str) -> str:
    plan, _sep, day = detail.partition(" on ")
    if day:
        return _("Plan set to switch to %(plan)s on %(day)s", plan=_plan(plan), day=day.strip())
    return _("Plan set to switch to %(plan)s", plan=_plan(plan))


def _ownership_moved(detail: str) -> str:
    if "→" not in detail:
        return _("Ownership moved: %(detail)s", detail=detail)
    before, after = _arrow(detail)
    return _("Ownership moved from %(before)s to %(after)s", before=before, after=after)


def _collection_paused(detail: str) -> str:
    if detail.startswith("resumes "):
        return _(
            "Payment collection paused at Stripe: nothing is charged; it resumes %(day)s",
            day=detail.removeprefix("resumes ").strip(),
        )
    if detail:
        return _("Payment collection paused at Stripe: nothing is charged; it %(detail)s", detail=detail)
    return _("Payment collection paused at Stripe: nothing is charged")


def _ends(detail: str) -> str:
    return detail.removeprefix("ends ").removeprefix("renews ").strip()


def _either(sentence: str, value: str | None, without: str) -> str:
    """``sentence`` (a msgid with ``%(value)s``) with ``value`` in it, or ``without`` when there is no
    value to tell; both in the reader's language."""
    return _(sentence, value=value) if value else _(without)


#: action -> a sentence from the line's detail (ids removed by the caller when shown alone).
SENTENCES: dict[str, Callable[[str, str | None], str]] = {
    "practice_created": lambda d, p: _("Practice created: %(name)s", name=d),
    "member_invited": lambda d, p: _("%(email)s invited as %(role)s", **_email_as_role(d)),
    "member_joined": lambda d, p: _("%(email)s joined as %(role)s", **_email_as_role(d)),
    "member_added": lambda d, p: _("%(email)s added as %(role)s", **_email_as_role(d)),
    "member_role_changed": lambda d, p: _("%(email)s's role changed to %(role)s", **_email_as_role(d)),
    "member_removed": lambda d, p: _("%(email)s was removed from the practice", email=d),
    "member_left": lambda d, p: _("%(email)s left the practice", email=d),
    "invitation_cancelled": lambda d, p: _("Invitation to %(email)s cancelled", email=d),
    "invitation_declined": lambda d, p: _("%(email)s declined the invitation", email=d),
    "ownership_offered": lambda d, p: _("Ownership offered to %(email)s", email=_arrow(d)[1] or d),
    "ownership_offer_withdrawn": lambda d, p: _("Ownership offer to %(email)s withdrawn", email=d),
    "ownership_offer_declined": lambda d, p: _("%(email)s declined ownership", email=d),
    "ownership_transferred": lambda d, p: _ownership_moved(d),
    "checkout_started": lambda d, p: _("Checkout started: %(plan)s", plan=_plan(d.partition(",")[0])),
    "subscription_started": lambda d, plan: _either(
        N_("Subscription started: %(value)s"), _plan(plan) if plan else None, N_("Subscription started")
    ),
    "status_changed": lambda d, p: _status_change(d),
    "onboarding_paid": lambda d, p: _("Onboarding fee paid"),
    "cancel_requested": lambda d, p: _either(
        N_("Cancellation asked for. Reason: %(value)s"), d, N_("Cancellation asked for")
    ),
    "cancellation_scheduled": lambda d, p: _either(
        N_("Subscription set to end on %(value)s"), _ends(d), N_("Cancellation set")
    ),
    "cancellation_withdrawn": lambda d, p: _("Cancellation withdrawn: the subscription renews"),
    "resumed": lambda d, p: _("Subscription resumed"),
    "retention_accepted": lambda d, p: _("Accepted the retention offer: %(terms)s", terms=said_terms(d)),
    "retention_declined": lambda d, p: _(
        "Declined the retention offer (%(terms)s) and went on to cancel", terms=said_terms(d)
    ),
    "promotion_code_used": lambda d, p: _("Promotion code %(code)s", code=d),
    "promotion_code_redeemed": lambda d, p: _("Promotion code %(code)s", code=d),
    "plan_changed": lambda d, p: _plan_changed(d),
    "plan_switch_scheduled": lambda d, p: _switch_scheduled(d),
    "plan_switch_undone": lambda d, p: _("Switch to %(plan)s undone: the plan stays", plan=_plan(d)),
    "plan_switch_dropped": lambda d, p: _("Switch to %(plan)s dropped by the cancellation", plan=_plan(d)),
    "plan_switch_done": lambda d, p: _("Plan switched to %(plan)s at the end of the period", plan=_plan(d)),
    "paid_now": lambda d, p: _("Invoice paid now with %(card)s", card=_card(d.partition(" with ")[2])),
    "pay_now_failed": lambda d, p: _("Payment failed: %(reason)s", reason=stored_words(_after_colon(d))),
    "pay_now_needs_authentication": lambda d, p: _("Payment waits for the bank's confirmation (3-D Secure)"),
    "payment_failed": lambda d, p: _("Payment failed: %(reason)s", reason=stored_words(_after_colon(d))),
    "action_required": lambda d, p: _("The bank asked to confirm a payment (3-D Secure)"),
    "renewal_reminder": lambda d, p: _either(
        N_("Renewal reminder sent: renews on %(value)s"), _ends(d), N_("Renewal reminder sent")
    ),
    "receipt_sent": lambda d, p: _("Receipt sent to %(email)s", email=d.partition(" to ")[2] or d),
    "invoice_finalization_failed": lambda d, p: _(
        "Stripe could not finalize an invoice: %(reason)s", reason=_after_colon(d)
    ),
    "duplicate_subscription_cancelled": lambda d, p: _(
        "A second subscription was cancelled and refunded: %(detail)s", detail=re.sub(r"^\S+\s*", "", d)
    ),
    "practice_deactivated": lambda d, p: _("Closed by platform admin %(admin)s", admin=d),
    "practice_reactivated": lambda d, p: _("Reopened by platform admin %(admin)s", admin=d),
    "collection_paused": lambda d, p: _collection_paused(d),
    "collection_resumed": lambda d, p: _("Payment collection resumed: renewals are charged again"),
    "collection_paused_by_admin": lambda d, p: _(
        "Payment collection paused by platform admin %(admin)s", admin=d
    ),
    "collection_resumed_by_admin": lambda d, p: _(
        "Payment collection resumed by platform admin %(admin)s", admin=d
    ),
    "trial_ending_notice": lambda d, p: _("Trial ending notice sent: %(detail)s", detail=d),
    "billing_details_changed": lambda d, p: _("Billing details changed: %(detail)s", detail=d),
    "billing_details_partly_saved": lambda d, p: _(
        "Billing details partly saved (Stripe was cut off): %(detail)s", detail=d
    ),
    "billing_details_from_checkout": lambda d, p: _(
        "Billing details entered at Checkout: %(detail)s", detail=d
    ),
    "card_added": lambda d, p: _("Card added: %(card)s", card=_card(d)),
    "card_removed": lambda d, p: _("%(card)s was removed", card=_card_of(d.strip())),
    "default_card_changed": lambda d, p: _("%(card)s became the default", card=_card_of(d.strip())),
    "invoice_refunded": lambda d, p: _("Refunded %(detail)s", detail=d),
    "invoice_refunded_at_stripe": lambda d, p: _("Refunded in Stripe's dashboard: %(detail)s", detail=d),
    "invoice_refunded_by_portal": lambda d, p: _("Refunded %(detail)s", detail=d),
}


def _iso_dates(text: str) -> str:
    """``2026-12-01`` as every page writes a day: ``01 Dec 2026`` (``01 thg 12, 2026``)."""

    def day(match: re.Match) -> str:
        try:
            return format_date(dt.date.fromisoformat(match.group(0)))
        except ValueError:
            return match.group(0)

    return re.sub(r"\b\d{4}-\d{2}-\d{2}\b", day, text)


def describe(action: str, detail: str | None, actor_name: str | None, plan: str | None = None) -> HistoryLine:
    """One audit line in words: what happened, who did it, and the Stripe ids it names."""
    detail = said_money(detail)  # amounts stored as tokens, in the reader's language
    ids = tuple(dict.fromkeys(STRIPE_ID.findall(detail)))
    sentence_of = SENTENCES.get(action)
    if sentence_of is None:  # a line this module has no words for yet: its name, and what it says
        sentence = action.replace("_", " ").capitalize()  # an internal name: no msgid for it
        sentence += f": {STRIPE_ID.sub('', detail).strip()}" if STRIPE_ID.sub("", detail).strip() else ""
    else:
        sentence = sentence_of(detail, plan)
    for stripe_id in ids:  # ids go to the toggle; a sentence never ends on one
        sentence = sentence.replace(stripe_id, "").replace(" ,", ",").replace(", :", ":").strip(" :,")
    return HistoryLine(_iso_dates(sentence), _who(action, actor_name), ids)


def _who(action: str, actor_name: str | None) -> str:
    if actor_name:
        return actor_name
    if action in BY_STRIPE:
        return "Stripe"
    if action in BY_PORTAL:
        return _("Billing portal")
    return _("A deleted account")  # a person's action whose account is gone (actor set to NULL)


#: Stripe's confirmation of a change a person just asked for: said once, on the person's line.
#: (Stripe's line, the person's line, what Stripe's adds to it: "" for nothing new).
ECHOES = {
    ("cancellation_scheduled", "cancel_requested"): N_("The subscription ends on %(day)s."),
    ("cancellation_withdrawn", "resumed"): "",
}


def _plan_started(lines: list, index: int) -> str | None:
    """The plan a subscription started on: its Checkout's (the nearest older "Checkout started")."""
    for older in lines[index + 1 :]:
        if older.action == "checkout_started":
            return (older.detail or "").partition(",")[0].strip() or None
    return None


#: What happens once in a practice's life: a second line is the same fact recorded twice (the
#: Checkout's return and Stripe's event racing), shown as the first, with both records' ids.
ONCE = frozenset({"onboarding_paid"})


@dataclass
class _Once:
    skipped: set[int] = field(default_factory=set)
    ids: dict[int, tuple[str, ...]] = field(default_factory=dict)


def _said_once(lines: list) -> _Once:
    once = _Once()
    for action in ONCE:
        indexes = [index for index, line in enumerate(lines) if line.action == action]
        if len(indexes) > 1:
            first, *repeats = reversed(indexes)  # newest first: the last index is the oldest line
            once.skipped.update(repeats)
            found = [
                stripe_id for i in (first, *repeats) for stripe_id in STRIPE_ID.findall(lines[i].detail or "")
            ]
            once.ids[first] = tuple(dict.fromkeys(found))
    return once


#: A change a person makes that Stripe's event then mirrors with the same words (the schedule read
#: fresh from the event): Stripe's line next to the person's is the echo, said once as the person's.
ECHOED_AS_IS = frozenset({"plan_switch_scheduled", "plan_switch_undone"})


def _same_fact(newer: HistoryLine, older: HistoryLine) -> bool:
    """The same sentence by the same hand, twice in a row: one fact recorded twice, unless each names
    its own Stripe objects (two refunds of the same amount, two receipts): those are two facts."""
    if (newer.sentence, newer.who) != (older.sentence, older.who):
        return False
    return not (newer.ids and older.ids and not set(newer.ids) & set(older.ids))


def _echoed(newer, newer_words: HistoryLine, older, older_words: HistoryLine) -> bool:
    """One of two neighbouring lines is a person's change and the other Stripe's echo of it."""
    return (
        newer.action == older.action
        and newer.action in ECHOED_AS_IS
        and newer_words.sentence == older_words.sentence
        and (newer_words.who == "Stripe") != (older_words.who == "Stripe")
    )


def describe_all(lines: Iterable) -> list[tuple[object, HistoryLine]]:
    """A page of audit lines (newest first), each with its words. Said once: a line repeating the
    one before it (the onboarding fee recorded from both the checkout and its invoice), and
    Stripe's echo of a change a person just made (folded into the person's line)."""
    lines = list(lines)
    once = _said_once(lines)
    shown: list[tuple[object, HistoryLine]] = []
    for index, line in enumerate(lines):
        if index in once.skipped:
            continue
        plan = _plan_started(lines, index) if line.action == "subscription_started" else None
        words = describe(line.action, line.detail, line.actor_name, plan)
        if index in once.ids:
            words = HistoryLine(words.sentence, words.who, once.ids[index])
        if shown:
            newer, newer_words = shown[-1]
            if _same_fact(newer_words, words):
                merged = tuple(dict.fromkeys(newer_words.ids + words.ids))
                shown[-1] = (newer, HistoryLine(newer_words.sentence, newer_words.who, merged))
                continue
            if _echoed(newer, newer_words, line, words):  # keep the person's line, said once
                if newer_words.who == "Stripe":
                    shown[-1] = (line, words)
                continue
            echo = ECHOES.get((newer.action, line.action))
            if echo is not None:
                if echo and newer.detail:
                    ends = _(echo, day=_iso_dates(_ends(newer.detail)))
                    said = f"{words.sentence.rstrip('.')}. {ends}"
                    words = HistoryLine(said, words.who, words.ids)
                shown[-1] = (line, words)
                continue
        shown.append((line, words))
    return shown


def subscribed(practice) -> str:
    """What the billing page says once a Checkout's payment is confirmed."""
    plan = practice.plan.label if practice.plan else None
    return _either(
        N_("Payment confirmed: you are subscribed to %(value)s. Thank you!"),
        plan,
        N_("Payment confirmed. Thank you!"),
    )
