"""Practice operations: plain functions that views, the CLI and tests call.

Reads (``practices_for``, ``invoice_page``, ...) never call Stripe. Writes that
change billing call Stripe through ``portal.gateway``, apply what Stripe
returned through ``portal.practices.sync`` (the same code the webhooks run),
write an audit line and commit.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Generic, NamedTuple, TypeVar

import sqlalchemy as sa
from flask import current_app, url_for

from portal.auth.models import User
from portal.errors import UserError
from portal.extensions import db
from portal.formatting import format_date
from portal.gateway import checkout as stripe_checkout
from portal.gateway import invoices as stripe_invoices
from portal.gateway import payment_methods as stripe_cards
from portal.gateway import plans as stripe_plans
from portal.gateway import subscriptions as stripe_subscriptions
from portal.gateway.errors import AuthenticationRequired, BillingError, CardDeclined, InvalidRequest
from portal.gateway.gateway import stripe_time
from portal.gateway.shapes import as_dict, object_id, subscription_item
from portal.practices import sync
from portal.practices.customers import (
    create_practice_customer,
    ensure_practice_customer,
    push_practice_contact,
)
from portal.practices.models import (
    BillingAuditEntry,
    MemberRole,
    Plan,
    Practice,
    PracticeInvoice,
    PracticeMember,
)
from portal.practices.notifications import decline_reason
from portal.wallet import mirror as card_mirror
from portal.wallet import services as wallet
from portal.wallet.models import PaymentMethod, SavedCard

log = logging.getLogger(__name__)

ONBOARDING_LOOKUP_KEY = "onboarding_fee"

Line = TypeVar("Line", bound=tuple)


class PracticeError(UserError):
    """A refusal the person can act on."""

    code = "practice_error"

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message, status=status, code=code)


class NotAllowed(PracticeError):
    status = 403
    code = "forbidden"

    def __init__(self, message: str = "Only the practice's owner and admins can manage its billing.") -> None:
        super().__init__(message)


def _now() -> int:
    return int(time.time())


def attempt_token() -> str:
    """One per rendered action form: a double submit reuses it, so Stripe sees one request."""
    return secrets.token_hex(8)


# --- practices and members ---------------------------------------------------------------


def create_practice(owner: User, name: str) -> Practice:
    practice = Practice(name=name.strip())
    practice.members.append(PracticeMember(user_id=owner.id, role=MemberRole.OWNER))
    db.session.add(practice)
    db.session.flush()
    sync.audit(practice, "practice_created", name.strip(), actor_id=owner.id)
    db.session.commit()
    create_practice_customer(practice)
    return practice


# Statements the billing page and the banners on every page run on each request, built once
# (building a statement costs more than SQLite running it; see bench/README.md, page_cost).
_MEMBERSHIP = sa.select(PracticeMember).where(
    PracticeMember.practice_id == sa.bindparam("practice_id"),
    PracticeMember.user_id == sa.bindparam("user_id"),
)
_PRACTICE_OF_MEMBER = (
    sa.select(Practice, PracticeMember)
    .join(PracticeMember, PracticeMember.practice_id == Practice.id)
    .where(Practice.id == sa.bindparam("practice_id"), PracticeMember.user_id == sa.bindparam("user_id"))
)
_PRACTICES_OF_USER = (
    sa.select(Practice, PracticeMember)
    .join(PracticeMember, PracticeMember.practice_id == Practice.id)
    .where(PracticeMember.user_id == sa.bindparam("user_id"))
    .order_by(Practice.name, Practice.id)
)
_MEMBERS = (
    sa.select(PracticeMember)
    .where(PracticeMember.practice_id == sa.bindparam("practice_id"))
    .order_by(sa.case({"owner": 0, "admin": 1}, value=PracticeMember.role, else_=2), PracticeMember.id)
)


class InvoiceLine(NamedTuple):
    """One row of the invoice history, as the table shows it."""

    stripe_id: str
    number: str | None
    created: int
    amount_due: int
    amount_paid: int
    currency: str
    status: str | None
    hosted_invoice_url: str | None
    invoice_pdf: str | None


class AuditLine(NamedTuple):
    """One row of the billing history; ``actor_name`` None means Stripe."""

    created_at: dt.datetime
    action: str
    detail: str | None
    actor_name: str | None


def _history(
    table: sa.Table, columns: list, newest_first: list, source: sa.FromClause | None = None
) -> tuple[sa.Select, sa.Select]:
    """The count and the page statements of one practice's newest-first history.

    The histories are read-only: plain tuples of the columns their tables show, no ORM objects.
    """
    of_practice = table.c.practice_id == sa.bindparam("practice_id")
    count = sa.select(sa.func.count()).select_from(table).where(of_practice)
    rows = (
        sa.select(*columns)
        .select_from(source if source is not None else table)
        .where(of_practice)
        .order_by(*newest_first)
        .limit(sa.bindparam("limit"))
        .offset(sa.bindparam("offset"))
    )
    return count, rows


_audit, _users = BillingAuditEntry.__table__, User.__table__
_AUDIT_COUNT, _AUDIT_PAGE = _history(
    _audit,
    [_audit.c.created_at, _audit.c.action, _audit.c.detail, _users.c.name],
    [_audit.c.created_at.desc(), _audit.c.id.desc()],
    source=_audit.outerjoin(_users, _users.c.id == _audit.c.actor_id),
)
# A page is read through the (practice_id, created, id) index; count(*) (only for a stale link)
# never reads the rows.
_invoices = PracticeInvoice.__table__
_INVOICE_COUNT, _INVOICE_PAGE = _history(
    _invoices,
    [_invoices.c[name] for name in InvoiceLine._fields],
    [_invoices.c.created.desc(), _invoices.c.id.desc()],
)
_OPEN_INVOICE = (
    sa.select(PracticeInvoice)
    .where(PracticeInvoice.practice_id == sa.bindparam("practice_id"), PracticeInvoice.status == "open")
    .order_by(PracticeInvoice.created.desc(), PracticeInvoice.id.desc())
    .limit(1)
)


def practice_of_member(practice_id: int, user: User) -> tuple[Practice, PracticeMember] | None:
    """The practice and the user's place in it; None when the user is not in it (or it is gone)."""
    row = db.session.execute(_PRACTICE_OF_MEMBER, {"practice_id": practice_id, "user_id": user.id}).first()
    return None if row is None else (row[0], row[1])


