"""Each user (and practice) is a Stripe customer; these keep the two in step, whatever the kind.

Stripe being down never fails the person's own action: the owner is marked
pending and ``retry_pending_customers`` (``flask billing retry``, and the next
time the customer is needed) finishes the job. Creation is safe to run any
number of times: a metadata search first, then a create with an idempotency
key derived from our id, so the end state is exactly one customer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from portal.customers.models import PendingCustomerDeletion
from portal.extensions import db
from portal.gateway import customers as stripe_customers
from portal.gateway.errors import BillingError, StripeUnavailable
from portal.users.models import StripeSyncState

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CustomerKind:
    """How one kind of owner (a user, a practice) maps onto its Stripe customer.

    Owners carry ``id``, ``stripe_ref`` (unique for the owner's whole life),
    ``stripe_customer_id`` and ``stripe_sync``.
    """

    model: type
    #: "user" or "practice": metadata keys ``{name}Id``/``{name}Ref`` and idempotency keys.
    name: str
    #: Metadata ``source`` of the customers this kind creates.
    source: str
    #: The customer's name and email for an owner.
    contact: Callable[[Any], tuple[str, str]]
    #: The language Stripe speaks to the owner in (the customer's ``preferred_locales``).
    language: Callable[[Any], str | None] = lambda owner: None


def ensure_customer(owner: Any, kind: CustomerKind, *, search_first: bool = True) -> tuple[str, bool]:
    """The owner's Stripe customer id, creating the customer if it is missing.

    Returns the id and whether an existing customer was adopted. ``search_first``
    looks for a customer an earlier, interrupted attempt may have created
    (idempotency keys only last a day); a brand-new owner skips it.
    Raises ``StripeUnavailable`` when Stripe cannot be reached.
    """
    if owner.stripe_customer_id:
        return owner.stripe_customer_id, False
    ref_key = f"{kind.name}Ref"
    existing = stripe_customers.find_customer_by_metadata(ref_key, owner.stripe_ref) if search_first else None
    if existing is None:
        name, email = kind.contact(owner)
        language = kind.language(owner)
        customer = stripe_customers.create_customer(
            name=name,
            email=email,
            preferred_locales=[language] if language else None,
            metadata={f"{kind.name}Id": str(owner.id), ref_key: owner.stripe_ref, "source": kind.source},
            description=f"Customer for {kind.name} ID: {owner.id}",
            key=(kind.name, owner.id, owner.stripe_ref),
        )
    else:
        customer = existing
    # Only fill the id if nobody else did meanwhile: concurrent retries converge.
    db.session.execute(
        sa.update(kind.model)
        .where(kind.model.id == owner.id, kind.model.stripe_customer_id.is_(None))
        .values(stripe_customer_id=customer.id, stripe_sync=StripeSyncState.SYNCED)
    )
    db.session.commit()
    db.session.refresh(owner)
    return owner.stripe_customer_id, existing is not None


def create_customer_or_defer(owner: Any, kind: CustomerKind) -> bool:
    """Right after the owner is created: the customer now if Stripe answers, else later."""
    try:
        ensure_customer(owner, kind, search_first=False)
    except BillingError as error:
        log.warning("customer creation deferred %s_id=%s error=%s", kind.name, owner.id, type(error).__name__)
        mark_pending(owner)
        return False
    return True


def mark_pending(owner: Any) -> None:
    owner.stripe_sync = StripeSyncState.PENDING
    db.session.commit()


def pending_owners(kind: CustomerKind) -> list:
    return list(
        db.session.scalars(
            sa.select(kind.model)
            .where(kind.model.stripe_sync == StripeSyncState.PENDING)
            .order_by(kind.model.id)
        )
    )


def delete_queued_customer(customer_id: str) -> bool:
    """Delete a customer ``forget_customer`` queued; False (still queued) if Stripe is down."""
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
