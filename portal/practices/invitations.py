"""Who joins a practice, and who owns it, is the invitee's choice.

An owner or admin invites an email address with a role; the answer is the same whether or not
the address has an account ("We sent an invitation to ..."), so the People tab tells nobody which
emails are registered. The address gets a signed, expiring link; the signed-in account with that
email accepts or declines it, once (the link names the invitation's nonce, and accepting,
declining or cancelling deletes the invitation). "Make owner" is the same thing with the role
owner: an offer the member accepts, and nothing moves until then. Members may leave.
"""

from __future__ import annotations

import datetime as dt
import secrets

import sqlalchemy as sa
from flask import current_app, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from portal.database import utcnow
from portal.extensions import db
from portal.mail.outbox import queue_email
from portal.practices import audit, errors
from portal.practices import members as practice_members
from portal.practices.models import MemberRole, Practice, PracticeInvitation, PracticeMember
from portal.practices.notifications import practice_reading
from portal.text import N_
from portal.users.lookup import find_user_by_email, normalize_email
from portal.users.models import User
from portal.words import role_label

_SALT = "practice-invitation"
INVITATION_MAX_AGE = dt.timedelta(days=7)


class InvitationError(errors.PracticeError):
    """The link is unknown, used, expired, or meant for another address."""


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def invitation_link(invitation: PracticeInvitation) -> str:
    token = _serializer().dumps({"i": invitation.id, "n": invitation.nonce})
    return url_for("practices.invitation", token=token, _external=True)


def load_invitation(token: str) -> PracticeInvitation:
    """The pending invitation a link names; InvitationError if it is no longer good."""
    try:
        data = _serializer().loads(token, max_age=int(INVITATION_MAX_AGE.total_seconds()))
    except (SignatureExpired, BadSignature, ValueError) as error:
        raise InvitationError(_GONE, status=404) from error
    invitation = db.session.get(PracticeInvitation, data.get("i")) if isinstance(data, dict) else None
    if invitation is None or invitation.nonce != data.get("n") or invitation.expires_at < utcnow():
        raise InvitationError(_GONE, status=404)
    return invitation


_GONE = N_("This invitation is no longer valid: it was used, cancelled, replaced or has expired.")


def pending_for(practice: Practice) -> list[PracticeInvitation]:
    return list(
        db.session.scalars(
            sa.select(PracticeInvitation)
            .where(PracticeInvitation.practice_id == practice.id, PracticeInvitation.expires_at >= utcnow())
            .order_by(PracticeInvitation.id)
        )
    )


def _send(practice: Practice, email: str, role: MemberRole, actor: User) -> PracticeInvitation:
    """Create (or renew, with a new link) the practice's invitation to ``email`` and queue its email."""
    invitation = db.session.scalar(
        sa.select(PracticeInvitation).where(
            PracticeInvitation.practice_id == practice.id, PracticeInvitation.email == email
        )
    )
    if invitation is None:
        invitation = PracticeInvitation(practice_id=practice.id, email=email)
        db.session.add(invitation)
    invitation.role, invitation.invited_by_id = role, actor.id
    invitation.nonce = secrets.token_hex(16)
    invitation.created_at = utcnow()
    invitation.expires_at = invitation.created_at + INVITATION_MAX_AGE
    db.session.flush()
    offer = role == MemberRole.OWNER
    queue_email(
        email,
        _l("%(inviter)s offers you ownership of %(practice)s", inviter=actor.name, practice=practice.name)
        if offer
        else _l("%(inviter)s invited you to %(practice)s", inviter=actor.name, practice=practice.name),
        "practice_invitation",
        **practice_reading(practice),
        practice=practice,
        inviter=actor,
        role=role,
        offer=offer,
        link=invitation_link(invitation),
        expires_at=invitation.expires_at,
    )
    return invitation


def invite(practice: Practice, email: str, role: MemberRole, actor: User) -> str:
    """Invite ``email`` as ``role``; the message to show. A member's role changes at once."""
    manager = practice_members.require_manager(practice, actor, errors.INVITERS_ONLY)
    if role == MemberRole.OWNER:
        raise errors.PracticeError(_("A practice has one owner: use Make owner on a member."))
    email = normalize_email(email)
    user = find_user_by_email(email)
    member = practice_members.membership(practice, user) if user is not None else None
    if member is not None:
        if member.role == MemberRole.OWNER:
            raise errors.PracticeError(_("That person owns this practice."))
        if manager.role != MemberRole.OWNER:
            raise errors.NotAllowed(_("Only the practice's owner changes the role of someone already in it."))
        if member.role == role:  # nothing changes, so nothing is written to History
            return _(
                "%(email)s is already in %(practice)s as %(role)s; nothing changed.",
                email=email,
                practice=practice.name,
                role=role_label(role),
            )
        before, member.role = member.role, role
        audit.record(practice, "member_role_changed", f"{email} as {role}", actor_id=actor.id)
        db.session.commit()
        return _(
            "%(email)s is already in %(practice)s: their role changed from %(was)s to %(becomes)s.",
            email=email,
            practice=practice.name,
            was=role_label(before),  # the People tab's badge words
            becomes=role_label(role),
        )
    _send(practice, email, role, actor)
    audit.record(practice, "member_invited", f"{email} as {role}", actor_id=actor.id)
    db.session.commit()
    return _("We sent an invitation to %(email)s.", email=email)


