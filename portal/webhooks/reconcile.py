"""Compare the local billing state with Stripe's, and repair it through the same mirror functions.

``flask billing reconcile [--fix]`` runs this. For every practice and user with a
Stripe customer it reads Stripe (subscriptions, invoices, cards, default card),
applies what it read to the local mirror with the functions the webhooks use
(``portal.practices.mirror``, ``portal.wallet.mirror``), and compares the state
before and after: the difference is the drift. Without ``fix`` the transaction
is rolled back, so nothing changes; with ``fix`` it is committed. Running it
again finds nothing, because applying Stripe's state twice is the same as once.

It also lists the events Stripe has (``/v1/events``, which keeps 30 days) that
the inbox lacks; with ``fix`` they go through the inbox like a delivery
(stored once, handled once, older state never overwriting newer).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
from dataclasses import dataclass
from typing import NamedTuple

import sqlalchemy as sa

from portal.extensions import db
from portal.gateway import customers as stripe_customers
from portal.gateway import events as stripe_events
from portal.gateway import invoices as stripe_invoices
from portal.gateway import payment_methods as stripe_cards
from portal.gateway import subscriptions as stripe_subscriptions
from portal.gateway.errors import BillingError, NotFound
from portal.gateway.shapes import as_dict, default_payment_method_id
from portal.practices import duplicates, invoice_mirror
from portal.practices import mirror as practice_mirror
from portal.practices.models import Practice, PracticeInvoice
from portal.users.models import User
from portal.wallet import mirror
from portal.wallet.models import PaymentMethod
from portal.webhooks.handlers import handler_for
from portal.webhooks.models import WebhookEvent
from portal.webhooks.services import Outcome, receive_event

log = logging.getLogger(__name__)

#: How far back Stripe keeps events.
EVENT_RETENTION_DAYS = 30

PRACTICE_FIELDS = (
    "billing_status",
    "subscription_status",
    "stripe_subscription_id",
    "cancel_at_period_end",
    "cancel_at",
    "trial_end",
    "pause_behavior",
    "pause_resumes_at",
    "current_period_start",
    "current_period_end",
    "plan",
    "onboarding_paid_at",
)


@dataclass(frozen=True)
class Target:
    kind: str  #: "practice" or "user"
    id: int
    label: str  #: "practice 3 (Riverside Family Clinic)": the CLI's
    name: str = ""  #: the practice's name, the user's email: the report's


class InvoiceState(NamedTuple):
    """A practice's invoice as compared (printed as a plain tuple)."""

    status: str | None
    amount_due: int
    amount_paid: int
    currency: str

    def __repr__(self) -> str:
        return repr(tuple(self))


class CardState(NamedTuple):
    """A saved card as compared (printed as the CLI always did: ``('visa 4242 12/2030', 'default')``)."""

    brand: str
    last4: str
    exp_month: int
    exp_year: int
    default: bool

    def __repr__(self) -> str:
        words = f"{self.brand} {self.last4} {self.exp_month:02d}/{self.exp_year}"
        return repr((words, "default" if self.default else ""))


@dataclass(frozen=True)
class Drift:
    target: Target
    field: str
    local: object
    stripe: object

    def __str__(self) -> str:
        return f"{self.target.label}: {self.field}: local {_show(self.local)} != stripe {_show(self.stripe)}"


def _show(value: object) -> str:
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if hasattr(value, "value"):
        return str(value.value)
    return repr(value)


# --- events ------------------------------------------------------------------------------------


def missing_events(since: int | None = None) -> list[dict]:
    """Events at Stripe since ``since`` (default: the retention window) that the inbox lacks, of the
    types the portal applies: one it has no handler for (a price or product made by `flask billing
    bootstrap`) changes nothing here, so its absence is no drift (attack 19 A12: a fresh install
    reported "12 events missing" and emailed the admins about it every night)."""
    if since is None:
        since = stripe_events.now_at_stripe() - EVENT_RETENTION_DAYS * 86400
    events, _ = stripe_events.list_events(since)
    known = set(
        db.session.scalars(sa.select(WebhookEvent.stripe_event_id).where(WebhookEvent.created >= since))
    )
    db.session.rollback()
    return [event for event in events if event["id"] not in known and handler_for(event["type"]) is not None]


def apply_events(events: list[dict]) -> dict[Outcome, int]:
    """Each missing event through the inbox, oldest first, as if Stripe had delivered it now."""
    outcomes: dict[Outcome, int] = {}
    for event in events:
        outcome = receive_event(event, json.dumps(event))
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


# --- objects -----------------------------------------------------------------------------------


def targets() -> list[Target]:
    """Every practice and user with a Stripe customer."""
    found = [
        Target("practice", practice_id, f"practice {practice_id} ({name})", name)
        for practice_id, name in db.session.execute(
            sa.select(Practice.id, Practice.name)
            .where(Practice.stripe_customer_id.is_not(None))
            .order_by(Practice.id)
        )
    ]
    found += [
        Target("user", user_id, f"user {user_id} ({email})", email)
        for user_id, email in db.session.execute(
            sa.select(User.id, User.email).where(User.stripe_customer_id.is_not(None)).order_by(User.id)
        )
    ]
    db.session.rollback()
    return found


