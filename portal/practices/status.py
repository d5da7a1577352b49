"""The one place a practice's billing status is decided.

``derive_billing_status`` is a pure function of a few local facts; the table it
implements is in ``docs/billing-status.md`` and every row has a test.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass


class BillingStatus(enum.StrEnum):
    REQUIRED = "REQUIRED"  #: onboarding fee and first subscription invoice not both paid yet
    DONE = "DONE"  #: onboarding paid, subscription active and paid
    PAST_DUE = "PAST_DUE"  #: a subscription payment failed; Stripe is retrying (access kept)
    INACTIVE = "INACTIVE"  #: paused, incomplete_expired, or the practice was deactivated
    CANCELLED = "CANCELLED"  #: canceled, deleted or unpaid


#: Stripe subscription statuses, grouped by what they mean for the practice.
CANCELLED_STATES = frozenset({"canceled", "unpaid"})
INACTIVE_STATES = frozenset({"paused", "incomplete_expired"})
PAYING_STATES = frozenset({"active", "trialing"})
#: Subscription statuses whose open invoice is still collected (anything else ended it for good,
#: or paused it): ``Practice.collects`` and ``portal.practices.unpaid_invoices``.
COLLECTING_STATES = frozenset({"active", "trialing", "past_due", "incomplete", "paused"})

#: Statuses in which a practice keeps using the portal: THE access rule (``has_access``), the one
#: the pages and ``GET /api/practices/{id}/entitlement`` follow (the README's "Access" column).
HAS_ACCESS = frozenset({BillingStatus.DONE, BillingStatus.PAST_DUE})


def has_access(status: BillingStatus) -> bool:
    return status in HAS_ACCESS


def access_until(
    status: BillingStatus, period_end: dt.datetime | None, cancel_at: dt.datetime | None
) -> dt.datetime | None:
    """Until when access is paid for: the end of the period (or the scheduled end) while ``DONE``;
    None with no access, and while ``PAST_DUE`` (kept until Stripe gives up: no date to promise)."""
    if status != BillingStatus.DONE:
        return None
    return cancel_at or period_end


@dataclass(frozen=True)
class BillingFacts:
    onboarding_paid: bool
    #: Stripe's subscription status, or None when the practice never had a subscription.
    subscription_status: str | None
    deactivated: bool = False


def derive_billing_status(facts: BillingFacts) -> BillingStatus:
    """Rows are checked top to bottom; the first match wins (see docs/billing-status.md)."""
    status = facts.subscription_status
    if facts.deactivated:
        return BillingStatus.INACTIVE
    if status in CANCELLED_STATES:
        return BillingStatus.CANCELLED
    if status in INACTIVE_STATES:
        return BillingStatus.INACTIVE
    if status == "past_due":
        return BillingStatus.PAST_DUE
    if status in PAYING_STATES and facts.onboarding_paid:
        return BillingStatus.DONE
    # No subscription yet, "incomplete" (first invoice unpaid), paying without the
    # onboarding fee, or a status we do not know: billing is still required.
    return BillingStatus.REQUIRED
