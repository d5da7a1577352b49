"""A practice is its own Stripe customer, created like a user's (pending + retry).

Stripe being down never fails creating the practice: it is marked pending and
``retry_pending_practices`` (``flask billing retry``, and the next time the
customer is needed) finishes. See ``portal.wallet.customers`` for how creation
ends with exactly one customer.
"""

from __future__ import annotations

from portal.billing.errors import BillingError
from portal.practices.models import MemberRole, Practice
from portal.wallet.customers import CustomerKind, create_customer_or_defer, ensure_customer, pending_owners


def _contact(practice: Practice) -> tuple[str, str]:
    owner = next((m for m in practice.members if m.role == MemberRole.OWNER), None)
    return practice.name, owner.user.email if owner else ""


PRACTICE = CustomerKind(Practice, "practice", "practice_creation", _contact)


def ensure_practice_customer(practice: Practice, *, search_first: bool = True) -> str:
    """The practice's Stripe customer id, creating it if missing. Raises ``StripeUnavailable``."""
    return ensure_customer(practice, PRACTICE, search_first=search_first)[0]


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
