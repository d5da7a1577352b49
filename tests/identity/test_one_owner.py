"""Two ownership offers accepted at once leave the practice with exactly one owner (the database says so)."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from portal.extensions import db
from portal.practices import invitations, members
from portal.practices.models import MemberRole, PracticeInvitation, PracticeMember
from tests.conftest import both_engines
from tests.factories import PracticeMemberFactory
from tests.practices.conftest import add_member
from tests.reliability.live import Visitor, serve

REFUSAL = "the offer has lapsed"


def owners(practice_id: int) -> int:
    db.session.rollback()
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(PracticeMember)
        .where(PracticeMember.practice_id == practice_id, PracticeMember.role == MemberRole.OWNER)
    )


@pytest.fixture
def both_read_before_either_writes(monkeypatch):
    """Once armed, two posts each see the owner before either hands over: the race, every time."""

    def arm() -> None:
        barrier = threading.Barrier(2, timeout=10)
        read = members.membership

        def membership(practice, user):
            found = read(practice, user)
            barrier.wait()
            return found

        monkeypatch.setattr(members, "membership", membership)

    return arm


@both_engines
def test_two_accepted_ownership_offers_at_once_leave_one_owner(
    app, engine, owner, live_practice, user_factory, both_read_before_either_writes
):
    admin = add_member(live_practice, user_factory(name="Ada Admin"), MemberRole.ADMIN)
    member = add_member(live_practice, user_factory(name="Mo Member"), MemberRole.MEMBER)
    owner_membership = members.membership(live_practice, owner).id
    links = []
    for offered in (admin, member):
        invitations.offer_ownership(live_practice, offered.id, owner)
        offer = db.session.scalar(
            sa.select(PracticeInvitation).where(PracticeInvitation.email == offered.user.email)
        )
        links.append(invitations.invitation_link(offer).removeprefix("http://portal.test"))
    with serve(app) as base:
        visitors = [Visitor(base, offered.user.email) for offered in (admin, member)]
        forms = [{**v.form(link, link), "answer": "accept"} for v, link in zip(visitors, links, strict=True)]
        results: list = [None, None]
        both_read_before_either_writes()

        def post(index: int) -> None:
            results[index] = visitors[index].post(links[index], forms[index], htmx=False)

        threads = [threading.Thread(target=post, args=(index,)) for index in (0, 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

    assert sorted(response.status_code for response in results) == [303, 409]
    [refused] = [response for response in results if response.status_code == 409]
    assert REFUSAL in refused.text
    assert owners(live_practice.id) == 1
    assert db.session.get(PracticeMember, owner_membership).role == MemberRole.ADMIN


@both_engines
def test_the_database_refuses_a_second_owner(engine, owner, live_practice, user_factory):
    other = user_factory()
    with pytest.raises(IntegrityError):
        PracticeMemberFactory(practice=live_practice, user=other, role=MemberRole.OWNER)
    db.session.rollback()
    assert owners(live_practice.id) == 1


def test_a_leaving_owner_hands_over_without_two_owners_at_any_moment(
    client, owner, live_practice, user_factory
):
    """The hand-over on account deletion deletes the old owner's row before promoting the next."""
    from portal.practices.ownership import leave_practices

    admin = user_factory(name="Ada Admin")
    add_member(live_practice, admin, MemberRole.ADMIN)
    live_practice.subscription_status = "canceled"
    db.session.commit()
    leave_practices(owner)
    db.session.commit()
    assert members.owner_of(live_practice).id == admin.id
