"""Each user (and practice) is a Stripe customer; these keep the two in step.

Stripe being down never fails the person's own action: the owner is marked
pending and ``retry_pending_customers`` (``flask billing retry``, and the next
time the customer is needed) finishes the job. Creation is safe to run any
number of times: a metadata search first, then a create with an idempotency
key derived from our id, so the end state is exactly one customer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import sqlalchemy as sa

from portal.auth.models import StripeSyncState, User
from portal.billing import customers as stripe_customers
from portal.billing.errors import BillingError, StripeUnavailable
from portal.extensions import db
from portal.wallet.models import PaymentMethod, PendingCustomerDeletion

log = logging.getLogger(__name__)


def _user_metadata(user: User) -> dict[str, str]:
    return {"userId": str(user.id), "userRef": user.stripe_ref, "source": "user_registration"}


def ensure_user_customer(user: User, *, search_first: bool = True) -> str:
    """The user's Stripe customer id, creating the customer if it is missing.

    ``search_first`` looks for a customer an earlier, interrupted attempt may have
    created (idempotency keys only last a day); a brand-new account skips it.
    Raises ``StripeUnavailable`` when Stripe cannot be reached.
    """
    if user.stripe_customer_id:
        if user.stripe_sync == StripeSyncState.PENDING:
            _push_user_profile(user)
        return user.stripe_customer_id
    existing = (
        stripe_customers.find_customer_by_metadata("userRef", user.stripe_ref) if search_first else None
    )
    customer = existing or stripe_customers.create_customer(
        name=user.name,
        email=user.email,
        metadata=_user_metadata(user),
        description=f"Customer for user ID: {user.id}",
        key=("user", user.id, user.stripe_ref),
    )
    # Only fill the id if nobody else did meanwhile: concurrent retries converge.
    db.session.execute(
        sa.update(User)
        .where(User.id == user.id, User.stripe_customer_id.is_(None))
        .values(stripe_customer_id=customer.id, stripe_sync=StripeSyncState.SYNCED)
    )
    db.session.commit()
    db.session.refresh(user)
    if existing is not None and (existing.name != user.name or existing.email != user.email):
        _push_user_profile(user)
    return user.stripe_customer_id


def create_user_customer(user: User) -> bool:
    """At registration: create the customer now if Stripe answers; True if it did."""
    try:
        ensure_user_customer(user, search_first=False)
    except BillingError as error:
        log.warning("customer creation deferred user_id=%s error=%s", user.id, type(error).__name__)
        _mark_pending(user)
        return False
    return True


def _push_user_profile(user: User) -> None:
    stripe_customers.update_customer(
        user.stripe_customer_id,
        {"name": user.name, "email": user.email},
        key=("user", user.stripe_ref, user.updated_at.timestamp()),
    )
    user.stripe_sync = StripeSyncState.SYNCED
    db.session.commit()


def update_user_customer(user: User) -> bool:
    """After a profile edit: push name and email; True if Stripe is now in step."""
    try:
        if user.stripe_customer_id is None:
            ensure_user_customer(user)
        else:
            _push_user_profile(user)
    except BillingError as error:
        log.warning("customer update deferred user_id=%s error=%s", user.id, type(error).__name__)
        _mark_pending(user)
        return False
    return True


def _mark_pending(user: User) -> None:
    user.stripe_sync = StripeSyncState.PENDING
    db.session.commit()


def delete_user_customer_and_user(user: User) -> bool:
    """Delete the user; the customer now, or later if Stripe is down. True if now."""
    customer_id = user.stripe_customer_id
    if customer_id:
        db.session.execute(sa.delete(PaymentMethod).where(PaymentMethod.customer_id == customer_id))
        db.session.merge(PendingCustomerDeletion(customer_id=customer_id))
    db.session.delete(user)
    db.session.commit()
    if customer_id is None:
        return True
    return _delete_pending_customer(customer_id)


def _delete_pending_customer(customer_id: str) -> bool:
    pending = db.session.get(PendingCustomerDeletion, customer_id)
    try:
        stripe_customers.delete_customer(customer_id)
    except StripeUnavailable as error:
        if pending is not None:
            pending.attempts += 1
            pending.last_error = error.message[:255]
            db.session.commit()
        return False
    if pending is not None:
        db.session.delete(pending)
        db.session.commit()
    return True


@dataclass
class RetrySummary:
    created_or_synced: int = 0
    deleted: int = 0
    still_pending: int = 0


def retry_pending_customers() -> RetrySummary:
    """Finish every customer create, update and delete that Stripe missed."""
    summary = RetrySummary()
    pending_users = db.session.scalars(
        sa.select(User).where(User.stripe_sync == StripeSyncState.PENDING).order_by(User.id)
    ).all()
    for user in pending_users:
        try:
            ensure_user_customer(user)
        except BillingError:
            summary.still_pending += 1
        else:
            summary.created_or_synced += 1
    for customer_id in db.session.scalars(sa.select(PendingCustomerDeletion.customer_id)).all():
        if _delete_pending_customer(customer_id):
            summary.deleted += 1
        else:
            summary.still_pending += 1
    return summary
