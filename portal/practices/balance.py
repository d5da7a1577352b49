"""The practice's Stripe customer balance: negative is credit the next invoices use (issue 17).

Stripe keeps it (``customer.balance``); a plan switched down now leaves the unused time there, and
each invoice Stripe finalizes takes from it first (its ``starting_balance``, ``ending_balance`` and a
lower ``amount_due``). Mirrored from ``customer.updated`` and from a fresh read after a switch; an
event is read against Stripe's balance now. Never commits.
"""

from __future__ import annotations

import logging

from portal.extensions import db
from portal.gateway import customers as stripe_customers
from portal.gateway.errors import BillingError
from portal.gateway.gateway import stripe_time
from portal.gateway.shapes import as_dict
from portal.practices.mirror import find_practice
from portal.practices.models import Practice

log = logging.getLogger(__name__)


def apply_customer_balance(obj: object, event_created: int, *, fresh: bool = False) -> Practice | None:
    """``customer.updated`` (or a customer just read, ``fresh``): the practice's balance, if it is a
    practice's. An event whose balance differs from the mirror's is not trusted as it stands (two
    changes in one second carry the same ``created``, and either may arrive last): the customer is
    read fresh, so any order of deliveries ends at Stripe's balance; Stripe unreachable fails the
    event, which is retried."""
    customer = as_dict(obj)
    if not customer.get("id") or "balance" not in customer:
        return None
    practice = find_practice(customer.get("metadata"), customer["id"])
    if practice is None or practice.stripe_customer_id != customer["id"]:
        return None
    value = int(customer.get("balance") or 0)
    if not fresh:
        if value == practice.customer_balance:
            return practice
        latest = stripe_customers.retrieve_customer(customer["id"])
        value = int(as_dict(latest).get("balance") or 0)
        event_created = max(int(event_created), stripe_time(latest))
    practice.customer_balance = value
    practice.customer_balance_at = max(practice.customer_balance_at or 0, int(event_created))
    db.session.flush()
    return practice


def refresh_balance(practice: Practice) -> None:
    """Read the customer's balance now (after a change that moved it); Stripe unreachable: the
    ``customer.updated`` event brings it later."""
    if not practice.stripe_customer_id:
        return
    try:
        customer = stripe_customers.retrieve_customer(practice.stripe_customer_id)
    except BillingError as error:
        log.warning("could not read the balance practice_id=%s: %s", practice.id, error)
        return
    apply_customer_balance(customer, stripe_time(customer), fresh=True)


def credit(practice: Practice) -> int:
    """The credit waiting for the next invoices (0 when the customer owes or has none)."""
    return max(0, -(practice.customer_balance or 0))