def membership(practice: Practice, user: User) -> PracticeMember | None:
    return db.session.scalar(_MEMBERSHIP, {"practice_id": practice.id, "user_id": user.id})


def practices_for(user: User) -> list[tuple[Practice, PracticeMember]]:
    rows = db.session.execute(_PRACTICES_OF_USER, {"user_id": user.id}).all()
    return [(practice, member) for practice, member in rows]


def require_manager(practice: Practice, user: User) -> PracticeMember:
    member = membership(practice, user)
    if member is None or not member.manages_billing:
        raise NotAllowed()
    return member


def add_member(practice: Practice, email: str, role: MemberRole, actor: User) -> PracticeMember:
    """Adds an existing user (by email) at once: demo data and tests only. People join a practice
    by accepting an invitation (``portal.practices.invitations``)."""
    actor_membership = membership(practice, actor)
    if actor_membership is None or actor_membership.role != MemberRole.OWNER:
        raise NotAllowed("Only the practice's owner can add people.")
    if role == MemberRole.OWNER:
        raise PracticeError("A practice has one owner.")
    from portal.auth.services import find_user_by_email

    user = find_user_by_email(email)
    if user is None:
        raise PracticeError("No account uses that email address. Ask them to register first.")
    member = membership(practice, user)
    if member is not None:
        if member.role == MemberRole.OWNER:
            raise PracticeError("That person owns this practice.")
        member.role = role
    else:
        member = PracticeMember(practice_id=practice.id, user_id=user.id, role=role)
        db.session.add(member)
    sync.audit(practice, "member_added", f"{user.email} as {role}", actor_id=actor.id)
    db.session.commit()
    return member


