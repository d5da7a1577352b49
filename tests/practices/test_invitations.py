"""Nobody joins or owns a practice without agreeing: invitations, ownership offers, leaving."""

from __future__ import annotations

import datetime as dt
import re

from flask import g

from portal.extensions import db
from portal.practices import history as practice_history
from portal.practices import members as practice_members
from portal.practices import models
from portal.practices.models import MemberRole
from tests.conftest import extract_csrf
from tests.factories import DEFAULT_PASSWORD
from tests.practices.conftest import add_member, login
from tests.smtp import body_text

LINK = re.compile(r"http://portal\.test(/practices/invitations/\S+)")


def people_path(practice) -> str:
    return f"/practices/{practice.id}/members"


def post_from_people(client, practice, path: str, data: dict | None = None):
    token = extract_csrf(client.get(people_path(practice)).get_data(as_text=True))
    return client.post(path, data={**(data or {}), "csrf_token": token})


def invite(client, practice, email: str, role: str = "member"):
    return post_from_people(client, practice, people_path(practice), {"email": email, "role": role})


def emailed_link(mailbox, email: str, subject: str = "Riverside Clinic") -> str:
    text = body_text(mailbox.wait_for(email, subject))
    assert LINK.search(text), text
    return LINK.search(text).group(1)


def switch_to(auth, user):
    auth.logout()
    g.pop("csrf_token", None)
    return login(auth, user)


def answer(client, link: str, choice: str = "accept"):
    token = extract_csrf(client.get(link).get_data(as_text=True))
    return client.post(link, data={"answer": choice, "csrf_token": token})


def test_an_invitation_makes_nobody_a_member_until_they_accept(auth, mailbox, practice, owner, user_factory):
    ada = user_factory(name="Ada Admin")
    client = login(auth, owner)
    response = invite(client, practice, ada.email, "admin")
    assert response.status_code == 303
    page = client.get(response.location).get_data(as_text=True)
    assert f"We sent an invitation to {ada.email}." in page
    assert "Pending invitations" in page and "Cancel invitation" in page
    assert practice_members.membership(practice, ada) is None

    link = emailed_link(mailbox, ada.email, "invited you to")
    client = switch_to(auth, ada)
    assert "Join Riverside Clinic" in client.get(link).get_data(as_text=True)
    response = answer(client, link)
    assert response.status_code == 303
    assert practice_members.membership(practice, ada).role == MemberRole.ADMIN
    assert answer(client, link).status_code == 404  # single-use


def test_the_link_answers_only_the_invited_address(auth, mailbox, practice, owner, user_factory):
    invited, other = user_factory(), user_factory()
    client = login(auth, owner)
    invite(client, practice, invited.email)
    link = emailed_link(mailbox, invited.email)
    client = switch_to(auth, other)
    response = answer(client, link)
    assert response.status_code == 403 and "was sent to" in response.get_data(as_text=True)
    assert practice_members.membership(practice, other) is None


def test_someone_without_an_account_is_asked_to_register_first(client, auth, mailbox, practice, owner):
    login(auth, owner)
    invite(client, practice, "newcomer@example.com")
    link = emailed_link(mailbox, "newcomer@example.com")
    auth.logout()
    page = client.get(link).get_data(as_text=True)
    assert "Register with it first" in page and "Accept" not in page


def test_a_declined_cancelled_or_expired_invitation_does_nothing(
    auth, mailbox, practice, owner, user_factory
):
    declines, cancelled, late = user_factory(), user_factory(), user_factory()
    client = login(auth, owner)
    for person in (declines, cancelled, late):
        invite(client, practice, person.email)
    links = {person.id: emailed_link(mailbox, person.email) for person in (declines, cancelled, late)}
    pending = {i.email: i.id for i in db.session.scalars(db.select(models.PracticeInvitation))}
    response = post_from_people(
        client, practice, f"/practices/{practice.id}/invitations/{pending[cancelled.email]}/cancel"
    )
    assert response.status_code == 303
    db.session.get(models.PracticeInvitation, pending[late.email]).expires_at = dt.datetime(2020, 1, 1)
    db.session.commit()

    client = switch_to(auth, declines)
    assert answer(client, links[declines.id], "decline").status_code == 303
    for person in (cancelled, late):
        client = switch_to(auth, person)
        assert "no longer valid" in client.get(links[person.id]).get_data(as_text=True)
    assert [m.user_id for m in practice_members.members_of(practice)] == [owner.id]


def test_inviting_a_member_again_changes_their_role(owner_client, practice, user_factory):
    mo = user_factory(name="Mo Member")
    add_member(practice, mo, MemberRole.MEMBER)
    response = invite(owner_client, practice, mo.email, "admin")
    page = owner_client.get(response.location).get_data(as_text=True)
    assert "is already in Riverside Clinic: their role changed from Member to Admin" in page
    assert practice_members.membership(practice, mo).role == MemberRole.ADMIN


def test_inviting_a_member_again_as_the_same_role_changes_nothing_and_writes_no_history(
    owner_client, practice, user_factory
):
    mo = user_factory(name="Mo Member")
    add_member(practice, mo, MemberRole.MEMBER)
    lines = len(practice_history.audit_page(practice, per_page=100).items)
    response = invite(owner_client, practice, mo.email, "member")
    page = owner_client.get(response.location).get_data(as_text=True)
    assert "is already in Riverside Clinic as Member; nothing changed." in page
    assert len(practice_history.audit_page(practice, per_page=100).items) == lines


