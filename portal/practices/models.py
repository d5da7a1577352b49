"""Practices, their members, the local invoice mirror and the billing audit log."""

from __future__ import annotations

import datetime as dt
import enum
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.database import NEVER_REUSED_IDS, TimestampMixin, surrogate_id, utcnow
from portal.extensions import db
from portal.practices.countries import tax_id_label
from portal.practices.kinds import MemberRole, Plan
from portal.practices.status import (
    COLLECTING_STATES,
    BillingFacts,
    BillingStatus,
    access_until,
    derive_billing_status,
    has_access,
)
from portal.users.models import StripeSyncState, User


def _enum(cls: type[enum.Enum], length: int = 16) -> sa.Enum:
    return sa.Enum(cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e])


class Practice(TimestampMixin, db.Model):
    """A clinic: its own Stripe customer and subscription (in its ``currency``, set once), mirrored here."""

    __tablename__ = "practices"
    __table_args__ = (
        # A unique index, not a constraint: SQLite adds it without rebuilding the table.
        sa.Index("uq_practices_creation_key", "creation_key", unique=True),
        NEVER_REUSED_IDS,
    )

    id: Mapped[int] = surrogate_id()
    name: Mapped[str] = mapped_column(sa.String(120))
    deactivated: Mapped[bool] = mapped_column(default=False)
    #: Why the platform closed it, as the admin typed it: its billing managers read it.
    closed_reason: Mapped[str | None] = mapped_column(sa.String(400))
    #: The IANA time zone its pages write dates in (``portal.i18n.default_practice_timezone`` at
    #: creation: Asia/Ho_Chi_Minh for a Vietnamese practice); None: each reader's own.
    timezone: Mapped[str | None] = mapped_column(sa.String(64))
    #: Unique for the practice's whole life (ids start again when a database is reset or restored):
    #: scopes Stripe idempotency keys and the metadata search for its customer.
    stripe_ref: Mapped[str] = mapped_column(sa.String(32), unique=True, default=lambda: uuid.uuid4().hex)
    stripe_customer_id: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    currency: Mapped[str] = mapped_column(sa.String(3), server_default="usd")  #: usd or vnd (Stripe fixes it)
    #: "<owner id>:<key of the create form as rendered>": concurrent posts of one form make one practice.
    creation_key: Mapped[str | None] = mapped_column(sa.String(80))
    #: A billing call Stripe may have received but never answered (its outcome unknown), to send
    #: again with the same Idempotency-Key once Stripe answers (``portal.practices.unconfirmed``).
    unconfirmed_call: Mapped[dict | None] = mapped_column(sa.JSON(none_as_null=True))
    stripe_sync: Mapped[StripeSyncState] = mapped_column(
        _enum(StripeSyncState), default=StripeSyncState.PENDING
    )
    stripe_subscription_id: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    checkout_session_id: Mapped[str | None] = mapped_column(sa.String(255))
    #: Bumped when a subscription ends, so "subscribe again" gets a fresh idempotency key.
    checkout_generation: Mapped[int] = mapped_column(default=0)

    plan: Mapped[Plan | None] = mapped_column(_enum(Plan))
    billing_status: Mapped[BillingStatus] = mapped_column(
        _enum(BillingStatus), default=BillingStatus.REQUIRED
    )
    onboarding_paid_at: Mapped[dt.datetime | None]
    subscription_status: Mapped[str | None] = mapped_column(sa.String(32))
    cancel_at_period_end: Mapped[bool] = mapped_column(default=False)
    cancel_at: Mapped[dt.datetime | None]
    cancellation_reason: Mapped[str | None] = mapped_column(sa.String(500))
    #: When the subscription's free trial ends (Stripe's ``trial_end``), while it has one.
    trial_end: Mapped[dt.datetime | None]
    #: Payment collection paused (Stripe's ``pause_collection.behavior``, e.g. ``void``): renewals are
    #: not charged, access continues. None: collecting. ``pause_resumes_at``: when Stripe resumes it.
    pause_behavior: Mapped[str | None] = mapped_column(sa.String(32))
    pause_resumes_at: Mapped[dt.datetime | None]
    #: Why a platform admin paused collection, as typed (History keeps who).
    pause_reason: Mapped[str | None] = mapped_column(sa.String(400))
    current_period_start: Mapped[dt.datetime | None]
    current_period_end: Mapped[dt.datetime | None]
    latest_invoice_id: Mapped[str | None] = mapped_column(sa.String(64))
    #: A renewal payment failed: the decline in plain words (cleared when an invoice is paid).
    last_payment_error: Mapped[str | None] = mapped_column(sa.String(500))
    #: The bank wants the payer to authenticate this open invoice (3-D Secure).
    action_required_invoice_id: Mapped[str | None] = mapped_column(sa.String(64))
    #: Stripe time of the newest state applied; older events never overwrite it.
    stripe_state_at: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    #: Bumped by every billing action: a form rendered before another tab acted carries an older
    #: one, and acts not (``portal.practices.intents.in_step``).
    billing_version: Mapped[int] = mapped_column(server_default="0")
    #: The subscription's discount as Stripe has it (issue 17): its ids, the coupon in words and,
    #: for a discount of some months, when it ends (``portal.practices.discounts``).
    discount_ids: Mapped[str | None] = mapped_column(sa.String(255))
    discount_summary: Mapped[str | None] = mapped_column(sa.String(120))
    discount_duration: Mapped[str | None] = mapped_column(sa.String(16))
    discount_end: Mapped[dt.datetime | None]
    #: Every discount, as Stripe stacks them: ``[{"summary": "30% off", "duration": ..., "end": ...}]``.
    discount_terms: Mapped[list | None] = mapped_column(sa.JSON(none_as_null=True))

    #: A plan switch waiting for the period's end (issue 17): the Stripe subscription schedule that
    #: holds it, the plan and when. Mirrored from Stripe (``portal.practices.schedule_mirror``).
    schedule_id: Mapped[str | None] = mapped_column(sa.String(64))
    pending_plan: Mapped[Plan | None] = mapped_column(_enum(Plan))
    pending_plan_at: Mapped[dt.datetime | None]
    #: Stripe's ``customer.balance`` (minor units; negative: credit the next invoices use) and the
    #: Stripe time it was read at (an older ``customer.updated`` never overwrites it).
    customer_balance: Mapped[int] = mapped_column(sa.BigInteger, server_default="0")
    customer_balance_at: Mapped[int] = mapped_column(sa.BigInteger, server_default="0")

    #: Billing details (issue 15), pushed to the Stripe customer and printed on its invoices:
    #: receipts go to ``billing_email`` (else the owner's), ``legal_name`` is the customer's name.
    billing_email: Mapped[str | None] = mapped_column(sa.String(254))
    legal_name: Mapped[str | None] = mapped_column(sa.String(200))
    address_line1: Mapped[str | None] = mapped_column(sa.String(200))
    address_line2: Mapped[str | None] = mapped_column(sa.String(200))
    address_city: Mapped[str | None] = mapped_column(sa.String(100))
    address_state: Mapped[str | None] = mapped_column(sa.String(100))
    address_postal_code: Mapped[str | None] = mapped_column(sa.String(20))
    address_country: Mapped[str | None] = mapped_column(sa.String(2))
    #: Stripe time of the billing details applied last (a save, or Checkout's): older never win.
    billing_details_at: Mapped[int] = mapped_column(sa.BigInteger, server_default="0")
    #: Bumped by every billing details save: an older tab's form saves nothing (``intents.in_step``);
    #: not ``billing_version``, as a save swaps only its own section and the other forms stay good.
    details_version: Mapped[int] = mapped_column(server_default="0")

    members: Mapped[list[PracticeMember]] = relationship(
        back_populates="practice", cascade="all, delete-orphan", passive_deletes=True
    )
    tax_ids: Mapped[list[PracticeTaxId]] = relationship(
        back_populates="practice",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="PracticeTaxId.id",
    )

    @property
    def facts(self) -> BillingFacts:
        return BillingFacts(
            onboarding_paid=self.onboarding_paid_at is not None,
            subscription_status=self.subscription_status,
            deactivated=self.deactivated,
        )

    def refresh_billing_status(self) -> BillingStatus:
        self.billing_status = derive_billing_status(self.facts)
        return self.billing_status

    @property
    def has_access(self) -> bool:
        """The one access rule (``portal.practices.status.has_access``): pages and the API ask this."""
        return has_access(self.billing_status)

    @property
    def access_until(self) -> dt.datetime | None:
        return access_until(self.billing_status, self.current_period_end, self.cancel_at)

    @property
    def owner_email(self) -> str | None:
        owner = next((m.user for m in self.members if m.role == MemberRole.OWNER and m.user), None)
        return owner.email if owner else None

    @property
    def billing_contact_email(self) -> str | None:
        """Where the practice's billing mail (receipts, Stripe's customer email) goes: its billing
        email once set, else its owner's."""
        return self.billing_email or self.owner_email

    @property
    def payment_overdue(self) -> bool:
        """A renewal failed or waits for the payer to authenticate: the page offers "Pay now".

        Otherwise an open invoice is one Stripe is about to charge by itself.
        """
        return self.billing_status == BillingStatus.PAST_DUE or self.action_required_invoice_id is not None

    def collects(self, invoice: object) -> bool:
        """May someone pay this invoice (a row or a line of the practice's)? An open one of no
        subscription, or of the current one while it still collects; not one an ended subscription
        left (``portal.practices.unpaid_invoices``, whose ``PAYABLE`` is this rule in SQL)."""
        if invoice.status != "open":
            return False
        return invoice.subscription_id is None or (
            invoice.subscription_id == self.stripe_subscription_id
            and self.subscription_status in COLLECTING_STATES
        )

    @property
    def on_trial(self) -> bool:
        return self.subscription_status == "trialing" and self.trial_end is not None

    @property
    def collection_paused(self) -> bool:
        """The platform paused payment collection: nothing is charged, access continues."""
        return self.pause_behavior is not None and self.subscription_live

    @property
    def subscription_live(self) -> bool:
        """A subscription that will still bill the default card."""
        return self.stripe_subscription_id is not None and self.subscription_status in {
            "active",
            "trialing",
            "past_due",
            "incomplete",
        }

    def __repr__(self) -> str:
        return f"<Practice {self.id} {self.name!r} {self.billing_status}>"