def remove_member(practice: Practice, member_id: int, actor: User) -> None:
    actor_membership = membership(practice, actor)
    if actor_membership is None or actor_membership.role != MemberRole.OWNER:
        raise NotAllowed("Only the practice's owner can remove people.")
    member = db.session.get(PracticeMember, member_id)
    if member is None or member.practice_id != practice.id or member.role == MemberRole.OWNER:
        raise PracticeError("That person cannot be removed.", status=404)
    sync.audit(practice, "member_removed", member.user.email, actor_id=actor.id)
    db.session.delete(member)
    db.session.commit()


def transfer_ownership(practice: Practice, member_id: int, actor: User) -> PracticeMember:
    """The owner hands the practice to one of its people, and stays on as an admin.

    Runs when that person accepts the owner's offer (``invitations.accept``), never on the
    owner's click alone.

    The hand-over is a compare-and-swap: only the post that still finds the actor the owner
    demotes them, and the partial unique index (one owner per practice) refuses a second owner
    whatever races. The practice's Stripe customer follows: billing emails go to the new owner.
    """
    actor_membership = membership(practice, actor)
    if actor_membership is None or actor_membership.role != MemberRole.OWNER:
        raise NotAllowed(_ONLY_THE_OWNER)
    member = db.session.get(PracticeMember, member_id)
    if member is None or member.practice_id != practice.id:
        raise PracticeError("That person is not in this practice.", status=404)
    if member.role == MemberRole.OWNER:
        raise PracticeError("That person already owns this practice.")
    try:
        _set_role(actor_membership, MemberRole.OWNER, MemberRole.ADMIN)
        _set_role(member, member.role, MemberRole.OWNER)
    except (_RoleChanged, sa.exc.IntegrityError) as error:
        db.session.rollback()
        raise NotAllowed(_ONLY_THE_OWNER) from error
    db.session.expire_all()
    sync.audit(practice, "ownership_transferred", f"{actor.email} → {member.user.email}", actor_id=actor.id)
    db.session.commit()
    push_practice_contact(practice)
    return member


ONLY_THE_OWNER = _ONLY_THE_OWNER = "Only the practice's owner can hand it over."


class _RoleChanged(Exception):
    """Another request changed the member's role first."""


