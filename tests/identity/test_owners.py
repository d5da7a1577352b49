"""Finding 3: an owner cannot leave a billing practice without an owner; ownership moves on People."""

from __future__ import annotations

import re

import pytest
from flask import g

from portal.extensions import db
from portal.practices import errors
from portal.practices import history as practice_history
from portal.practices import members as practice_members
from portal.practices.models import MemberRole, Practice
from portal.users.models import User
from tests.auth.conftest import email_change_path, submit
from tests.conftest import both_engines, extract_csrf
from tests.factories import DEFAULT_PASSWORD
from tests.identity.conftest import bearer
from tests.practices.conftest import add_member, login
from tests.smtp import body_text

OWNER_REFUSAL = "You own Harbour Dental"


def _customer_email(sandbox, practice) -> str:
    return sandbox.client().v1.customers.retrieve(practice.stripe_customer_id).email


@both_engines
def test_the_owner_of_a_billing_practice_cannot_delete_the_account(auth, owner, live_practice, password):
    client = login(auth, owner)
    response = submit(client, "/account/delete", {"password": password})
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert OWNER_REFUSAL in page and "People" in page and "cancel" in page.lower()
    db.session.expire_all()
    assert db.session.get(User, owner.id) is not None
    assert client.get("/account").status_code == 200  # still logged in, nothing lost
    assert practice_members.owner_of(live_practice).id == owner.id


def test_the_api_answers_409_with_why_and_what_to_do(client, owner, live_practice):
    from portal.auth import api_tokens as tokens

    token = tokens.issue_token(owner)
    response = client.delete(f"/users/{owner.id}", headers=bearer(token))
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["code"] == "owns_practice"
    assert "Harbour Dental" in error["message"] and "transfer" in error["message"].lower()
    assert db.session.get(User, owner.id) is not None


def test_a_practice_that_never_billed_goes_with_its_only_member(client, sandbox, owner):
    from portal.auth import api_tokens as tokens

    practice = practice_members.create_practice(owner, "Quiet Clinic")
    practice_id, customer_id = practice.id, practice.stripe_customer_id
    token = tokens.issue_token(owner)
    assert client.delete(f"/users/{owner.id}", headers=bearer(token)).status_code == 200
    db.session.expire_all()
    assert db.session.get(Practice, practice_id) is None
    assert sandbox.client().v1.customers.retrieve(customer_id).to_dict().get("deleted") is True


def test_a_leaving_owner_hands_an_unbilled_practice_to_the_next_member(client, sandbox, owner, user_factory):
    from portal.auth import api_tokens as tokens

    practice = practice_members.create_practice(owner, "Quiet Clinic")
    member = user_factory(name="Mo Member", email="mo@example.com")
    add_member(practice, member, MemberRole.MEMBER)
    token = tokens.issue_token(owner)
    assert client.delete(f"/users/{owner.id}", headers=bearer(token)).status_code == 200
    db.session.expire_all()
    assert practice_members.owner_of(practice).id == member.id
    assert _customer_email(sandbox, practice) == "mo@example.com"
    assert practice_history.audit_page(practice).items[0].action == "ownership_transferred"


def test_a_cancelled_subscription_lets_its_owner_go(client, owner, live_practice):
    from portal.auth import api_tokens as tokens

    live_practice.subscription_status = "canceled"
    db.session.commit()
    token = tokens.issue_token(owner)
    assert client.delete(f"/users/{owner.id}", headers=bearer(token)).status_code == 200


@both_engines
def test_the_owner_transfers_on_people_then_may_leave(
    auth, sandbox, mailbox, owner, live_practice, user_factory, password
):
    admin = user_factory(name="Ada Admin", email="ada@example.com")
    add_member(live_practice, admin, MemberRole.ADMIN)
    client = login(auth, owner)
    page = client.get(f"/practices/{live_practice.id}/members").get_data(as_text=True)
    assert "Make owner" in page
    member_id = practice_members.membership(live_practice, admin).id
    response = client.post(
        f"/practices/{live_practice.id}/members/{member_id}/make-owner",
        data={"csrf_token": extract_csrf(page)},
    )
    assert response.status_code == 303
    assert "You stay the owner until they accept" in client.get(response.location).get_data(as_text=True)
    db.session.expire_all()
    assert practice_members.owner_of(live_practice).id == owner.id  # an offer: nothing moves yet

    link = re.search(
        r"http://portal\.test(/practices/invitations/\S+)",
        body_text(mailbox.wait_for(admin.email, "ownership")),
    )
    auth.logout()
    g.pop("csrf_token", None)
    client = login(auth, admin)
    accepted = client.post(
        link.group(1),
        data={
            "answer": "accept",
            "csrf_token": extract_csrf(client.get(link.group(1)).get_data(as_text=True)),
        },
    )
    assert "You now own Harbour Dental" in client.get(accepted.location).get_data(as_text=True)

    db.session.expire_all()
    assert practice_members.owner_of(live_practice).id == admin.id
    assert practice_members.membership(live_practice, owner).role == MemberRole.ADMIN
    assert _customer_email(sandbox, live_practice) == "ada@example.com"
    history = client.get(f"/practices/{live_practice.id}/history").get_data(as_text=True)
    assert "Ownership moved from " in history and "ada@example.com" in history

    auth.logout()
    g.pop("csrf_token", None)
    client = login(auth, owner)
    assert submit(client, "/account/delete", {"password": password}).status_code == 302
    db.session.expire_all()
    assert practice_members.owner_of(live_practice).id == admin.id


def test_only_the_owner_transfers_and_only_to_a_member(owner, live_practice, user_factory):
    admin, outsider = user_factory(), user_factory()
    member = add_member(live_practice, admin, MemberRole.ADMIN)
    with pytest.raises(errors.NotAllowed):
        practice_members.transfer_ownership(live_practice, member.id, admin)
    outsider_practice = practice_members.create_practice(outsider, "Elsewhere")
    foreign = practice_members.membership(outsider_practice, outsider)
    with pytest.raises(errors.PracticeError):
        practice_members.transfer_ownership(live_practice, foreign.id, owner)
    assert practice_members.owner_of(live_practice).id == owner.id


def test_the_customer_email_follows_the_owners_new_address(auth, sandbox, owner, live_practice, mailbox):
    client = login(auth, owner)
    data = {"name": owner.name, "email": "olive@new.example", "current_password": DEFAULT_PASSWORD}
    assert submit(client, "/account/profile", data).status_code == 302
    assert client.get(email_change_path(mailbox, "olive@new.example")).status_code == 302
    assert _customer_email(sandbox, live_practice) == "olive@new.example"


def test_a_transfer_during_a_stripe_outage_reaches_stripe_on_retry(
    runner, sandbox, owner, live_practice, user_factory
):
    from portal.users.models import StripeSyncState

    admin = user_factory(name="Ada Admin", email="ada@example.com")
    member = add_member(live_practice, admin, MemberRole.ADMIN)
    with sandbox.outage():
        practice_members.transfer_ownership(live_practice, member.id, owner)
    db.session.expire_all()
    assert (
        practice_members.owner_of(live_practice).id == admin.id
    )  # the transfer itself never waits on Stripe
    assert live_practice.stripe_sync == StripeSyncState.PENDING
    assert _customer_email(sandbox, live_practice) == owner.email

    assert runner.invoke(args=["billing", "retry"]).exit_code == 0
    assert _customer_email(sandbox, live_practice) == "ada@example.com"
