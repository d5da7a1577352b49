"""The renewal line follows the subscription's status on every page: nothing "renews" once Stripe
ended it (after failed renewals), and an owner-cancelled plan says it ended and when."""

from __future__ import annotations

import datetime as dt

import pytest

from portal.extensions import db
from portal.practices.models import MemberRole, Plan
from portal.practices.status import BillingStatus
from portal.users.models import Role
from portal.words import renewal_line
from tests.factories import PracticeFactory, PracticeMemberFactory, UserFactory
from tests.practices.conftest import login

LATER = dt.datetime(2027, 1, 30)


def practice_ended_by_stripe(owner=None):
    """Stripe cancelled it after the renewals failed: its last period's end is still ahead."""
    return PracticeFactory(
        owner=owner or UserFactory(),
        billing_status=BillingStatus.CANCELLED,
        subscription_status="canceled",
        stripe_subscription_id="sub_dunned",
        plan=Plan.MONTHLY,
        current_period_end=LATER,
    )


@pytest.mark.parametrize(
    ("facts", "line"),
    [
        ({"subscription_status": "active"}, ("Next renewal", "30 Jan 2027")),
        ({"subscription_status": "past_due"}, ("Next renewal", "30 Jan 2027")),
        ({"subscription_status": "active", "cancel_at_period_end": True}, ("Ends on", "30 Jan 2027")),
        ({"subscription_status": "canceled"}, ("Ended", "")),
        ({"subscription_status": "canceled", "cancel_at_period_end": True}, ("Ended", "30 Jan 2027")),
        ({"subscription_status": "unpaid"}, ("Ended", "")),
        ({"subscription_status": None, "stripe_subscription_id": None}, None),
    ],
)
def test_the_renewal_line_follows_the_status(app, facts, line):
    practice = PracticeFactory(
        **{"stripe_subscription_id": "sub_x", "plan": Plan.MONTHLY, "current_period_end": LATER, **facts}
    )
    assert renewal_line(practice) == line


def test_admin_pages_say_ended_not_renews(auth):
    practice = practice_ended_by_stripe()
    client = login(auth, UserFactory(role=Role.ADMIN))
    for path in ("/admin/practices", f"/admin/practices/{practice.id}"):
        page = client.get(path).get_data(as_text=True)
        assert "Cancelled" in page and "Ended" in page
        assert "Renews 30" not in page and "Next renewal" not in page and "30 Jan 2027" not in page


def test_the_billing_page_says_the_plan_ended(auth):
    owner = UserFactory()
    practice = practice_ended_by_stripe(owner)
    practice.cancel_at_period_end = True  # the owner cancelled it; the period is over
    db.session.commit()
    page = login(auth, owner).get(f"/practices/{practice.id}/billing").get_data(as_text=True)
    assert "Monthly, ended 30 Jan 2027" in page
    assert "Next renewal" not in page


def test_a_member_sees_no_renewal_of_an_ended_plan(auth):
    practice = practice_ended_by_stripe()
    member = UserFactory()
    PracticeMemberFactory(practice=practice, user=member, role=MemberRole.MEMBER)
    page = login(auth, member).get(f"/practices/{practice.id}/billing").get_data(as_text=True)
    assert "Monthly, ended" in page and "Next renewal" not in page
