"""Who owns a practice when its owner leaves, and the address its Stripe customer bills.

A practice that is still billed always has an owner: its owner's account cannot
be deleted until ownership moves (``members.transfer_ownership``) or the
subscription is cancelled. An owner who may leave hands the practice to its next
member; a practice left with nobody goes with the account.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import url_for
from flask_babel import lazy_gettext as _l

from portal.customers.lifecycle import delete_queued_customer
from portal.extensions import db
from portal.mail.outbox import queue_email
from portal.practices import audit
from portal.practices.customers import push_practice_contact
from portal.practices.members import members_of, practices_for
from portal.practices.models import MemberRole, Practice
from portal.practices.notifications import practice_reading
from portal.users.models import User
from portal.wallet.services import forget_customer


def still_billed(practice: Practice) -> bool:
    """A subscription that will charge again: somebody must be there to manage it."""
    return practice.subscription_live and not practice.cancel_at_period_end and practice.cancel_at is None


def owned_by(user: User) -> list[Practice]:
    return [practice for practice, member in practices_for(user) if member.role == MemberRole.OWNER]


def billed_practices_owned_by(user: User) -> list[Practice]:
    """The practices that stop the user's account from being deleted."""
    return [practice for practice in owned_by(user) if still_billed(practice)]


@dataclass
class Departure:
    """What is left to do at Stripe once a leaving user's transaction has committed."""

    new_owners: list[Practice] = field(default_factory=list)
    customers_to_delete: list[str] = field(default_factory=list)


def leave_practices(user: User) -> Departure:
    """In the caller's transaction: end the user's memberships.

    A practice the user owns passes to its next member (admins first, then by seniority); one
    left with nobody is deleted, and its Stripe customer queued for deletion.
    """
    departure = Departure()
    for practice, member in practices_for(user):
        successor = None
        if member.role == MemberRole.OWNER:
            successor = next((m for m in members_of(practice) if m.user_id != user.id), None)
        db.session.delete(member)
        if member.role != MemberRole.OWNER:
            continue
        if successor is None:
            if practice.stripe_customer_id:
                forget_customer(practice.stripe_customer_id)
                departure.customers_to_delete.append(practice.stripe_customer_id)
            db.session.delete(practice)
            continue
        db.session.flush()  # the old owner's row goes first: a practice has one owner at any moment
        successor.role = MemberRole.OWNER
        detail = f"{user.email} deleted their account; {successor.user.email} owns the practice now"
        audit.record(practice, "ownership_transferred", detail)
        _tell_the_new_owner(practice, successor.user, user.email)
        departure.new_owners.append(practice)
    return departure


def _tell_the_new_owner(practice: Practice, new_owner: User, former_email: str) -> None:
    """Queued in the departure's transaction: nobody becomes an owner without hearing of it."""
    queue_email(
        new_owner.email,
        _l("You now own %(practice)s", practice=practice.name),
        "practice_new_owner",
        timezone=practice_reading(practice)["timezone"],
        user=new_owner,
        practice=practice,
        former_email=former_email,
        link=url_for("practices.billing", practice_id=practice.id, _external=True),
    )


def finish_departure(departure: Departure) -> bool:
    """After the commit: the new owners' emails and the deletions at Stripe. True if all done now."""
    done = all([push_practice_contact(practice) for practice in departure.new_owners])
    return all([delete_queued_customer(customer) for customer in departure.customers_to_delete]) and done


def owner_contact_changed(user: User) -> bool:
    """The user's email changed: the practices they own bill the new address. True if in step."""
    return all([push_practice_contact(practice) for practice in owned_by(user)])
