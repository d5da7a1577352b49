"""A practice is its own Stripe customer, created like a user's (pending + retry).

Stripe being down never fails creating the practice: it is marked pending and
``retry_pending_practices`` (``flask billing retry``, and the next time the
customer is needed) finishes. A metadata search first, then a create with an
idempotency key derived from the practice id: exactly one customer.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa

from portal.auth.models import StripeSyncState
from portal.billing import customers as stripe_customers
from portal.billing.errors import BillingError
from portal.extensions import db
from portal.practices.models import Practice

log = logging.getLogger(__name__)


def _owner_email(practice: Practice) -> str | None:
    from portal.practices.models import MemberRole

    owner = next((m for m in practice.members if m.role == MemberRole.OWNER), None)
    return owner.user.email if owner else None


def ensure_practice_customer(practice: Practice, *, search_first: bool = True) -> str:
    """The practice's Stripe customer id, creating it if missing. Raises ``StripeUnavailable``.

    ``search_first`` looks for a customer an earlier, interrupted attempt may have
    created (idempotency keys only last a day); a brand-new practice skips it.
    """
    if practice.stripe_customer_id:
        return practice.stripe_customer_id
    existing = (
        stripe_customers.find_customer_by_metadata("practiceRef", practice.stripe_ref)
        if search_first
        else None
    )
    customer = existing or stripe_customers.create_customer(
        name=practice.name,
        email=_owner_email(practice) or "",
        metadata={
            "practiceId": str(practice.id),
            "practiceRef": practice.stripe_ref,
            "source": "practice_creation",
        },
        description=f"Customer for practice ID: {practice.id}",
        key=("practice", practice.id, practice.stripe_ref),
    )
    db.session.execute(
        sa.update(Practice)
        .where(Practice.id == practice.id, Practice.stripe_customer_id.is_(None))
        .values(stripe_customer_id=customer.id, stripe_sync=StripeSyncState.SYNCED)
    )
    db.session.commit()
    db.session.refresh(practice)
    return practice.stripe_customer_id


def create_practice_customer(practice: Practice) -> bool:
    """Right after the practice is created: True if the customer exists now."""
    try:
        ensure_practice_customer(practice, search_first=False)
    except BillingError as error:
        log.warning("customer creation deferred practice_id=%s error=%s", practice.id, type(error).__name__)
        practice.stripe_sync = StripeSyncState.PENDING
        db.session.commit()
        return False
    return True


def retry_pending_practices() -> tuple[int, int]:
    """Create the customers an outage left pending: (created, still pending)."""
    created = pending = 0
    practices = db.session.scalars(
        sa.select(Practice)
        .where(Practice.stripe_customer_id.is_(None), Practice.stripe_sync == StripeSyncState.PENDING)
        .order_by(Practice.id)
    ).all()
    for practice in practices:
        try:
            ensure_practice_customer(practice)
        except BillingError:
            pending += 1
        else:
            created += 1
    return created, pending