def test_make_owner_is_an_offer_nothing_moves_until_accepted(auth, mailbox, practice, owner, user_factory):
    ada = user_factory(name="Ada Admin")
    ada_id = add_member(practice, ada, MemberRole.ADMIN).id
    client = login(auth, owner)
    response = post_from_people(client, practice, f"/practices/{practice.id}/members/{ada_id}/make-owner")
    assert response.status_code == 303
    assert "Withdraw offer" in client.get(response.location).get_data(as_text=True)
    db.session.expire_all()
    assert practice_members.owner_of(practice).id == owner.id

    link = emailed_link(mailbox, ada.email, "offers you ownership")
    client = switch_to(auth, ada)
    response = answer(client, link)
    assert "You now own Riverside Clinic" in client.get(response.location).get_data(as_text=True)
    db.session.expire_all()
    assert practice_members.owner_of(practice).id == ada.id
    assert practice_members.membership(practice, owner).role == MemberRole.ADMIN
    history = client.get(f"/practices/{practice.id}/history").get_data(as_text=True)
    assert "Ownership moved from " in history


def test_a_withdrawn_offer_cannot_be_accepted(auth, mailbox, practice, owner, user_factory):
    ada = user_factory()
    ada_id = add_member(practice, ada, MemberRole.ADMIN).id
    client = login(auth, owner)
    post_from_people(client, practice, f"/practices/{practice.id}/members/{ada_id}/make-owner")
    offer = db.session.scalar(db.select(models.PracticeInvitation))
    post_from_people(client, practice, f"/practices/{practice.id}/invitations/{offer.id}/cancel")
    link = emailed_link(mailbox, ada.email)
    client = switch_to(auth, ada)
    assert answer(client, link).status_code == 404
    db.session.expire_all()
    assert practice_members.owner_of(practice).id == owner.id


def test_a_member_leaves_and_history_says_so(auth, practice, owner, user_factory):
    mo = user_factory(name="Mo Member")
    add_member(practice, mo, MemberRole.MEMBER)
    client = login(auth, mo)
    assert "Leave practice" in client.get(people_path(practice)).get_data(as_text=True)
    assert post_from_people(client, practice, f"/practices/{practice.id}/leave").status_code == 303
    assert practice_members.membership(practice, mo) is None
    client = switch_to(auth, owner)
    history = client.get(f"/practices/{practice.id}/history").get_data(as_text=True)
    assert f"{mo.email} left the practice" in history


def test_the_owner_cannot_leave_without_handing_over(owner_client, practice, owner):
    response = post_from_people(owner_client, practice, f"/practices/{practice.id}/leave")
    assert response.status_code == 409
    assert practice_members.membership(practice, owner).role == MemberRole.OWNER


def test_members_cannot_invite(client, auth, practice, user_factory):
    mo = user_factory()
    add_member(practice, mo, MemberRole.MEMBER)
    login(auth, mo)
    assert "Send invitation" not in client.get(people_path(practice)).get_data(as_text=True)
    refused = invite(client, practice, "someone@example.com")
    assert refused.status_code == 403  # in words about inviting, not about billing
    assert "Only the practice&#39;s owner and admins can invite people." in refused.get_data(as_text=True)
    assert db.session.scalar(db.select(models.PracticeInvitation)) is None


def test_invitations_are_throttled_per_inviter(app, owner_client, practice):
    app.config["INVITE_INVITER_THROTTLE"] = "3 per hour"
    answers = [invite(owner_client, practice, f"p{n}@example.com").status_code for n in range(5)]
    assert answers == [303, 303, 303, 429, 429]
    assert len(db.session.scalars(db.select(models.PracticeInvitation)).all()) == 3


def test_refused_invitations_do_not_spend_the_practices_count(app, auth, practice, owner, user_factory):
    """An outsider (or a plain member) posting invitations is refused before anything is counted,
    so they cannot use up the practice's hourly invitations and lock its owner out."""
    app.config["INVITE_PRACTICE_THROTTLE"] = "3 per hour"
    outsider, plain_member = user_factory(), user_factory()
    add_member(practice, plain_member, MemberRole.MEMBER)
    client = login(auth, outsider)
    token = extract_csrf(client.get("/account").get_data(as_text=True))
    for n in range(22):
        data = {"email": f"spam{n}@example.com", "role": "member", "csrf_token": token}
        assert client.post(people_path(practice), data=data).status_code == 404
    client = switch_to(auth, plain_member)
    assert [invite(client, practice, f"m{n}@example.com").status_code for n in range(4)] == [403] * 4
    client = switch_to(auth, owner)
    assert invite(client, practice, "welcome@example.com").status_code == 303
    assert [i.email for i in db.session.scalars(db.select(models.PracticeInvitation))] == [
        "welcome@example.com"
    ]


def test_the_next_member_is_told_when_an_owner_deleting_the_account_hands_them_the_practice(
    auth, mailbox, practice, owner, user_factory
):
    ada = user_factory(name="Ada Admin")
    add_member(practice, ada, MemberRole.ADMIN)
    client = login(auth, owner)
    token = extract_csrf(client.get("/account/delete").get_data(as_text=True))
    assert (
        client.post("/account/delete", data={"password": DEFAULT_PASSWORD, "csrf_token": token}).status_code
        == 302
    )
    db.session.expire_all()
    assert practice_members.owner_of(practice).id == ada.id
    message = body_text(mailbox.wait_for(ada.email, "You now own Riverside Clinic"))
    assert "deleted their account" in message