class PracticeMember(db.Model):
    __tablename__ = "practice_members"

    id: Mapped[int] = surrogate_id()
    practice_id: Mapped[int] = mapped_column(sa.ForeignKey("practices.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[MemberRole] = mapped_column(_enum(MemberRole), default=MemberRole.MEMBER)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    practice: Mapped[Practice] = relationship(back_populates="members")
    user: Mapped[User] = relationship()

    __table_args__ = (
        sa.UniqueConstraint("practice_id", "user_id", name="uq_practice_members_practice_user"),
        # One owner per practice, whatever requests race: the database refuses a second one.
        sa.Index(
            "uq_practice_members_one_owner",
            "practice_id",
            unique=True,
            sqlite_where=sa.text("role = 'owner'"),
            postgresql_where=sa.text("role = 'owner'"),
        ),
        NEVER_REUSED_IDS,
    )

    @property
    def manages_billing(self) -> bool:
        return self.role.manages_billing


class PracticeInvitation(db.Model):
    """A pending invitation to join a practice (role admin or member), or an offer of its ownership
    to one of its members (role owner). Nothing changes until the invitee accepts it; the emailed
    link carries ``nonce``, so a new invitation to the same address ends the old link."""

    __tablename__ = "practice_invitations"

    id: Mapped[int] = surrogate_id()
    practice_id: Mapped[int] = mapped_column(sa.ForeignKey("practices.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(sa.String(254))
    role: Mapped[MemberRole] = mapped_column(_enum(MemberRole))
    invited_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    nonce: Mapped[str] = mapped_column(sa.String(32))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]

    practice: Mapped[Practice] = relationship()
    invited_by: Mapped[User] = relationship()

    __table_args__ = (
        sa.UniqueConstraint("practice_id", "email", name="uq_practice_invitations_practice_email"),
        NEVER_REUSED_IDS,
    )

    @property
    def is_ownership_offer(self) -> bool:
        return self.role == MemberRole.OWNER


class PracticeTaxId(db.Model):
    """A tax ID of the practice, one Stripe tax ID object on its customer (printed on invoices).

    ``stripe_id`` is None for one taken from a Checkout session (which names type and value only)
    until the next save matches it at Stripe.
    """

    __tablename__ = "practice_tax_ids"
    __table_args__ = (
        # One row per tax ID: two saves at once cannot both add it (Stripe's copies are folded too).
        sa.Index("uq_practice_tax_ids_value", "practice_id", "type", "value", unique=True),
        NEVER_REUSED_IDS,
    )

    id: Mapped[int] = surrogate_id()
    practice_id: Mapped[int] = mapped_column(sa.ForeignKey("practices.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(sa.String(16))
    value: Mapped[str] = mapped_column(sa.String(64))
    stripe_id: Mapped[str | None] = mapped_column(sa.String(64))
    #: Stripe's ``verification.status``: pending, verified, unverified or unavailable.
    verification_status: Mapped[str | None] = mapped_column(sa.String(16))

    practice: Mapped[Practice] = relationship(back_populates="tax_ids")

    @property
    def label(self) -> str:
        """ "Vietnam tax ID (MST)": the type in words."""
        return tax_id_label(self.type)


class PracticeInvoice(db.Model):
    """A Stripe invoice of a practice, mirrored so the billing page needs no Stripe call."""

    __tablename__ = "practice_invoices"
    __table_args__ = (
        # The invoice history (newest first, paginated) and "the open invoice" read
        # only a page of rows through these, however long the history grows.
        sa.Index("ix_practice_invoices_history", "practice_id", "created", "id"),
        sa.Index("ix_practice_invoices_by_status", "practice_id", "status", "created"),
        NEVER_REUSED_IDS,
    )

    id: Mapped[int] = surrogate_id()
    practice_id: Mapped[int] = mapped_column(sa.ForeignKey("practices.id", ondelete="CASCADE"))
    stripe_id: Mapped[str] = mapped_column(sa.String(64), unique=True)
    number: Mapped[str | None] = mapped_column(sa.String(64))
    created: Mapped[int] = mapped_column(sa.BigInteger)
    amount_due: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    amount_paid: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    currency: Mapped[str] = mapped_column(sa.String(3))
    status: Mapped[str | None] = mapped_column(sa.String(32))
    billing_reason: Mapped[str | None] = mapped_column(sa.String(64))
    hosted_invoice_url: Mapped[str | None] = mapped_column(sa.String(1000))
    invoice_pdf: Mapped[str | None] = mapped_column(sa.String(1000))
    subscription_id: Mapped[str | None] = mapped_column(sa.String(64))
    customer_id: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    stripe_synced_at: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    #: What the customer's credit paid of it (Stripe: ``total`` minus ``amount_due`` when
    #: ``starting_balance`` was a credit).
    credit_applied: Mapped[int] = mapped_column(sa.BigInteger, server_default="0")
    #: What its discounts took off (``total_discount_amounts``), in minor units.
    discount_amount: Mapped[int] = mapped_column(sa.BigInteger, server_default="0")
    #: A refund Stripe left unanswered (its call): no other until known (``refunds.settle_pending``).
    pending_refund: Mapped[dict | None] = mapped_column(sa.JSON(none_as_null=True))


class BillingAuditEntry(db.Model):
    """Who changed what in a practice's billing, and when. ``actor`` None means Stripe."""

    __tablename__ = "practice_billing_audit"
    __table_args__ = (
        # The History tab reads one page, newest first, without sorting the practice's whole log.
        sa.Index("ix_practice_billing_audit_history", "practice_id", "created_at", "id"),
        NEVER_REUSED_IDS,
    )

    id: Mapped[int] = surrogate_id()
    practice_id: Mapped[int] = mapped_column(sa.ForeignKey("practices.id", ondelete="CASCADE"))
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(sa.String(64))
    detail: Mapped[str | None] = mapped_column(sa.String(500))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)

    actor: Mapped[User | None] = relationship()


class BillingIntent(db.Model):
    """One billing action a person meant to take once (a rendered form's key), or one the portal took.

    The unique key is the claim: of concurrent posts of one form, one inserts the row and acts;
    the others find it and answer with the outcome it records (see ``portal.practices.intents``).
    """

    __tablename__ = "practice_billing_intents"
    __table_args__ = (
        sa.UniqueConstraint("practice_id", "action", "intent_key", name="uq_practice_billing_intents_key"),
        NEVER_REUSED_IDS,
    )

    id: Mapped[int] = surrogate_id()
    practice_id: Mapped[int] = mapped_column(sa.ForeignKey("practices.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(sa.String(64))
    intent_key: Mapped[str] = mapped_column(sa.String(64))
    #: Set once the action ran: what the first post answered, so a repeat answers the same.
    finished_at: Mapped[dt.datetime | None]
    message: Mapped[str | None] = mapped_column(sa.String(500))
    is_error: Mapped[bool] = mapped_column(default=False)
    status_code: Mapped[int] = mapped_column(default=200)
    redirect_to: Mapped[str | None] = mapped_column(sa.String(1000))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class InvoiceRefund(db.Model):
    """Money given back for a practice invoice, one row per Stripe refund: a platform admin's credit
    note, or a refund made in Stripe's dashboard (``credit_note_id`` None)."""

    __tablename__ = "practice_invoice_refunds"

    id: Mapped[int] = surrogate_id()
    practice_id: Mapped[int] = mapped_column(sa.ForeignKey("practices.id", ondelete="CASCADE"), index=True)
    invoice_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    stripe_refund_id: Mapped[str] = mapped_column(sa.String(64), unique=True)
    credit_note_id: Mapped[str | None] = mapped_column(sa.String(64))
    amount: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3))
    status: Mapped[str] = mapped_column(sa.String(32))
    reason: Mapped[str | None] = mapped_column(sa.String(400))
    refunded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    #: The admin's refund form (its key, made when it was drawn): a double submit finds its refund here.
    attempt_key: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    refunded_by: Mapped[User | None] = relationship()

    __table_args__ = (NEVER_REUSED_IDS,)


class RetentionOffer(db.Model):
    """The retention offer made to one subscription: made once (the unique subscription id), and
    accepted or declined once; two tabs accepting apply the coupon once."""

    __tablename__ = "retention_offers"
    __table_args__ = (NEVER_REUSED_IDS,)

    id: Mapped[int] = surrogate_id()
    practice_id: Mapped[int] = mapped_column(sa.ForeignKey("practices.id", ondelete="CASCADE"), index=True)
    subscription_id: Mapped[str] = mapped_column(sa.String(64), unique=True)
    coupon_id: Mapped[str] = mapped_column(sa.String(64))
    #: The offer in words as it was made ("30% off for 3 months").
    terms: Mapped[str] = mapped_column(sa.String(120))
    #: ``offered``, then ``accepted`` or ``declined``.
    outcome: Mapped[str] = mapped_column(sa.String(16), default="offered")
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[dt.datetime | None]
