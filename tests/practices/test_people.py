"""The practice's People page: who is in it, and the owner adding and removing people."""

from __future__ import annotations

from portal.practices import services
from portal.practices.models import MemberRole
from tests.conftest import extract_csrf
from tests.practices.conftest import add_member, login


def people(client, practice):
    return client.get(f"/practices/{practice.id}/members")


def test_owner_sees_everyone_and_adds_an_admin_by_email(owner_client, practice, user_factory):
    admin = user_factory(name="Ada Admin")
    page = people(owner_client, practice).get_data(as_text=True)
    assert "Olive Owner" in page and "Add person" in page
    response = owner_client.post(
        f"/practices/{practice.id}/members",
        data={"email": admin.email, "role": "admin", "csrf_token": extract_csrf(page)},
    )
    assert response.status_code == 303 and response.location.endswith(f"/practices/{practice.id}/members")
    assert services.membership(practice, admin).role == MemberRole.ADMIN
    page = owner_client.get(response.location).get_data(as_text=True)
    assert f"{admin.email} is now admin" in page and "Ada Admin" in page


def test_an_unknown_email_is_refused_and_the_form_keeps_what_was_typed(owner_client, practice):
    token = extract_csrf(people(owner_client, practice).get_data(as_text=True))
    response = owner_client.post(
        f"/practices/{practice.id}/members",
        data={"email": "nobody@example.com", "role": "member", "csrf_token": token},
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "No account uses that email address" in page
    assert 'value="nobody@example.com"' in page
    assert '<option selected value="member">' in page
    assert len(services.members_of(practice)) == 1


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
    assert [m.role for m in services.members_of(practice)] == [MemberRole.OWNER]


def test_admins_and_members_see_the_list_but_cannot_change_it(client, auth, practice, user_factory):
    admin = user_factory(name="Ada Admin")
    add_member(practice, admin, MemberRole.ADMIN)
    login(auth, admin)
    page = people(client, practice).get_data(as_text=True)
    assert "Olive Owner" in page and "Ada Admin" in page
    assert "Add person" not in page and "Remove" not in page
    response = client.post(
        f"/practices/{practice.id}/members",
        data={"email": admin.email, "role": "member", "csrf_token": extract_csrf(page)},
    )
    assert response.status_code == 403
    assert "owner can add people" in response.get_data(as_text=True)
    assert services.membership(practice, admin).role == MemberRole.ADMIN


def test_outsiders_get_404(client, auth, practice, user_factory):
    login(auth, user_factory())
    assert people(client, practice).status_code == 404