@dataclass
class StripeView:
    """Every subscription and invoice at Stripe, read in pages of 100 before the practices are
    compared (two lists for all of them, not two calls per practice), and Stripe's clock before
    the reads: the time the mirror writes are stamped with, so an event newer than the reads
    still wins over them."""

    now: int
    invoices: dict[str, list]
    subscriptions: dict[str, list]

    @classmethod
    def read(cls) -> StripeView:
        now = stripe_events.now_at_stripe()
        return cls(
            now,
            _by_customer(stripe_invoices.list_all_invoices()),
            _by_customer(stripe_subscriptions.list_all_subscriptions()),
        )


def _by_customer(objects: list) -> dict[str, list]:
    """Stripe's objects (newest first) per customer, sorted by ``created`` as the per-customer lists
    are (stable: a tie keeps Stripe's order, as there)."""
    grouped: dict[str, list] = {}
    for obj in objects:
        customer = obj.customer if isinstance(obj.customer, str) else getattr(obj.customer, "id", None)
        grouped.setdefault(customer, []).append(obj)
    for found in grouped.values():
        found.sort(key=lambda obj: obj.created)
    return grouped


def reconcile_target(target: Target, *, fix: bool, view: StripeView | None = None) -> list[Drift]:
    """The drift of one practice or user; repaired (committed) when ``fix``, else rolled back.

    ``view``: Stripe's subscriptions and invoices read once for every target (``StripeView.read``);
    without it they are listed for this customer alone."""
    try:
        customer_id = _customer_id(target)
        if customer_id is None:
            return []
        before = _snapshot(target, customer_id)
        now = view.now if view is not None else stripe_events.now_at_stripe()
        live = 0
        if target.kind == "practice":
            practice = db.session.get(Practice, target.id)
            live = _apply_practice(practice, customer_id, now, fix=fix, view=view)
        _apply_cards(customer_id, now)
        db.session.flush()
        after = _snapshot(target, customer_id)
    except BillingError as error:
        db.session.rollback()
        log.warning("reconcile %s: %s", target.label, error)
        return [Drift(target, "stripe", "reachable", f"error: {error.message}")]
    drifts = [
        Drift(target, field, before.get(field), after.get(field))
        for field in sorted(set(before) | set(after))
        if before.get(field) != after.get(field)
    ]
    if live > 1:  # two checkouts paid at once: --fix keeps one, cancels and refunds the others
        drifts.append(Drift(target, "live subscriptions at Stripe", 1, live))
    if fix and drifts:
        db.session.commit()
        log.info("reconcile repaired %s: %s", target.label, ", ".join(d.field for d in drifts))
    else:
        db.session.rollback()
    return drifts


def _customer_id(target: Target) -> str | None:
    model = Practice if target.kind == "practice" else User
    return db.session.scalar(sa.select(model.stripe_customer_id).where(model.id == target.id))


def _snapshot(target: Target, customer_id: str) -> dict[str, object]:
    db.session.flush()
    state: dict[str, object] = {}
    if target.kind == "practice":
        practice = db.session.get(Practice, target.id, populate_existing=True)
        state.update({field: getattr(practice, field) for field in PRACTICE_FIELDS})
        for row in db.session.scalars(
            sa.select(PracticeInvoice).where(PracticeInvoice.practice_id == target.id)
        ):
            state[f"invoice {row.stripe_id}"] = InvoiceState(
                row.status, row.amount_due, row.amount_paid, row.currency
            )
    for card in db.session.scalars(sa.select(PaymentMethod).where(PaymentMethod.customer_id == customer_id)):
        state[f"card {card.stripe_id}"] = CardState(
            card.brand, card.last4, card.exp_month, card.exp_year, card.is_default
        )
    return state


def _apply_practice(
    practice: Practice, customer_id: str, now: int, *, fix: bool, view: StripeView | None = None
) -> int:
    """Apply Stripe's invoices and subscriptions; how many live subscriptions Stripe holds."""
    if view is not None:
        invoices = view.invoices.get(customer_id, [])
        subscriptions = view.subscriptions.get(customer_id, [])
    else:
        invoices = stripe_invoices.list_invoices(customer_id)
        subscriptions = stripe_subscriptions.list_subscriptions(customer_id)
    for invoice in invoices:
        invoice_mirror.record_invoice(invoice, now)
    # Without --fix nothing changes at Stripe: a duplicate is reported, not cancelled.
    with contextlib.nullcontext() if fix else duplicates.report_only():
        # Oldest first: a practice adopts a newer subscription only once its old one ended.
        for subscription in subscriptions:
            practice_mirror.apply_subscription(subscription, now, fresh=True)
    return duplicates.count_live(subscriptions)


def _apply_cards(customer_id: str, now: int) -> None:
    try:
        customer = as_dict(stripe_customers.retrieve_customer(customer_id))
    except NotFound:
        customer = {"deleted": True}
    if customer.get("deleted"):
        mirror.remove_customer(customer_id, now)
        return
    remote = stripe_cards.list_payment_methods(customer_id)
    remote_ids = {card.id for card in remote}
    for card in remote:
        mirror.upsert_payment_method(card, now)
    for local_id in db.session.scalars(
        sa.select(PaymentMethod.stripe_id).where(PaymentMethod.customer_id == customer_id)
    ).all():
        if local_id not in remote_ids:
            mirror.remove_payment_method(local_id, now)
    mirror.set_default_payment_method(customer_id, default_payment_method_id(customer), now)