def offer_ownership(practice: Practice, member_id: int, actor: User) -> PracticeMember:
    """The owner offers the practice to one of its members; it moves when they accept."""
    actor_membership = practice_members.membership(practice, actor)
    if actor_membership is None or actor_membership.role != MemberRole.OWNER:
        raise errors.NotAllowed(practice_members.ONLY_THE_OWNER)
    member = db.session.get(PracticeMember, member_id)
    if member is None or member.practice_id != practice.id:
        raise errors.PracticeError(_("That person is not in this practice."), status=404)
    if member.role == MemberRole.OWNER:
        raise errors.PracticeError(_("That person already owns this practice."))
    _send(practice, member.user.email, MemberRole.OWNER, actor)
    audit.record(practice, "ownership_offered", f"{actor.email} → {member.user.email}", actor_id=actor.id)
    db.session.commit()
    return member


def cancel(practice: Practice, invitation_id: int, actor: User) -> PracticeInvitation:
    """An owner or admin cancels an invitation; only the owner withdraws an ownership offer."""
    manager = practice_members.require_manager(practice, actor, errors.INVITERS_ONLY)
    invitation = db.session.get(PracticeInvitation, invitation_id)
    if invitation is None or invitation.practice_id != practice.id:
        raise errors.PracticeError(_("That invitation is no longer pending."), status=404)
    if invitation.is_ownership_offer and manager.role != MemberRole.OWNER:
        raise errors.NotAllowed(practice_members.ONLY_THE_OWNER)
    action = "ownership_offer_withdrawn" if invitation.is_ownership_offer else "invitation_cancelled"
    audit.record(practice, action, invitation.email, actor_id=actor.id)
    db.session.delete(invitation)
    db.session.commit()
    return invitation


def _check_addressee(invitation: PracticeInvitation, user: User) -> None:
    if normalize_email(user.email) != invitation.email:
        raise InvitationError(
            _(
                "This invitation was sent to %(email)s. Log in with that address to answer it.",
                email=invitation.email,
            ),
            status=403,
        )


def accept(token: str, user: User) -> PracticeInvitation:
    """The invitee joins (or, for an offer, becomes the owner); the link is then spent."""
    invitation = load_invitation(token)
    _check_addressee(invitation, user)
    practice = invitation.practice
    if invitation.is_ownership_offer:
        member = practice_members.membership(practice, user)
        if member is None:
            raise InvitationError(_("You are no longer in this practice."), status=409)
        try:  # its compare-and-swap decides races; once it has moved, the offer cannot act again
            practice_members.transfer_ownership(practice, member.id, invitation.invited_by)
        except errors.NotAllowed as error:
            raise InvitationError(
                _("Whoever offered it no longer owns the practice: the offer has lapsed."), status=409
            ) from error
        db.session.delete(invitation)
        db.session.commit()
        return invitation
    if practice_members.membership(practice, user) is None:
        db.session.add(PracticeMember(practice_id=practice.id, user_id=user.id, role=invitation.role))
    audit.record(practice, "member_joined", f"{user.email} as {invitation.role}", actor_id=user.id)
    db.session.delete(invitation)
    db.session.commit()
    return invitation


def decline(token: str, user: User) -> PracticeInvitation:
    invitation = load_invitation(token)
    _check_addressee(invitation, user)
    action = "ownership_offer_declined" if invitation.is_ownership_offer else "invitation_declined"
    audit.record(invitation.practice, action, user.email, actor_id=user.id)
    db.session.delete(invitation)
    db.session.commit()
    return invitation


def leave(practice: Practice, user: User) -> None:
    """A member who does not own the practice leaves it; the owner hands it over first."""
    member = practice_members.membership(practice, user)
    if member is None:
        raise errors.PracticeError(_("You are not in this practice."), status=404)
    if member.role == MemberRole.OWNER:
        raise errors.PracticeError(
            _("You own this practice: make another member owner (they accept it) before you leave."),
            status=409,
        )
    audit.record(practice, "member_left", user.email, actor_id=user.id)
    db.session.delete(member)
    db.session.commit()
