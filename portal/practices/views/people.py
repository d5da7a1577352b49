"""The People tab: members, invitations, ownership offers, leaving."""

from __future__ import annotations

from flask import (
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required

from portal.practices import errors, invitations
from portal.practices import members as practice_members
from portal.practices.forms import InviteForm
from portal.practices.models import MemberRole, Practice, PracticeMember
from portal.practices.views.common import bp, load, load_inviter


def _people_page(practice: Practice, member: PracticeMember, form: InviteForm, status: int = 200):
    return render_template(
        "practices/people.html",
        practice=practice,
        member=member,
        is_owner=member.role == MemberRole.OWNER,
        members=practice_members.members_of(practice),
        invitations=invitations.pending_for(practice) if member.manages_billing else [],
        member_form=form,
    ), status


def _back_to_people(practice_id: int):
    return redirect(url_for("practices.members", practice_id=practice_id), code=303)


@bp.get("/<int:practice_id>/members")
@login_required
def members(practice_id: int):
    practice, member = load(practice_id)
    return _people_page(practice, member, InviteForm())


@bp.post("/<int:practice_id>/members")
@login_required
def add_member(practice_id: int):
    """Invite a person: the same answer whether or not the address has an account."""
    practice, member = load_inviter(practice_id)
    form = InviteForm()
    if not form.validate_on_submit():
        return _people_page(practice, member, form, 422)
    try:
        message = invitations.invite(practice, form.email.data, MemberRole(form.role.data), current_user)
    except errors.NotAllowed:
        raise  # not a mistake in the form: the error page (the app's UserError handler)
    except errors.PracticeError as error:
        form.email.errors.append(error.message)
        return _people_page(practice, member, form, error.status)
    flash(message, "success")
    return _back_to_people(practice.id)


@bp.post("/<int:practice_id>/invitations/<int:invitation_id>/cancel")
@login_required
def cancel_invitation(practice_id: int, invitation_id: int):
    practice, _member = load(practice_id)
    invitation = invitations.cancel(practice, invitation_id, current_user)
    flash(
        _("The invitation to %(email)s is cancelled; its link no longer works.", email=invitation.email),
        "success",
    )
    return _back_to_people(practice.id)


@bp.post("/<int:practice_id>/members/<int:member_id>/remove")
@login_required
def remove_member(practice_id: int, member_id: int):
    practice, _member = load(practice_id)
    practice_members.remove_member(practice, member_id, current_user)
    flash(_("Removed from the practice."), "success")
    return _back_to_people(practice.id)


@bp.post("/<int:practice_id>/members/<int:member_id>/make-owner")
@login_required
def make_owner(practice_id: int, member_id: int):
    """Offer the practice to a member: nothing moves until they accept the emailed offer."""
    practice, _member = load_inviter(practice_id, offering_ownership=True)
    offered = invitations.offer_ownership(practice, member_id, current_user)
    flash(
        _(
            "We sent %(email)s your offer of %(practice)s. You stay the owner until they accept it; "
            "you can withdraw it below.",
            email=offered.user.email,
            practice=practice.name,
        ),
        "success",
    )
    return _back_to_people(practice.id)


@bp.post("/<int:practice_id>/leave")
@login_required
def leave(practice_id: int):
    practice, _member = load(practice_id)
    invitations.leave(practice, current_user)
    flash(_("You left %(practice)s.", practice=practice.name), "success")
    return redirect(url_for("practices.index"), code=303)


@bp.route("/invitations/<token>", methods=["GET", "POST"])
def invitation(token: str):
    """The invitee's page: anyone holding the link sees what it offers; the account with the
    invited address accepts or declines it (someone without one registers first)."""
    try:
        found = invitations.load_invitation(token)
    except errors.PracticeError as error:
        return render_template("practices/invitation.html", error=error.message), error.status
    if request.method == "GET" or not current_user.is_authenticated:
        return render_template("practices/invitation.html", invitation=found, token=token)
    accepting = request.form.get("answer") == "accept"
    practice_id, welcome = found.practice_id, _welcome(found)  # read before the answer spends it
    try:
        (invitations.accept if accepting else invitations.decline)(token, current_user)
    except errors.PracticeError as error:
        context = {"invitation": found, "token": token, "error": error.message}
        return render_template("practices/invitation.html", **context), error.status
    if not accepting:
        flash(_("Invitation declined."), "success")
        return redirect(url_for("practices.index"), code=303)
    flash(welcome, "success")
    return redirect(url_for("practices.billing", practice_id=practice_id), code=303)


def _welcome(invitation) -> str:
    if invitation.is_ownership_offer:
        return _(
            "You now own %(practice)s; %(name)s stays on as an admin.",
            practice=invitation.practice.name,
            name=invitation.invited_by.name,
        )
    return _("Welcome to %(practice)s.", practice=invitation.practice.name)
