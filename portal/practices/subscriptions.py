"""Managing a practice's subscription: cancel at period end, resume, switch plan, pay an open invoice.

Each calls Stripe through ``portal.gateway``, applies what Stripe returned through
``portal.practices.mirror`` (the code the webhooks run), writes an audit line and commits.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask_babel import gettext as _

from portal.extensions import db
from portal.formatting import format_date
from portal.gateway import invoices as stripe_invoices
from portal.gateway import schedules as stripe_schedules
from portal.gateway import subscriptions as stripe_subscriptions
from portal.gateway.errors import AuthenticationRequired, BillingError, CardDeclined, InvalidRequest
from portal.gateway.gateway import stripe_time
from portal.gateway.shapes import as_dict, object_id, subscription_item
from portal.practices import (
    audit,
    balance,
    discounts,
    invoice_mirror,
    mirror,
    prices,
    proration,
    schedule_mirror,
    switch_now,
    unconfirmed,
)
from portal.practices.errors import NOT_COLLECTED, BankCheckNeeded, PracticeError
from portal.practices.history import invoice_by_id, invoice_of, open_invoice
from portal.practices.members import require_manager
from portal.practices.models import (
    Plan,
    Practice,
    PracticeInvoice,
)
from portal.practices.notifications import decline_reason
from portal.practices.plans import currency_of, plan_price_id
from portal.promotions.words import said_amount
from portal.users.models import User
from portal.wallet.models import PaymentMethod
from portal.words import stored_words

log = logging.getLogger(__name__)


def attempt_token() -> str:
    """One per rendered action form: a double submit reuses it, so Stripe sees one request."""
    return secrets.token_hex(8)


def _require_subscription(practice: Practice) -> str:
    if not practice.subscription_live:
        raise PracticeError(_("This practice has no active subscription."))
    return practice.stripe_subscription_id


def apply_fresh_subscription(subscription: object) -> None:
    """Mirror a subscription just fetched, stamped with Stripe's clock (``stripe_time``), the clock
    of its events: ours may run behind it (the sandbox's clock is advanced in tests and demos)."""
    mirror.apply_subscription(subscription, stripe_time(subscription), fresh=True)


def cancel_subscription(practice: Practice, reason: str, actor: User, attempt: str | None = None) -> None:
    """Cancel at the end of the paid period; the reason is kept (here and at Stripe)."""
    require_manager(practice, actor)
    subscription_id = _require_subscription(practice)
    if practice.cancel_at_period_end or practice.cancel_at:
        ends = practice.cancel_at or practice.current_period_end
        if ends:
            raise PracticeError(
                _(
                    "The subscription is already set to end on %(day)s. Nothing was changed.",
                    day=format_date(ends),
                )
            )
        raise PracticeError(_("The subscription is already set to end. Nothing was changed."))
    reason = reason.strip()[:500]
    if not reason:
        raise PracticeError(_("Please tell us why you are cancelling."))

    def asked() -> None:  # written when the person asks, whatever Stripe answers later
        practice.cancellation_reason = reason
        audit.record(practice, "cancel_requested", reason, actor_id=actor.id)

    params = {"cancel_at_period_end": True, "cancellation_details": {"comment": reason}}
    key = ("cancel", subscription_id, attempt or attempt_token())
    _drop_pending_switch(practice, key, actor, practice.schedule_id)
    try:
        subscription = unconfirmed.send(
            practice, unconfirmed.subscription_update(subscription_id, params, key), asked
        )
    except InvalidRequest:
        # A schedule the page does not show manages it (a switch an outage cut short, attack 3 F11,
        # or one made in the Dashboard): Stripe refuses the end until that schedule is released.
        named = object_id(
            as_dict(stripe_subscriptions.retrieve_subscription(subscription_id)).get("schedule")
        )
        if not named:
            raise
        key = (*key, "released", named)
        _drop_pending_switch(practice, key, actor, named)
        subscription = unconfirmed.send(
            practice, unconfirmed.subscription_update(subscription_id, params, key), asked
        )
    asked()
    apply_fresh_subscription(subscription)
    db.session.commit()


def _drop_pending_switch(practice: Practice, key: tuple, actor: User, schedule_id: str | None) -> None:
    """A cancellation replaces a switch waiting for the period's end: Stripe refuses to set the end
    of a subscription its schedule manages, so the schedule is released first (the Undo's call)."""
    if not schedule_id:
        return
    try:
        released = stripe_schedules.release_schedule(schedule_id, key)
    except InvalidRequest:  # released or ended meanwhile: as it is now
        released = stripe_schedules.retrieve_schedule(schedule_id)
    schedule_mirror.apply_schedule(practice, released, actor_id=actor.id, undone_as="plan_switch_dropped")


def resume_subscription(practice: Practice, actor: User, attempt: str | None = None) -> None:
    """Undo a scheduled cancellation before the period ends."""
    require_manager(practice, actor)
    subscription_id = _require_subscription(practice)
    if not (practice.cancel_at_period_end or practice.cancel_at):
        raise PracticeError(_("The subscription is not set to end, so there is nothing to resume."))
    key = ("resume", subscription_id, attempt or attempt_token())
    subscription = unconfirmed.send(
        practice,
        unconfirmed.subscription_update(subscription_id, {"cancel_at_period_end": False}, key),
        lambda: audit.record(practice, "resume_requested", actor_id=actor.id),
    )
    practice.cancellation_reason = None
    audit.record(practice, "resumed", actor_id=actor.id)
    apply_fresh_subscription(subscription)
    db.session.commit()


@dataclass(frozen=True)
class PlanChangePreview:
    plan: Plan
    amount_due: int
    currency: str
    proration_date: int
    lines: list[tuple[str, int]]
    #: The switch's total before the customer's balance: negative, the unused time left over.
    total: int = 0
    #: Credit on the customer's balance this switch's invoice would use.
    credit_applied: int = 0
    #: Every 6 months -> Monthly: offered at the period's end first (``plan_changes``).
    downgrade: bool = False
    #: The promotion code the preview includes (issue 17).
    code: str | None = None
    #: What each discount takes off this invoice, named ("Promotion code AMT10", "Your 30% off"),
    #: from Stripe's ``total_discount_amounts``: negative when it shrinks a proration credit.
    discounts: list[tuple[str, int]] = field(default_factory=list)
    #: The confirm form's ``proration_date``: the date signed for this practice and plan (``proration``).
    proration_token: str = ""
    #: When a switch now is possible again (Stripe's clock), if not now (``switch_now``).
    switch_now_from: int | None = None
    #: Why a switch now is not offered: the current period is not paid for (``switch_now.unsettled``).
    unsettled: str | None = None
    #: On a free trial: the switch changes the plan the trial turns into; nothing is charged now.
    trial_end: dt.datetime | None = None
    #: The typed code's coupon as a discount from now (``prices.coupon_term``): the price said after.
    code_terms: dict | None = None

    @property
    def left_over(self) -> int:
        """Unused time beyond what the switch costs: it becomes credit on the customer's balance."""
        return max(0, -self.total)


def code_refusal(practice: Practice, promotion: dict | None) -> str | None:
    """Why this practice cannot use the resolved code on a switch, in words, or None: a code counts
    once per practice, and not on a trial's switch (second attack N3: the same code re-added at each
    switch stacked its discount again and again, without limit during a trial). The views say it
    under the code field, the preview kept without the code (third attack F3)."""
    if not promotion:
        return None
    code = promotion["code"]
    if practice.on_trial:
        return _(
            "%(code)s cannot be used now: during the free trial a switch charges nothing, so there is "
            "nothing for a code to take off.",
            code=code,
        )
    return discounts.used_code_refusal(practice, code)


def _refuse_reused_code(practice: Practice, promotion: dict | None) -> None:
    refusal = code_refusal(practice, promotion)
    if refusal is not None:
        raise PracticeError(refusal)


def _with_code(practice: Practice, promotion: dict | None) -> list[dict]:
    """The subscription's discounts kept, plus the promotion code's (a code this practice has not
    used yet: ``_refuse_reused_code``)."""
    _refuse_reused_code(practice, promotion)
    keep = [{"discount": d} for d in (practice.discount_ids or "").split(",") if d]
    return [*keep, {"promotion_code": promotion["id"]}] if promotion else keep


def _switch_params(subscription: object, plan: Plan, currency: str) -> tuple[list[dict], str]:
    item = subscription_item(subscription)
    if not item:
        raise PracticeError(_("The subscription has no plan to switch."))
    return [{"id": item["id"], "price": plan_price_id(plan, currency)}], item["id"]


def _plan_switch(practice: Practice, plan: Plan, actor: User) -> tuple[str, list[dict], int, dict]:
    """Who may switch, that there is something to switch, the item change that does it, and
    Stripe's clock as it answered (the proration date: Stripe prorates on its own clock)."""
    require_manager(practice, actor)
    subscription_id = _require_subscription(practice)
    if practice.plan == plan:
        raise PracticeError(_("The practice is already on the %(plan)s plan.", plan=plan.label))
    if practice.pending_plan is not None:
        raise PracticeError(
            _(
                "A switch to %(plan)s is waiting for the period's end. Undo it first.",
                plan=practice.pending_plan.label,
            ),
            status=409,
        )
    subscription = stripe_subscriptions.retrieve_subscription(subscription_id)
    items, _item_id = _switch_params(subscription, plan, currency_of(practice))
    return subscription_id, items, stripe_time(subscription), as_dict(subscription)


def _period_start(subscription: dict) -> int | None:
    item = subscription_item(subscription) or {}
    start = item.get("current_period_start") or subscription.get("current_period_start")
    return int(start) if start else None


def preview_plan_change(
    practice: Practice, plan: Plan, actor: User, promotion: dict | None = None
) -> PlanChangePreview:
    """What switching to ``plan`` costs now (prorated), from ``invoices.create_preview``;
    ``promotion``: a resolved promotion code to include."""
    subscription_id, items, proration_date, _ = _plan_switch(practice, plan, actor)
    details: dict = {"items": items, "proration_behavior": "always_invoice", "proration_date": proration_date}
    _refuse_reused_code(practice, promotion)
    if practice.on_trial:  # nothing now: the invoice at the trial's end, on the new plan
        details = {"items": items, "proration_behavior": "none"}
    params: dict = {
        "customer": practice.stripe_customer_id,
        "subscription": subscription_id,
        "subscription_details": details,
    }
    if promotion:
        params["discounts"] = _with_code(practice, promotion)
    preview = as_dict(stripe_invoices.preview_invoice(params))
    lines = [
        (line.get("description") or "", int(line.get("amount") or 0))
        for line in ((preview.get("lines") or {}).get("data") or [])
    ]
    total = int(preview.get("total") or 0)
    amount_due = int(preview.get("amount_due") or 0)
    if practice.on_trial:
        return PlanChangePreview(
            plan=plan,
            amount_due=0,
            currency=preview.get("currency") or currency_of(practice),
            proration_date=proration_date,
            lines=[],
            proration_token=proration.issue(practice.id, plan, proration_date),
            trial_end=practice.trial_end,
        )
    return PlanChangePreview(
        plan=plan,
        amount_due=amount_due,
        currency=preview.get("currency") or currency_of(practice),
        proration_date=proration_date,
        lines=lines,
        total=total,
        credit_applied=max(0, total - amount_due) if int(preview.get("starting_balance") or 0) < 0 else 0,
        downgrade=practice.plan == Plan.SEMIANNUAL and plan == Plan.MONTHLY,
        code=promotion["code"] if promotion else None,
        code_terms=prices.coupon_term(promotion.get("coupon") or {}) if promotion else None,
        discounts=discount_shares(practice, preview, promotion["code"] if promotion else None),
        proration_token=proration.issue(practice.id, plan, proration_date),
        switch_now_from=switch_now.next_possible(practice, proration_date),
        unsettled=switch_now.unsettled_message(practice),
    )


def discount_shares(practice: Practice, preview: dict, code: str | None) -> list[tuple[str, int]]:
    """Each discount of the previewed invoice with what it takes off (none that takes nothing): the
    subscription's own by their terms, any other one the typed code's."""
    own = {term.get("id"): term.get("summary") for term in practice.discount_terms or []}
    shares = []
    for entry in preview.get("total_discount_amounts") or []:
        amount, discount = int(entry.get("amount") or 0), object_id(entry.get("discount"))
        if not amount:
            continue
        if discount in own or not code:
            name = (
                _("Your discount (%(terms)s)", terms=said_amount(own[discount]))
                if own.get(discount)
                else _("Your discount")
            )
        else:
            name = _("Promotion code %(code)s", code=code)
        shares.append((name, amount))
    return shares


def change_plan(
    practice: Practice,
    plan: Plan,
    actor: User,
    proration_date: int | None = None,
    attempt: str | None = None,
    promotion: dict | None = None,
) -> None:
    """Switch Monthly <-> every 6 months, invoicing the prorated difference now (``promotion``: a
    resolved promotion code, applied with the switch). ``proration_date``: the preview's (already
    checked as the portal's own by ``proration.verified``), refused when no longer recent on Stripe's
    clock (``proration.StalePreview``); at most one switch now per ``switch_now`` window."""
    subscription_id, items, stripe_now, subscription = _plan_switch(practice, plan, actor)
    trial = practice.on_trial
    if not trial:
        switch_now.require_settled(practice)
        switch_now.require_allowed(practice, stripe_now)
    # On a free trial, as Stripe does it: no proration, the trial kept, the new plan billed at its end.
    params: dict = {"items": items, "proration_behavior": "none" if trial else "always_invoice"}
    if promotion:
        params["discounts"] = _with_code(practice, promotion)
    if proration_date and not trial:
        proration.check_recent(int(proration_date), stripe_now, _period_start(subscription))
        params["proration_date"] = int(proration_date)
    change = f"{practice.plan.record_label if practice.plan else '-'} → {plan.record_label}"
    key = ("plan", subscription_id, plan.value, attempt or attempt_token())
    updated = unconfirmed.send(
        practice,
        unconfirmed.subscription_update(subscription_id, params, key),
        lambda: audit.record(practice, "plan_change_requested", change, actor_id=actor.id),
    )
    audit.record(practice, "plan_changed", change, actor_id=actor.id)
    apply_fresh_subscription(updated)
    balance.refresh_balance(practice)  # a switch down leaves its unused time as credit
    if promotion:
        audit.record(
            practice, "promotion_code_used", f"{promotion['code']} with the switch", actor_id=actor.id
        )
        discounts.refresh_discounts(practice, as_dict(updated))
    latest = object_id(as_dict(updated).get("latest_invoice"))
    if latest:
        try:
            fetched = stripe_invoices.retrieve_invoice(latest)
            invoice_mirror.apply_invoice(fetched, stripe_time(fetched), fresh=True)
        except BillingError as error:
            log.warning("could not mirror invoice %s: %s", latest, error)
    db.session.commit()


def _mirror_already_paid(invoice: PracticeInvoice) -> None:
    current = stripe_invoices.retrieve_invoice(invoice.stripe_id)
    invoice_mirror.apply_invoice(current, stripe_time(current), "invoice.paid", fresh=True)
    db.session.commit()


def _invoice_to_pay(practice: Practice, invoice_id: str | None) -> PracticeInvoice:
    if invoice_id:
        invoice = invoice_of(practice, invoice_id)
    else:
        invoice = invoice_by_id(practice.action_required_invoice_id) or open_invoice(practice)
    if invoice is None or invoice.status != "open":
        raise PracticeError(_("There is no open invoice to pay."))
    if not practice.collects(invoice):
        raise PracticeError(NOT_COLLECTED)
    return invoice


def pay_open_invoice(
    practice: Practice, actor: User, attempt: str | None = None, invoice_id: str | None = None
) -> PracticeInvoice:
    """Pay an open invoice now with the practice's default card (``attempt``: the form's key):
    ``invoice_id`` (a row's Pay), else the one waiting for authentication, else the newest."""
    require_manager(practice, actor)
    invoice = _invoice_to_pay(practice, invoice_id)
    card = db.session.scalar(
        sa.select(PaymentMethod).where(
            PaymentMethod.customer_id == practice.stripe_customer_id, PaymentMethod.is_default.is_(True)
        )
    )
    if card is None:
        raise PracticeError(_("Add a card first, then pay the invoice."))
    try:
        key = (invoice.stripe_id, card.stripe_id, attempt or attempt_token())
        paid = unconfirmed.send(
            practice,
            unconfirmed.invoice_payment(invoice.stripe_id, card.stripe_id, key),
            lambda: audit.record(practice, "pay_now_requested", invoice.stripe_id, actor_id=actor.id),
        )
    except AuthenticationRequired as error:
        practice.action_required_invoice_id = invoice.stripe_id
        audit.record(practice, "pay_now_needs_authentication", invoice.stripe_id, actor_id=actor.id)
        db.session.commit()
        # Not a refusal: the way on is the bank's check on the portal's page (``bank_check``). The
        # "please confirm" email is Stripe's event's to send, once per invoice.
        raise BankCheckNeeded(practice.id, invoice.stripe_id) from error
    except CardDeclined as error:
        reason = (
            decline_reason({"decline_code": error.decline_code, "code": error.stripe_code})
            if (error.decline_code or error.stripe_code)
            else error.message
        )
        practice.last_payment_error = reason
        audit.record(practice, "pay_now_failed", f"{invoice.stripe_id}: {reason}", actor_id=actor.id)
        db.session.commit()
        raise PracticeError(stored_words(reason), status=402) from error
    except InvalidRequest as error:  # paid meanwhile (another tab, Stripe's retry): the page shows it paid
        if error.stripe_code != "invoice_already_paid":
            raise
        _mirror_already_paid(invoice)
        raise PracticeError(
            _("This invoice was already paid; nothing more was charged."), status=409
        ) from error
    audit.record(
        practice, "paid_now", f"{invoice.stripe_id} with {card.brand} {card.last4}", actor_id=actor.id
    )
    invoice_mirror.apply_invoice(paid, stripe_time(paid), "invoice.paid", fresh=True)  # Stripe's clock
    if practice.stripe_subscription_id:
        try:
            apply_fresh_subscription(
                stripe_subscriptions.retrieve_subscription(practice.stripe_subscription_id)
            )
        except BillingError as error:
            log.warning("could not refresh subscription practice_id=%s: %s", practice.id, error)
    db.session.commit()
    return invoice
