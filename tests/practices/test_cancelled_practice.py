"""A practice whose subscription ended is no emergency: a calm notice on its own pages only (with
"Subscribe again" for its managers), never a red banner on every page of every member."""

from __future__ import annotations

import datetime as dt

from portal.practices.models import MemberRole, Plan
from portal.practices.status import BillingStatus
from tests.factories import PracticeFactory, PracticeInvoiceFactory, UserFactory
from tests.practices.conftest import add_member, login


def cancelled_practice(owner):
    return PracticeFactory(
        name="Closed Dental",
        owner=owner,
        billing_status=BillingStatus.CANCELLED,
        subscription_status="canceled",
        stripe_subscription_id="sub_closed",
        plan=Plan.MONTHLY,
        cancel_at_period_end=True,
        current_period_end=dt.datetime(2027, 3, 28),
    )


def test_a_cancelled_practice_shows_a_calm_notice_on_its_own_pages_only(auth):
    owner = UserFactory()
    practice = cancelled_practice(owner)
    client = login(auth, owner)
    for elsewhere in ("/account", "/practices/", "/shop/"):
        assert "data-banner" not in client.get(elsewhere).get_data(as_text=True), elsewhere
    page = client.get(f"/practices/{practice.id}/billing").get_data(as_text=True)
    assert '<div class="banner banner-info" role="status" data-banner="cancelled">' in page
    assert "banner-bad" not in page and "Subscribe again" in page
    assert "Monthly, ended 28 Mar 2027" in page


def test_a_member_sees_it_on_the_practices_pages_without_the_managers_button(auth):
    practice = cancelled_practice(UserFactory())
    member = UserFactory()
    add_member(practice, member, MemberRole.MEMBER)
    client = login(auth, member)
    assert "data-banner" not in client.get("/account").get_data(as_text=True)
    page = client.get(f"/practices/{practice.id}/billing").get_data(as_text=True)
    assert (
        'data-banner="cancelled"' in page
        and "Ask the practice's owner or an admin to subscribe again." in page
    )


def test_an_open_invoice_of_the_ended_subscription_is_not_offered_for_payment(auth):
    """Stripe did not answer when the end was applied: the invoice is still open here, but nobody is
    asked to pay it (``flask billing retry`` marks it uncollectible)."""
    owner = UserFactory()
    practice = cancelled_practice(owner)
    invoice = PracticeInvoiceFactory(practice=practice, status="open", subscription_id="sub_closed")
    page = login(auth, owner).get(f"/practices/{practice.id}/billing").get_data(as_text=True)
    assert (
        "Left unpaid when the subscription ended: it is being marked not collected. "
        "Nothing more will be charged." in page
    )
    assert f'name="invoice" value="{invoice.stripe_id}"' not in page and "data-open-invoices" not in page
