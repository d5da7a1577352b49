"""The practice's People page: who is in it, inviting people (the answer tells nobody which
emails have an account) and removing them."""

from __future__ import annotations

import re

from portal.practices import members as practice_members
from portal.practices.models import MemberRole
from tests.conftest import extract_csrf
from tests.practices.conftest import add_member, login


def people(client, practice):
    return client.get(f"/practices/{practice.id}/members")


def test_owner_sees_everyone_and_invites_an_admin_by_email(owner_client, practice, user_factory):
    admin = user_factory(name="Ada Admin")
    page = people(owner_client, practice).get_data(as_text=True)
    assert "Olive Owner" in page and "Send invitation" in page
    response = owner_client.post(
        f"/practices/{practice.id}/members",
        data={"email": admin.email, "role": "admin", "csrf_token": extract_csrf(page)},
    )
    assert response.status_code == 303 and response.location.endswith(f"/practices/{practice.id}/members")
    assert practice_members.membership(practice, admin) is None  # until Ada accepts
    page = owner_client.get(response.location).get_data(as_text=True)
    assert f"We sent an invitation to {admin.email}." in page and "Pending invitations" in page


def _answer_to(client, practice, email: str) -> tuple[int, str, str]:
    token = extract_csrf(people(client, practice).get_data(as_text=True))
    data = {"email": email, "role": "member", "csrf_token": token}
    response = client.post(f"/practices/{practice.id}/members", data=data)
    flashed = client.get(response.location).get_data(as_text=True) if response.status_code == 303 else ""
    flash = re.search(r'class="flash flash-\w+"[^>]*>([^<]*)<', flashed)
    return (
        response.status_code,
        response.location or "",
        flash.group(1).replace(email, "EMAIL") if flash else "",
    )


def test_the_answer_does_not_tell_whether_an_email_has_an_account(owner_client, practice, user_factory):
    """Finding 1: a known and an unknown address get the same status, page and message."""
    known = user_factory(name="Kim Known")
    answers = {_answer_to(owner_client, practice, email) for email in (known.email, "nobody@example.com")}
    assert len(answers) == 1
    [(status, _, message)] = answers
    assert status == 303 and message == "We sent an invitation to EMAIL."
    assert len(practice_members.members_of(practice)) == 1


def test_an_invalid_email_gets_a_message_under_the_field(owner_client, practice):
    token = extract_csrf(people(owner_client, practice).get_data(as_text=True))
    data = {"email": "not-an-email", "role": "admin", "csrf_token": token}
    response = owner_client.post(f"/practices/{practice.id}/members", data=data)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Enter a valid email address." in page and 'value="not-an-email"' in page


def test_owner_removes_a_person(owner_client, practice, user_factory):
    member = add_member(practice, user_factory(name="Mo Member"), MemberRole.MEMBER)
    token = extract_csrf(people(owner_client, practice).get_data(as_text=True))
    response = owner_client.post(
        f"/practices/{practice.id}/members/{member.id}/remove", data={"csrf_token": token}
    )
    assert response.status_code == 303
    assert [m.role for m in practice_members.members_of(practice)] == [MemberRole.OWNER]


def test_admins_invite_but_cannot_remove_or_hand_over(client, auth, practice, user_factory):
    admin, member = user_factory(name="Ada Admin"), user_factory(name="Mo Member")
    add_member(practice, admin, MemberRole.ADMIN)
    add_member(practice, member, MemberRole.MEMBER)
    login(auth, admin)
    page = people(client, practice).get_data(as_text=True)
    assert "Olive Owner" in page and "Ada Admin" in page
    assert "Send invitation" in page and "Remove" not in page and "Make owner" not in page
    mo = practice_members.membership(practice, member)
    response = client.post(
        f"/practices/{practice.id}/members/{mo.id}/remove", data={"csrf_token": extract_csrf(page)}
    )
    assert response.status_code == 403
    assert practice_members.membership(practice, member) is not None


def test_outsiders_get_404(client, auth, practice, user_factory):
    login(auth, user_factory())
    assert people(client, practice).status_code == 404
