"""A practice is its own Stripe customer, created like a user's (pending + retry).

Stripe being down never fails creating the practice: it is marked pending and
``retry_pending_practices`` (``flask billing retry``, and the next time the
customer is needed) finishes. See ``portal.customers.lifecycle`` for how creation
ends with exactly one customer.
"""

from __future__ import annotations

import logging

from portal.customers.lifecycle import (
    CustomerKind,
    create_customer_or_defer,
    ensure_customer,
    mark_pending,
    pending_owners,
)
from portal.database import utcnow
from portal.extensions import db
from portal.gateway import customers as stripe_customers
from portal.gateway.errors import BillingError
from portal.i18n import current_locale, default_practice_locale
from portal.practices.models import Practice
from portal.users.models import StripeSyncState

log = logging.getLogger(__name__)


def practice_contact(
    practice: Practice, legal_name: str | None = None, billing_email: str | None = None
) -> tuple[str, str]:
    """The customer's name and email: the billing details' legal name and billing email (the ones
    about to be saved when given; empty means unset), else the practice's name and the owner's email."""
    legal_name = practice.legal_name if legal_name is None else legal_name
    billing_email = practice.billing_email if billing_email is None else billing_email
    return legal_name or practice.name, billing_email or practice.owner_email or ""


def _contact(practice: Practice) -> tuple[str, str]:
    return practice_contact(practice)


def practice_language(practice: Practice) -> str:
    """Stripe's language for the practice's customer: the practice's (Vietnamese for a practice in
    Vietnam, by its address or zone), else that of the person creating or changing it."""
    return default_practice_locale(practice.address_country, practice.timezone) or current_locale()


PRACTICE = CustomerKind(Practice, "practice", "practice_creation", _contact, practice_language)


def ensure_practice_customer(practice: Practice, *, search_first: bool = True) -> str:
    """The practice's Stripe customer id, creating it if missing (and bringing its contact up to
    date if a push is pending). Raises ``StripeUnavailable``."""
    if practice.stripe_customer_id and practice.stripe_sync == StripeSyncState.PENDING:
        _push_contact(practice)
    return ensure_customer(practice, PRACTICE, search_first=search_first)[0]


def _push_contact(practice: Practice) -> None:
    name, email = _contact(practice)
    stripe_customers.update_customer(
        practice.stripe_customer_id,
        {"name": name, "email": email, "preferred_locales": [practice_language(practice)]},
        key=("practice-contact", practice.stripe_ref, email, utcnow().timestamp()),
    )
    practice.stripe_sync = StripeSyncState.SYNCED
    db.session.commit()


def push_practice_contact(practice: Practice) -> bool:
    """The customer's email is the billing email, else the owner's (billing emails go there): push
    it after the owner or their address changed. Stripe down: marked pending for ``flask billing
    retry``. True if now."""
    if practice.stripe_customer_id is None:
        return True  # created later, with the owner's email then
    try:
        _push_contact(practice)
    except BillingError as error:
        log.warning("customer update deferred practice_id=%s error=%s", practice.id, type(error).__name__)
        mark_pending(practice)
        return False
    return True


def create_practice_customer(practice: Practice) -> bool:
    """Right after the practice is created: True if the customer exists now."""
    return create_customer_or_defer(practice, PRACTICE)


def retry_pending_practices() -> tuple[int, int]:
    """Create the customers an outage left pending: (created, still pending)."""
    created = pending = 0
    for practice in pending_owners(PRACTICE):
        try:
            ensure_practice_customer(practice)
        except BillingError:
            pending += 1
        else:
            created += 1
    return created, pending
