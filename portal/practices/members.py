"""Practices and their members: creating a practice, who is in it, adding, removing, handing it over.

Reads never call Stripe; each write adds an audit line and commits.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import gettext as _

from portal.extensions import db
from portal.i18n import current_locale, default_practice_timezone
from portal.practices import audit, plans
from portal.practices.customers import (
    create_practice_customer,
    push_practice_contact,
)
from portal.practices.errors import BILLING_MANAGERS_ONLY, NotAllowed, PracticeError
from portal.practices.models import (
    MemberRole,
    Practice,
    PracticeMember,
)
from portal.text import N_
from portal.users.lookup import find_user_by_email
from portal.users.models import User


def create_practice(
    owner: User, name: str, form_key: str | None = None, currency: str | None = None
) -> Practice:
    """A practice owned by ``owner``, priced in ``currency`` (one of ``plans.practice_currencies``;
    None: the default one), and its Stripe customer.

    ``form_key`` (the create form's key, made when it was rendered) makes it once per form: of
    concurrent posts of one form the unique ``creation_key`` lets one insert, and the others get
    that practice back (its customer is the first post's to create).
    """
    creation_key = f"{owner.id}:{form_key}" if form_key else None
    zone = default_practice_timezone(locale=owner.locale or current_locale())
    currency = (currency or plans.default_currency()).lower()
    if currency not in plans.practice_currencies():
        raise PracticeError("Choose the currency the practice pays in.")
    practice = Practice(name=name.strip(), creation_key=creation_key, timezone=zone, currency=currency)
    practice.members.append(PracticeMember(user_id=owner.id, role=MemberRole.OWNER))
    db.session.add(practice)
    try:
        db.session.flush()
    except sa.exc.IntegrityError:
        db.session.rollback()
        created = _created_with(creation_key)
        if created is None:
            raise
        return created
    audit.record(practice, "practice_created", name.strip(), actor_id=owner.id)
    db.session.commit()
    create_practice_customer(practice)
    return practice


def _created_with(creation_key: str | None) -> Practice | None:
    if creation_key is None:
        return None
    return db.session.scalar(sa.select(Practice).where(Practice.creation_key == creation_key))


# Statements the billing page and the banners on every page run on each request, built once
# (building a statement costs more than SQLite running it; see bench/README.md, page_cost).
_MEMBERSHIP = sa.select(PracticeMember).where(
    PracticeMember.practice_id == sa.bindparam("practice_id"),
    PracticeMember.user_id == sa.bindparam("user_id"),
)
_PRACTICE_OF_MEMBER = (
    sa.select(Practice, PracticeMember)
    .join(PracticeMember, PracticeMember.practice_id == Practice.id)
    .where(Practice.id == sa.bindparam("practice_id"), PracticeMember.user_id == sa.bindparam("user_id"))
)
_PRACTICES_OF_USER = (
    sa.select(Practice, PracticeMember)
    .join(PracticeMember, PracticeMember.practice_id == Practice.id)
    .where(PracticeMember.user_id == sa.bindparam("user_id"))
    .order_by(Practice.name, Practice.id)
)
_MEMBERS = (
    sa.select(PracticeMember)
    .where(PracticeMember.practice_id == sa.bindparam("practice_id"))
    .order_by(sa.case({"owner": 0, "admin": 1}, value=PracticeMember.role, else_=2), PracticeMember.id)
)


def practice_of_member(practice_id: int, user: User) -> tuple[Practice, PracticeMember] | None:
    """The practice and the user's place in it; None when the user is not in it (or it is gone)."""
    row = db.session.execute(_PRACTICE_OF_MEMBER, {"practice_id": practice_id, "user_id": user.id}).first()
    return None if row is None else (row[0], row[1])


def membership(practice: Practice, user: User) -> PracticeMember | None:
    return db.session.scalar(_MEMBERSHIP, {"practice_id": practice.id, "user_id": user.id})


def practices_for(user: User) -> list[tuple[Practice, PracticeMember]]:
    rows = db.session.execute(_PRACTICES_OF_USER, {"user_id": user.id}).all()
    return [(practice, member) for practice, member in rows]


def require_manager(practice: Practice, user: User, refusal: str = BILLING_MANAGERS_ONLY) -> PracticeMember:
    """The membership of an owner or admin; anyone else is refused with ``refusal`` (the action's words)."""
    member = membership(practice, user)
    if member is None or not member.manages_billing:
        raise NotAllowed(refusal)
    return member


def add_member(practice: Practice, email: str, role: MemberRole, actor: User) -> PracticeMember:
    """Adds an existing user (by email) at once: demo data and tests only. People join a practice
    by accepting an invitation (``portal.practices.invitations``)."""
    actor_membership = membership(practice, actor)
    if actor_membership is None or actor_membership.role != MemberRole.OWNER:
        raise NotAllowed(_("Only the practice's owner can add people."))
    if role == MemberRole.OWNER:
        raise PracticeError(_("A practice has one owner."))
    user = find_user_by_email(email)
    if user is None:
        raise PracticeError(_("No account uses that email address. Ask them to register first."))
    member = membership(practice, user)
    if member is not None:
        if member.role == MemberRole.OWNER:
            raise PracticeError(_("That person owns this practice."))
        member.role = role
    else:
        member = PracticeMember(practice_id=practice.id, user_id=user.id, role=role)
        db.session.add(member)
    audit.record(practice, "member_added", f"{user.email} as {role}", actor_id=actor.id)
    db.session.commit()
    return member


def remove_member(practice: Practice, member_id: int, actor: User) -> None:
    actor_membership = membership(practice, actor)
    if actor_membership is None or actor_membership.role != MemberRole.OWNER:
        raise NotAllowed(_("Only the practice's owner can remove people."))
    member = db.session.get(PracticeMember, member_id)
    if member is None or member.practice_id != practice.id or member.role == MemberRole.OWNER:
        raise PracticeError(_("That person cannot be removed."), status=404)
    audit.record(practice, "member_removed", member.user.email, actor_id=actor.id)
    db.session.delete(member)
    db.session.commit()


def transfer_ownership(practice: Practice, member_id: int, actor: User) -> PracticeMember:
    """The owner hands the practice to one of its people, and stays on as an admin.

    Runs when that person accepts the owner's offer (``invitations.accept``), never on the
    owner's click alone.

    The hand-over is a compare-and-swap: only the post that still finds the actor the owner
    demotes them, and the partial unique index (one owner per practice) refuses a second owner
    whatever races. The practice's Stripe customer follows: billing emails go to the new owner.
    """
    actor_membership = membership(practice, actor)
    if actor_membership is None or actor_membership.role != MemberRole.OWNER:
        raise NotAllowed(_ONLY_THE_OWNER)
    member = db.session.get(PracticeMember, member_id)
    if member is None or member.practice_id != practice.id:
        raise PracticeError(_("That person is not in this practice."), status=404)
    if member.role == MemberRole.OWNER:
        raise PracticeError(_("That person already owns this practice."))
    try:
        _set_role(actor_membership, MemberRole.OWNER, MemberRole.ADMIN)
        _set_role(member, member.role, MemberRole.OWNER)
    except (_RoleChanged, sa.exc.IntegrityError) as error:
        db.session.rollback()
        raise NotAllowed(_ONLY_THE_OWNER) from error
    db.session.expire_all()
    audit.record(practice, "ownership_transferred", f"{actor.email} → {member.user.email}", actor_id=actor.id)
    db.session.commit()
    push_practice_contact(practice)
    return member


ONLY_THE_OWNER = _ONLY_THE_OWNER = N_("Only the practice's owner can hand it over.")


class _RoleChanged(Exception):
    """Another request changed the member's role first."""


def _set_role(member: PracticeMember, was: MemberRole, becomes: MemberRole) -> None:
    """``member.role = becomes`` if it still is ``was`` in the database (not just in this session)."""
    changed = db.session.execute(
        sa.update(PracticeMember)
        .where(PracticeMember.id == member.id, PracticeMember.role == was)
        .values(role=becomes)
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed != 1:
        raise _RoleChanged


def members_of(practice: Practice) -> list[PracticeMember]:
    return list(db.session.scalars(_MEMBERS, {"practice_id": practice.id}))


def all_practices(status: str | None = None) -> sa.Select:
    """Every practice (platform admins), by name; optionally of one billing status."""
    query = sa.select(Practice).order_by(Practice.name, Practice.id)
    if status:
        query = query.where(Practice.billing_status == status)
    return query


def owner_of(practice: Practice) -> User | None:
    return next((m.user for m in practice.members if m.role == MemberRole.OWNER), None)