def _set_role(member: PracticeMember, was: MemberRole, becomes: MemberRole) -> None:
    """``member.role = becomes`` if it still is ``was`` in the database (not just in this session)."""
    changed = db.session.execute(
        sa.update(PracticeMember)
        .where(PracticeMember.id == member.id, PracticeMember.role == was)
        .values(role=becomes)
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed != 1:
        raise _RoleChanged


def members_of(practice: Practice) -> list[PracticeMember]:
    return list(db.session.scalars(_MEMBERS, {"practice_id": practice.id}))


def all_practices(status: str | None = None) -> sa.Select:
    """Every practice (platform admins), by name; optionally of one billing status."""
    query = sa.select(Practice).order_by(Practice.name, Practice.id)
    if status:
        query = query.where(Practice.billing_status == status)
    return query


def owner_of(practice: Practice) -> User | None:
    return next((m.user for m in practice.members if m.role == MemberRole.OWNER), None)


# --- reads for the billing page (no Stripe call) -----------------------------------------


@dataclass(frozen=True)
class PlanOffer:
    plan: Plan
    amount: int
    currency: str


def plan_offers() -> list[PlanOffer]:
    cfg = current_app.config
    return [
        PlanOffer(Plan.MONTHLY, cfg["BILLING_MONTHLY_PRICE"], cfg["BILLING_CURRENCY"]),
        PlanOffer(Plan.SEMIANNUAL, cfg["BILLING_SEMIANNUAL_PRICE"], cfg["BILLING_CURRENCY"]),
    ]


def plan_offer(plan: Plan | None, offers: list[PlanOffer]) -> PlanOffer | None:
    return next((offer for offer in offers if offer.plan == plan), None)


def onboarding_fee() -> tuple[int, str]:
    return current_app.config["BILLING_ONBOARDING_FEE"], current_app.config["BILLING_CURRENCY"]


@dataclass(frozen=True)
class Page(Generic[Line]):
    """One page of a newest-first history, numbered from 1."""

    items: list[Line]
    page: int
    has_older: bool

    @property
    def has_newer(self) -> bool:
        return self.page > 1


def _page_of(
    line: type[Line], count: sa.Select, rows: sa.Select, practice: Practice, page: int, per_page: int
) -> Page[Line]:
    """``page`` of ``rows`` as ``line`` tuples; both statements share parameters.

    One row past the page tells whether older ones follow, so the page drawn on every visit never
    counts the history. Only a page number past the end (a stale link) counts it, to show the
    last page rather than an empty one.
    """
    params = {"practice_id": practice.id}

    def rows_from(page: int) -> list[sa.Row]:
        return db.session.execute(
            rows, {**params, "limit": per_page + 1, "offset": (page - 1) * per_page}
        ).all()

    page = max(1, page)
    found = rows_from(page)
    if not found and page > 1:
        page = max(1, -(-db.session.scalar(count, params) // per_page))
        found = rows_from(page)
    return Page([line._make(row) for row in found[:per_page]], page, len(found) > per_page)


#: The billing page shows the latest invoices, as the account page shows the first cards; Older
#: pages back through the rest (a summary page, drawn on every visit: each row is a good part of it).
INVOICES_SHOWN = 5


def invoice_page(practice: Practice, page: int = 1, per_page: int = INVOICES_SHOWN) -> Page[InvoiceLine]:
    return _page_of(InvoiceLine, _INVOICE_COUNT, _INVOICE_PAGE, practice, page, per_page)


def audit_page(practice: Practice, page: int = 1, per_page: int = 25) -> Page[AuditLine]:
    """The billing history: who changed what, and when."""
    return _page_of(AuditLine, _AUDIT_COUNT, _AUDIT_PAGE, practice, page, per_page)


def open_invoice(practice: Practice) -> PracticeInvoice | None:
    """The newest unpaid invoice of the practice's current subscription."""
    return db.session.scalar(_OPEN_INVOICE, {"practice_id": practice.id})


def invoice_by_id(stripe_id: str | None) -> PracticeInvoice | None:
    if not stripe_id:
        return None
    return db.session.scalar(sa.select(PracticeInvoice).where(PracticeInvoice.stripe_id == stripe_id))


def awaiting_payment(practice: Practice) -> bool:
    """Back from Checkout, the payment not confirmed yet: the page shows "processing"."""
    return practice.checkout_session_id is not None and practice.billing_status == "REQUIRED"


# --- plans and Stripe prices ---------------------------------------------------------------


def plan_definitions() -> list[dict]:
    """What ``flask billing bootstrap`` creates: amounts and currency from config."""
    cfg = current_app.config
    currency = cfg["BILLING_CURRENCY"]
    return [
        {
            "lookup_key": ONBOARDING_LOOKUP_KEY,
            "product": "Practice onboarding",
            "nickname": "Onboarding fee",
            "unit_amount": cfg["BILLING_ONBOARDING_FEE"],
            "currency": currency,
            "recurring": None,
        },
        {
            "lookup_key": Plan.MONTHLY.lookup_key,
            "product": "Practice subscription",
            "nickname": "Monthly",
            "unit_amount": cfg["BILLING_MONTHLY_PRICE"],
            "currency": currency,
            "recurring": {"interval": "month", "interval_count": 1},
        },
        {
            "lookup_key": Plan.SEMIANNUAL.lookup_key,
            "product": "Practice subscription",
            "nickname": "Every 6 months",
            "unit_amount": cfg["BILLING_SEMIANNUAL_PRICE"],
            "currency": currency,
            "recurring": {"interval": "month", "interval_count": 6},
        },
    ]


def bootstrap_plans() -> list[tuple[str, str, bool]]:
    """Create the products and prices that are missing: [(lookup_key, price id, created)]."""
    definitions = plan_definitions()
    existing = stripe_plans.find_prices([d["lookup_key"] for d in definitions])
    products: dict[str, str] = {}
    for price in existing.values():
        products.setdefault(_product_name(price), object_id(as_dict(price).get("product")))
    result = []
    for definition in definitions:
        key = definition["lookup_key"]
        price = existing.get(key)
        if (
            price is not None
            and price.unit_amount == definition["unit_amount"]
            and price.currency == (definition["currency"])
        ):
            result.append((key, price.id, False))
            continue
        product_id = products.get(definition["product"])
        if product_id is None:
            product = stripe_plans.create_product(
                definition["product"],
                key=definition["product"].lower().replace(" ", "-"),
                metadata={"portal": "practice_billing"},
            )
            product_id = products[definition["product"]] = product.id
        created = stripe_plans.create_price(
            product_id=product_id,
            lookup_key=key,
            unit_amount=definition["unit_amount"],
            currency=definition["currency"],
            recurring=definition["recurring"],
            nickname=definition["nickname"],
        )
        result.append((key, created.id, True))
    _price_cache().clear()
    return result


def _product_name(price: object) -> str:
    product = as_dict(price).get("product")
    return product.get("name", "") if isinstance(product, dict) else ""


def _price_cache() -> dict[str, str]:
    return current_app.extensions.setdefault("practice_price_ids", {})


def price_id(lookup_key: str) -> str:
    """The Stripe price id for a lookup key (found once per process, then cached)."""
    cache = _price_cache()
    if lookup_key not in cache:
        keys = [d["lookup_key"] for d in plan_definitions()]
        cache.update({key: price.id for key, price in stripe_plans.find_prices(keys).items()})
    if lookup_key not in cache:
        raise PracticeError("Plans are not set up yet. An administrator must run `flask billing bootstrap`.")
    return cache[lookup_key]


# --- subscribing through Checkout ----------------------------------------------------------


def start_checkout(practice: Practice, plan: Plan, actor: User) -> str:
    """A Checkout session for ``plan`` (plus the onboarding fee until it is paid); returns its URL.

    A double click of one form returns the same session (the view runs it once per form key,
    ``intents``); every new start makes a new session, and the older open ones are expired.
    """
    require_manager(practice, actor)
    if practice.subscription_live and practice.subscription_status != "incomplete":
        raise PracticeError("This practice already has a subscription.")
    customer_id = ensure_practice_customer(practice)
    with_onboarding = practice.onboarding_paid_at is None
    line_items = [{"price": price_id(plan.lookup_key), "quantity": 1}]
    if with_onboarding:
        line_items.append({"price": price_id(ONBOARDING_LOOKUP_KEY), "quantity": 1})
    success_url = (
        url_for("practices.checkout_return", practice_id=practice.id, _external=True)
        + "?session_id={CHECKOUT_SESSION_ID}"
    )
    metadata = {
        "practiceId": str(practice.id),
        "plan": plan.value,
        "onboarding": "1" if with_onboarding else "0",
        "startedAt": str(time.time_ns()),  # orders checkouts started within one second
    }
    session = stripe_checkout.create_subscription_session(
        {
            "customer": customer_id,
            "client_reference_id": str(practice.id),
            "line_items": line_items,
            "metadata": metadata,
            # The subscription keeps when its checkout started: of two paid within one second
            # (Stripe's times are whole seconds), ``duplicates`` keeps the one started first.
            "subscription_data": {
                "metadata": {"practiceId": str(practice.id), "startedAt": metadata["startedAt"]}
            },
            "success_url": success_url,
            "cancel_url": url_for("practices.billing", practice_id=practice.id, _external=True),
        },
        key=(customer_id, plan.value, practice.checkout_generation, metadata["startedAt"]),
    )
    sync.audit(practice, "checkout_started", f"{plan.label}, session {session.id}", actor_id=actor.id)
    db.session.commit()
    expire_older_checkouts(customer_id, session)
    return session.url


def expire_older_checkouts(customer_id: str, session: object) -> None:
    """Only the newest Checkout of a practice can be paid: the older open ones are expired.

    Two tabs starting at once each expire only what started before their own session (our
    clock's nanoseconds in its metadata, then the id), so exactly the newest stays open. One
    paid in the meantime cannot be expired; ``duplicates`` then cancels the second subscription.
    """
    mine = _started(session)
    try:
        open_sessions = stripe_checkout.list_open_sessions(customer_id)
    except BillingError as error:
        log.warning("could not list open checkouts customer=%s: %s", customer_id, error)
        return
    for other in open_sessions:
        if other.id == session.id or other.mode != "subscription" or _started(other) > mine:
            continue
        try:
            stripe_checkout.expire_session(other.id)
        except BillingError as error:  # paid or expired meanwhile, or Stripe unreachable
            log.info("could not expire checkout %s: %s", other.id, error)


def _started(session: object) -> tuple[int, str]:
    started = str((as_dict(session).get("metadata") or {}).get("startedAt") or "")
    return (int(started) if started.isdigit() else int(session.created) * 10**9, session.id)


def complete_checkout(practice: Practice, session_id: str) -> Practice:
    """The success page: retrieve the session and run the same fulfilment as the webhook."""
    session = as_dict(stripe_checkout.retrieve_session(session_id))
    if str((session.get("metadata") or {}).get("practiceId")) != str(practice.id):
        raise PracticeError("That checkout belongs to another practice.", status=404)
    if session.get("status") == "complete":
        sync.fulfil_checkout_session(session, _now(), fresh=True)
        practice.checkout_session_id = session["id"]
        db.session.commit()
        _adopt_checkout_card(practice, session)
    elif session.get("status") == "expired" and practice.checkout_session_id == session["id"]:
        practice.checkout_session_id = None  # nothing is coming: stop "processing"
        db.session.commit()
    return practice


def refresh_processing(practice: Practice) -> Practice:
    """While "processing": look at the checkout session again (webhooks may be slow or absent)."""
    if awaiting_payment(practice):
        try:
            complete_checkout(practice, practice.checkout_session_id)
        except BillingError as error:
            log.info("checkout refresh failed practice_id=%s: %s", practice.id, error)
    return practice


def _adopt_checkout_card(practice: Practice, session: dict) -> None:
    """Mirror the card paid with at Checkout and make it the customer's default."""
    subscription = session.get("subscription")
    card_id = (
        object_id(as_dict(subscription).get("default_payment_method"))
        if isinstance(subscription, dict)
        else None
    )
    try:
        for payment_method in stripe_cards.list_payment_methods(practice.stripe_customer_id):
            card_mirror.upsert_payment_method(payment_method, synced_at=_now())
        db.session.commit()
        if card_id and db.session.scalar(
            sa.select(PaymentMethod.id).where(PaymentMethod.stripe_id == card_id)
        ):
            wallet.make_default(practice_wallet(practice), card_id)
    except (BillingError, wallet.WalletError) as error:
        log.warning("could not mirror the checkout card practice_id=%s: %s", practice.id, error)


# --- managing the subscription --------------------------------------------------------------


def _require_subscription(practice: Practice) -> str:
    if not practice.subscription_live:
        raise PracticeError("This practice has no active subscription.")
    return practice.stripe_subscription_id


def _apply_fresh_subscription(subscription: object) -> None:
    sync.apply_subscription(subscription, _now(), fresh=True)


def cancel_subscription(practice: Practice, reason: str, actor: User, attempt: str | None = None) -> None:
    """Cancel at the end of the paid period; the reason is kept (here and at Stripe)."""
    require_manager(practice, actor)
    subscription_id = _require_subscription(practice)
    if practice.cancel_at_period_end or practice.cancel_at:
        ends = practice.cancel_at or practice.current_period_end
        when = f" on {format_date(ends)}" if ends else ""
        raise PracticeError(f"The subscription is already set to end{when}. Nothing was changed.")
    reason = reason.strip()[:500]
    if not reason:
        raise PracticeError("Please tell us why you are cancelling.")
    subscription = stripe_subscriptions.update_subscription(
        subscription_id,
        {"cancel_at_period_end": True, "cancellation_details": {"comment": reason}},
        key=("cancel", subscription_id, attempt or attempt_token()),
    )
    practice.cancellation_reason = reason
    sync.audit(practice, "cancel_requested", reason, actor_id=actor.id)
    _apply_fresh_subscription(subscription)
    db.session.commit()


def resume_subscription(practice: Practice, actor: User, attempt: str | None = None) -> None:
    """Undo a scheduled cancellation before the period ends."""
    require_manager(practice, actor)
    subscription_id = _require_subscription(practice)
    if not (practice.cancel_at_period_end or practice.cancel_at):
        raise PracticeError("The subscription is not set to end, so there is nothing to resume.")
    subscription = stripe_subscriptions.update_subscription(
        subscription_id,
        {"cancel_at_period_end": False},
        key=("resume", subscription_id, attempt or attempt_token()),
    )
    practice.cancellation_reason = None
    sync.audit(practice, "resumed", actor_id=actor.id)
    _apply_fresh_subscription(subscription)
    db.session.commit()


@dataclass(frozen=True)
class PlanChangePreview:
    plan: Plan
    amount_due: int
    currency: str
    proration_date: int
    lines: list[tuple[str, int]]


def _switch_params(subscription: object, plan: Plan) -> tuple[list[dict], str]:
    item = subscription_item(subscription)
    if not item:
        raise PracticeError("The subscription has no plan to switch.")
    return [{"id": item["id"], "price": price_id(plan.lookup_key)}], item["id"]


def _plan_switch(practice: Practice, plan: Plan, actor: User) -> tuple[str, list[dict]]:
    """Who may switch, that there is something to switch, and the item change that does it."""
    require_manager(practice, actor)
    subscription_id = _require_subscription(practice)
    if practice.plan == plan:
        raise PracticeError(f"The practice is already on the {plan.label} plan.")
    subscription = stripe_subscriptions.retrieve_subscription(subscription_id)
    items, _ = _switch_params(subscription, plan)
    return subscription_id, items


def preview_plan_change(practice: Practice, plan: Plan, actor: User) -> PlanChangePreview:
    """What switching to ``plan`` costs now (prorated), from ``invoices.create_preview``."""
    subscription_id, items = _plan_switch(practice, plan, actor)
    proration_date = _now()
    preview = as_dict(
        stripe_invoices.preview_invoice(
            {
                "customer": practice.stripe_customer_id,
                "subscription": subscription_id,
                "subscription_details": {
                    "items": items,
                    "proration_behavior": "always_invoice",
                    "proration_date": proration_date,
                },
            }
        )
    )
    lines = [
        (line.get("description") or "", int(line.get("amount") or 0))
        for line in ((preview.get("lines") or {}).get("data") or [])
    ]
    return PlanChangePreview(
        plan=plan,
        amount_due=int(preview.get("amount_due") or 0),
        currency=preview.get("currency") or current_app.config["BILLING_CURRENCY"],
        proration_date=proration_date,
        lines=lines,
    )


def change_plan(
    practice: Practice, plan: Plan, actor: User, proration_date: int | None = None, attempt: str | None = None
) -> None:
    """Switch Monthly <-> every 6 months, invoicing the prorated difference now."""
    subscription_id, items = _plan_switch(practice, plan, actor)
    params: dict = {"items": items, "proration_behavior": "always_invoice"}
    if proration_date:
        params["proration_date"] = int(proration_date)
    updated = stripe_subscriptions.update_subscription(
        subscription_id, params, key=("plan", subscription_id, plan.value, attempt or attempt_token())
    )
    previous = practice.plan
    sync.audit(
        practice, "plan_changed", f"{previous.label if previous else '-'} → {plan.label}", actor_id=actor.id
    )
    _apply_fresh_subscription(updated)
    latest = object_id(as_dict(updated).get("latest_invoice"))
    if latest:
        try:
            sync.apply_invoice(stripe_invoices.retrieve_invoice(latest), _now(), fresh=True)
        except BillingError as error:
            log.warning("could not mirror invoice %s: %s", latest, error)
    db.session.commit()


def pay_open_invoice(practice: Practice, actor: User, attempt: str | None = None) -> PracticeInvoice:
    """Pay the open invoice now with the practice's default card (``attempt``: the form's key)."""
    require_manager(practice, actor)
    invoice = invoice_by_id(practice.action_required_invoice_id) or open_invoice(practice)
    if invoice is None or invoice.status != "open":
        raise PracticeError("There is no open invoice to pay.")
    card = db.session.scalar(
        sa.select(PaymentMethod).where(
            PaymentMethod.customer_id == practice.stripe_customer_id, PaymentMethod.is_default.is_(True)
        )
    )
    if card is None:
        raise PracticeError("Add a card first, then pay the invoice.")
    try:
        paid = stripe_invoices.pay_invoice(
            invoice.stripe_id,
            card.stripe_id,
            key=(invoice.stripe_id, card.stripe_id, attempt or attempt_token()),
        )
    except AuthenticationRequired as error:
        practice.action_required_invoice_id = invoice.stripe_id
        sync.audit(practice, "pay_now_needs_authentication", invoice.stripe_id, actor_id=actor.id)
        db.session.commit()
        raise PracticeError(
            "Your bank needs you to confirm this payment. Use “Complete authentication”.", status=402
        ) from error
    except CardDeclined as error:
        reason = (
            decline_reason({"decline_code": error.decline_code, "code": error.stripe_code})
            if (error.decline_code or error.stripe_code)
            else error.message
        )
        practice.last_payment_error = reason
        sync.audit(practice, "pay_now_failed", f"{invoice.stripe_id}: {reason}", actor_id=actor.id)
        db.session.commit()
        raise PracticeError(reason, status=402) from error
    except InvalidRequest as error:  # paid meanwhile (another tab, Stripe's retry): the page shows it paid
        if error.stripe_code != "invoice_already_paid":
            raise
        current = stripe_invoices.retrieve_invoice(invoice.stripe_id)
        sync.apply_invoice(current, stripe_time(current), "invoice.paid", fresh=True)
        db.session.commit()
        raise PracticeError("This invoice was already paid; nothing more was charged.", status=409) from error
    sync.audit(practice, "paid_now", f"{invoice.stripe_id} with {card.brand} {card.last4}", actor_id=actor.id)
    sync.apply_invoice(paid, stripe_time(paid), "invoice.paid", fresh=True)  # Stripe's clock, as its events
    if practice.stripe_subscription_id:
        try:
            _apply_fresh_subscription(
                stripe_subscriptions.retrieve_subscription(practice.stripe_subscription_id)
            )
        except BillingError as error:
            log.warning("could not refresh subscription practice_id=%s: %s", practice.id, error)
    db.session.commit()
    return invoice


# --- the practice's wallet -------------------------------------------------------------------


def practice_wallet(practice: Practice) -> wallet.Wallet:
    """The practice's cards; the default card is protected while a subscription bills it."""
    return wallet.Wallet(
        customer_id=ensure_practice_customer(practice),
        owner=("practice", practice.id),
        protects_default_card=practice.subscription_live,
    )


def add_card(practice: Practice, setup_intent_id: str, actor: User) -> PaymentMethod:
    """Mirror the card Stripe.js saved to the practice's customer, and audit it."""
    require_manager(practice, actor)
    card = wallet.complete_card_setup(practice_wallet(practice), setup_intent_id)
    sync.audit(practice, "card_added", f"{card.brand} {card.last4}", actor_id=actor.id)
    db.session.commit()
    return card


def remove_card(practice: Practice, payment_method_id: str, actor: User) -> SavedCard | None:
    """Detach one of the practice's cards (not the default of a live subscription), and audit it;
    the card that became the default, if it changed."""
    require_manager(practice, actor)
    new_default = wallet.remove_card(practice_wallet(practice), payment_method_id)
    sync.audit(practice, "card_removed", payment_method_id, actor_id=actor.id)
    db.session.commit()
    return new_default


def make_default_card(practice: Practice, payment_method_id: str, actor: User) -> None:
    """The customer's default card, and the subscription's, so renewals charge it."""
    require_manager(practice, actor)
    wallet.make_default(practice_wallet(practice), payment_method_id)
    if practice.subscription_live:
        subscription = stripe_subscriptions.update_subscription(
            practice.stripe_subscription_id,
            {"default_payment_method": payment_method_id},
            key=("default-pm", practice.stripe_subscription_id, payment_method_id),
        )
        _apply_fresh_subscription(subscription)
    sync.audit(practice, "default_card_changed", payment_method_id, actor_id=actor.id)
    db.session.commit()
