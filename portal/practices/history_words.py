"""The sentences the History tab (and the admin's practice page) shows for each audit line.

Audit lines are written tersely for the record (``status_changed``, ``REQUIRED → DONE``,
``pm_...``); a person reads "Billing status: Billing required → Active". Stripe's ids are kept
apart (``HistoryLine.ids``), for the page to show behind a details toggle.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import sqlalchemy as sa

from portal.extensions import db
from portal.practices.models import MemberRole
from portal.wallet.models import PaymentMethod
from portal.words import billing_status_label

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
    """``MemberRole.ADMIN`` or ``admin`` as a person says it."""
    value = text.rsplit(".", 1)[-1].strip().lower()
    return {role.value: role.value for role in MemberRole}.get(value, value)


def _email_as_role(detail: str) -> tuple[str, str]:
    email, _, role = detail.partition(" as ")
    return email.strip(), _role(role)


def _card(detail: str) -> str:
    """``visa 4242`` -> ``Visa ending 4242``."""
    brand, _, last4 = detail.strip().partition(" ")
    return f"{brand.capitalize()} ending {last4}" if last4 else detail


def _card_of(payment_method_id: str) -> str:
    of_id = PaymentMethod.stripe_id == payment_method_id
    row = db.session.execute(sa.select(PaymentMethod.brand, PaymentMethod.last4).where(of_id)).first()
    return f"{row.brand.capitalize()} ending {row.last4}" if row else "A card"


def _arrow(detail: str) -> tuple[str, str]:
    before, _, after = detail.partition("→")
    return before.strip(), after.strip()


def _after_colon(detail: str) -> str:
    return detail.partition(": ")[2].strip() or detail


def _status_change(detail: str) -> str:
    before, after = _arrow(detail)
    return f"Billing status: {billing_status_label(before)} → {billing_status_label(after)}"


def _ends(detail: str) -> str:
    return detail.removeprefix("ends ").removeprefix("renews ").strip()


def _either(sentence: str, value: str | None, without: str) -> str:
    """``sentence`` with ``value`` in it, or ``without`` when there is no value to tell."""
    return sentence.format(value) if value else without


#: action -> a sentence from the line's detail (ids removed by the caller when shown alone).
SENTENCES: dict[str, Callable[[str, str | None], str]] = {
    "practice_created": lambda d, _: f"Practice created: {d}",
    "member_invited": lambda d, _: "{} invited as {}".format(*_email_as_role(d)),
    "member_joined": lambda d, _: "{} joined as {}".format(*_email_as_role(d)),
    "member_added": lambda d, _: "{} added as {}".format(*_email_as_role(d)),
    "member_role_changed": lambda d, _: "{}'s role changed to {}".format(*_email_as_role(d)),
    "member_removed": lambda d, _: f"{d} was removed from the practice",
    "member_left": lambda d, _: f"{d} left the practice",
    "invitation_cancelled": lambda d, _: f"Invitation to {d} cancelled",
    "invitation_declined": lambda d, _: f"{d} declined the invitation",
    "ownership_offered": lambda d, _: f"Ownership offered to {_arrow(d)[1] or d}",
    "ownership_offer_withdrawn": lambda d, _: f"Ownership offer to {d} withdrawn",
    "ownership_offer_declined": lambda d, _: f"{d} declined ownership",
    "ownership_transferred": lambda d, _: (
        "Ownership moved from {} to {}".format(*_arrow(d)) if "→" in d else f"Ownership moved: {d}"
    ),
    "checkout_started": lambda d, _: f"Checkout started: {d.partition(',')[0]}",
    "subscription_started": lambda d, plan: _either("Subscription started: {}", plan, "Subscription started"),
    "status_changed": lambda d, _: _status_change(d),
    "onboarding_paid": lambda d, _: "Onboarding fee paid",
    "cancel_requested": lambda d, _: _either(
        "Cancellation asked for. Reason: {}", d, "Cancellation asked for"
    ),
    "cancellation_scheduled": lambda d, _: _either(
        "Subscription set to end on {}", _ends(d), "Cancellation set"
    ),
    "cancellation_withdrawn": lambda d, _: "Cancellation withdrawn: the subscription renews",
    "resumed": lambda d, _: "Subscription resumed",
    "retention_accepted": lambda d, _: f"Accepted the retention offer: {d}",
    "retention_declined": lambda d, _: f"Declined the retention offer ({d}) and went on to cancel",
    "promotion_code_used": lambda d, _: f"Promotion code {d}",
    "promotion_code_redeemed": lambda d, _: f"Promotion code {d}",
    "plan_changed": lambda d, _: "Plan switched from {} to {}".format(*_arrow(d)),
    "plan_switch_scheduled": lambda d, _: f"Plan set to switch to {d}",
    "plan_switch_undone": lambda d, _: f"Switch to {d} undone: the plan stays",
    "plan_switch_dropped": lambda d, _: f"Switch to {d} dropped by the cancellation",
    "plan_switch_done": lambda d, _: f"Plan switched to {d} at the end of the period",
    "paid_now": lambda d, _: f"Invoice paid now with {_card(d.partition(' with ')[2])}",
    "pay_now_failed": lambda d, _: f"Payment failed: {_after_colon(d)}",
    "pay_now_needs_authentication": lambda d, _: "Payment waits for the bank's confirmation (3-D Secure)",
    "payment_failed": lambda d, _: f"Payment failed: {_after_colon(d)}",
    "action_required": lambda d, _: "The bank asked to confirm a payment (3-D Secure)",
    "renewal_reminder": lambda d, _: _either(
        "Renewal reminder sent: renews on {}", _ends(d), "Renewal reminder sent"
    ),
    "receipt_sent": lambda d, _: f"Receipt sent to {d.partition(' to ')[2] or d}",
    "invoice_finalization_failed": lambda d, _: f"Stripe could not finalize an invoice: {_after_colon(d)}",
    "duplicate_subscription_cancelled": lambda d, _: (
        "A second subscription was cancelled and refunded: " + re.sub(r"^\S+\s*", "", d)
    ),
    "practice_deactivated": lambda d, _: f"Closed by platform admin {d}",
    "practice_reactivated": lambda d, _: f"Reopened by platform admin {d}",
    "collection_paused": lambda d, _: (
        "Payment collection paused at Stripe"
        + (f": nothing is charged; it {d}" if d else ": nothing is charged")
    ),
    "collection_resumed": lambda d, _: "Payment collection resumed: renewals are charged again",
    "collection_paused_by_admin": lambda d, _: f"Payment collection paused by platform admin {d}",
    "collection_resumed_by_admin": lambda d, _: f"Payment collection resumed by platform admin {d}",
    "trial_ending_notice": lambda d, _: f"Trial ending notice sent: {d}",
    "billing_details_changed": lambda d, _: f"Billing details changed: {d}",
    "billing_details_partly_saved": lambda d, _: f"Billing details partly saved (Stripe was cut off): {d}",
    "billing_details_from_checkout": lambda d, _: f"Billing details entered at Checkout: {d}",
    "card_added": lambda d, _: f"Card added: {_card(d)}",
    "card_removed": lambda d, _: f"{_card_of(d.strip())} was removed",
    "default_card_changed": lambda d, _: f"{_card_of(d.strip())} became the default",
    "invoice_refunded": lambda d, _: f"Refunded {d}",
    "invoice_refunded_at_stripe": lambda d, _: f"Refunded in Stripe's dashboard: {d}",
    "invoice_refunded_by_portal": lambda d, _: f"Refunded {d}",
}


def _iso_dates(text: str) -> str:
    """``2026-12-01`` as every page writes a day: ``01 Dec 2026``."""

    def day(match: re.Match) -> str:
        try:
            return f"{dt.date.fromisoformat(match.group(0)):%d %b %Y}"
        except ValueError:
            return match.group(0)

    return re.sub(r"\b\d{4}-\d{2}-\d{2}\b", day, text)


def describe(action: str, detail: str | None, actor_name: str | None, plan: str | None = None) -> HistoryLine:
    """One audit line in words: what happened, who did it, and the Stripe ids it names."""
    detail = detail or ""
    ids = tuple(dict.fromkeys(STRIPE_ID.findall(detail)))
    sentence_of = SENTENCES.get(action)
    if sentence_of is None:  # a line this module has no words for yet: its name, and what it says
        sentence = action.replace("_", " ").capitalize()
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
        return "Billing portal"
    return "A deleted account"  # a person's action whose account is gone (actor set to NULL)


#: Stripe's confirmation of a change a person just asked for: said once, on the person's line.
#: (Stripe's line, the person's line, what Stripe's adds to it: "" for nothing new).
ECHOES = {
    ("cancellation_scheduled", "cancel_requested"): "The subscription ends on {}.",
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
                    said = f"{words.sentence.rstrip('.')}. {echo.format(_iso_dates(_ends(newer.detail)))}"
                    words = HistoryLine(said, words.who, words.ids)
                shown[-1] = (line, words)
                continue
        shown.append((line, words))
    return shown


def subscribed(practice) -> str:
    """What the billing page says once a Checkout's payment is confirmed."""
    plan = practice.plan.label if practice.plan else None
    return _either(
        "Payment confirmed: you are subscribed to {}. Thank you!", plan, "Payment confirmed. Thank you!"
    )
