"""Coming back from Checkout: only a billing manager's visit with a session the portal started
for this practice (and Stripe knows) changes billing state, and "processing" ends by itself."""

from __future__ import annotations

import re

import pytest

from portal.extensions import db
from portal.practices import members
from portal.practices.models import MemberRole
from tests.practices.conftest import add_member, login
from tests.practices.test_views import csrf, path_of, pay_checkout, version_of

HX = {"HX-Request": "true"}


@pytest.fixture
def live_practice(owner, runner):
    assert runner.invoke(args=["billing", "bootstrap"]).exit_code == 0
    return members.create_practice(owner, "Harbour Dental")


def start_checkout(client, practice) -> str:
    page = client.get(f"/practices/{practice.id}/billing").get_data(as_text=True)
    response = client.post(
        f"/practices/{practice.id}/billing/subscribe",
        data={
            "plan": "monthly",
            "csrf_token": csrf(client, f"/practices/{practice.id}/billing"),
            "attempt": re.search(r'name="attempt" value="([^"]+)"', page).group(1),
            "billing_version": version_of(page),
        },
    )
    assert response.status_code == 303
    return response.location


def session_id_of(checkout_url: str) -> str:
    return re.search(r"(cs_test_\w+)", checkout_url).group(1)


def billing_page(client, practice) -> str:
    return client.get(f"/practices/{practice.id}/billing").get_data(as_text=True)


def assert_plan_choice(page: str) -> None:
    assert "Choose a plan" in page
    assert "Processing your payment" not in page


def test_a_members_visit_to_the_return_page_changes_nothing(
    auth, live_practice, owner, user_factory, sandbox
):
    member = user_factory(name="Mo Member")
    add_member(live_practice, member, MemberRole.MEMBER)
    member_client = login(auth, member)
    member_client.get(f"/practices/{live_practice.id}/billing/checkout/return?session_id=cs_test_whatever")
    db.session.refresh(live_practice)
    assert live_practice.checkout_session_id is None
    auth.logout()
    owner_client = login(auth, owner)
    assert_plan_choice(billing_page(owner_client, live_practice))


def test_a_members_visit_with_a_real_open_session_changes_nothing(
    auth, live_practice, owner, user_factory, sandbox
):
    owner_client = login(auth, owner)
    session_id = session_id_of(start_checkout(owner_client, live_practice))
    member = user_factory(name="Mo Member")
    add_member(live_practice, member, MemberRole.MEMBER)
    auth.logout()
    member_client = login(auth, member)
    member_client.get(f"/practices/{live_practice.id}/billing/checkout/return?session_id={session_id}")
    db.session.refresh(live_practice)
    assert live_practice.checkout_session_id is None


def test_an_unknown_session_id_from_the_owner_does_not_start_processing(owner_client, live_practice, sandbox):
    response = owner_client.get(
        f"/practices/{live_practice.id}/billing/checkout/return?session_id=cs_test_whatever",
        follow_redirects=True,
    )
    page = response.get_data(as_text=True)
    db.session.refresh(live_practice)
    assert live_practice.checkout_session_id is None
    assert_plan_choice(page)
    assert "We could not find that checkout" in page


def test_an_unpaid_session_at_the_return_does_not_start_processing(owner_client, live_practice, sandbox):
    session_id = session_id_of(start_checkout(owner_client, live_practice))
    page = owner_client.get(
        f"/practices/{live_practice.id}/billing/checkout/return?session_id={session_id}",
        follow_redirects=True,
    ).get_data(as_text=True)
    db.session.refresh(live_practice)
    assert live_practice.checkout_session_id is None
    assert_plan_choice(page)
    assert "Payment confirmed" not in page  # nothing was paid


def test_a_session_of_another_customer_is_refused(owner_client, owner, live_practice, sandbox):
    other = members.create_practice(owner, "Other Dental")
    session_id = session_id_of(start_checkout(owner_client, other))
    response = owner_client.get(
        f"/practices/{live_practice.id}/billing/checkout/return?session_id={session_id}"
    )
    assert response.status_code == 404
    db.session.refresh(live_practice)
    assert live_practice.checkout_session_id is None


def test_a_row_stuck_on_an_unknown_session_heals_at_the_managers_poll(owner_client, live_practice, sandbox):
    live_practice.checkout_session_id = "cs_test_whatever"  # written by the old return page
    db.session.commit()
    assert "Processing your payment" in billing_page(owner_client, live_practice)
    response = owner_client.post(
        f"/practices/{live_practice.id}/billing/status",
        headers={**HX, "X-CSRFToken": csrf(owner_client, f"/practices/{live_practice.id}/billing")},
    )
    assert response.status_code == 200
    db.session.refresh(live_practice)
    assert live_practice.checkout_session_id is None
    assert "Payment confirmed" not in response.get_data(as_text=True)
    assert "ended without a payment" in response.get_data(as_text=True)
    assert_plan_choice(billing_page(owner_client, live_practice))


def test_a_paid_session_still_completes(owner_client, live_practice, sandbox):
    success = pay_checkout(start_checkout(owner_client, live_practice))
    page = owner_client.get(path_of(success), follow_redirects=True).get_data(as_text=True)
    assert "Payment confirmed" in page
    db.session.refresh(live_practice)
    assert live_practice.checkout_session_id
