"""A user's Stripe customer: created at registration, kept in step with the profile, retried after
an outage (``flask billing retry``)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import sqlalchemy as sa

from portal.customers.lifecycle import (
    CustomerKind,
    create_customer_or_defer,
    delete_queued_customer,
    ensure_customer,
    mark_pending,
    pending_owners,
)
from portal.customers.models import PendingCustomerDeletion
from portal.extensions import db
from portal.gateway import customers as stripe_customers
from portal.gateway.errors import BillingError
from portal.i18n import current_locale
from portal.users.models import StripeSyncState, User

log = logging.getLogger(__name__)


def user_language(user: User) -> str:
    """The person's language: the one they chose, else the page's (at registration, its form's)."""
    return user.locale or current_locale()


USER = CustomerKind(User, "user", "user_registration", lambda user: (user.name, user.email), user_language)


def ensure_user_customer(user: User, *, search_first: bool = True) -> str:
    """The user's customer id, created if missing and brought up to date if an edit is pending."""
    if user.stripe_customer_id and user.stripe_sync == StripeSyncState.PENDING:
        _push_user_profile(user)
    customer_id, adopted = ensure_customer(user, USER, search_first=search_first)
    if adopted:  # created by an interrupted attempt, maybe before a profile edit
        _push_user_profile(user)
    return customer_id


def create_user_customer(user: User) -> bool:
    """At registration: create the customer now if Stripe answers; True if it did."""
    return create_customer_or_defer(user, USER)


def _push_user_profile(user: User) -> None:
    language = user_language(user)
    stripe_customers.update_customer(
        user.stripe_customer_id,
        {"name": user.name, "email": user.email, "preferred_locales": [language]},
        key=("user", user.stripe_ref, user.updated_at.timestamp(), language),
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
        mark_pending(user)
        return False
    return True


def push_user_language(user_id: int) -> None:
    """After the language switch: Stripe's emails and hosted invoice page follow it (Stripe down:
    pending, as after a profile edit)."""
    user = db.session.get(User, user_id)
    if user is not None and user.stripe_customer_id is not None:
        update_user_customer(user)


@dataclass
class RetrySummary:
    created_or_synced: int = 0
    deleted: int = 0
    still_pending: int = 0


def retry_pending_customers() -> RetrySummary:
    """Finish every customer create, update and delete that Stripe missed."""
    summary = RetrySummary()
    for user in pending_owners(USER):
        try:
            ensure_user_customer(user)
        except BillingError:
            summary.still_pending += 1
        else:
            summary.created_or_synced += 1
    for customer_id in db.session.scalars(sa.select(PendingCustomerDeletion.customer_id)).all():
        if delete_queued_customer(customer_id):
            summary.deleted += 1
        else:
            summary.still_pending += 1
    return summary
