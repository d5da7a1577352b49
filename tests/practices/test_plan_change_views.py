"""Issue 17 through HTTP: a switch down offered at period end and now (with the credit said up
front), "Switches to Monthly on ..." with Undo, the credit on the billing page; owners and admins
only, another practice's id 404, a double submit harmless."""

from __future__ import annotations

import re

import pytest

from portal.extensions import db
from portal.practices import members
from portal.practices.models import MemberRole, Plan
from portal.practices.subscriptions import apply_fresh_subscription
from tests.conftest import extract_csrf
from tests.practices.conftest import add_member, login
from tests.practices.sandbox_helpers import save_card, subscribe_directly
from tests.practices.test_views import HX, version_of


@pytest.fixture
def six_months(owner, plans, sandbox):
    practice = members.create_practice(owner, "Harbour Dental")
    save_card(sandbox, practice)
    sub = subscribe_directly(sandbox, practice, Plan.SEMIANNUAL)
    apply_fresh_subscription(sandbox.client().v1.subscriptions.retrieve(sub.id))
    db.session.commit()
    assert practice.plan == Plan.SEMIANNUAL
    return practice


def billing_page(client, practice) -> str:
    return client.get(f"/practices/{practice.id}/billing").get_data(as_text=True)


def attempt_of(page: str) -> str:
    return re.search(r'name="attempt" value="([^"]+)"', page).group(1)


def test_downgrade_preview_offers_period_end_and_now_with_the_credit(owner_client, six_months):
    practice = six_months
    page = billing_page(owner_client, practice)
    preview = owner_client.post(
        f"/practices/{practice.id}/billing/plan/preview",
        data={"plan": "monthly", "csrf_token": extract_csrf(page)},
        headers=HX,
    ).get_data(as_text=True)
    assert "Switch on " in preview and "Nothing is charged now" in preview
    assert "then pays $99.00 per month" in preview
    assert "Switch now" in preview
    left_over = int(re.search(r'data-left-over="(\d+)"', preview).group(1))
    assert left_over > 30000
    assert "left over becomes credit used by your next invoices" in preview


def test_schedule_then_undo_through_the_page_and_double_submits(owner_client, six_months, sandbox):
    practice = six_months
    page = billing_page(owner_client, practice)
    form = {
        "plan": "monthly",
        "csrf_token": extract_csrf(page),
        "attempt": attempt_of(page),
        "billing_version": version_of(page),
    }
    first = owner_client.post(f"/practices/{practice.id}/billing/plan/later", data=form, headers=HX)
    fragment = first.get_data(as_text=True)
    assert first.status_code == 200
    assert "Switches to Monthly on" in fragment and "Undo" in fragment
    again = owner_client.post(f"/practices/{practice.id}/billing/plan/later", data=form, headers=HX)
    assert again.status_code == 200  # the same answer, nothing new at Stripe
    listed = sandbox.client().v1.subscription_schedules.list({"customer": practice.stripe_customer_id})
    assert len(listed.data) == 1
    db.session.refresh(practice)
    assert practice.pending_plan == Plan.MONTHLY

    page = billing_page(owner_client, practice)
    assert 'data-pending-plan="monthly"' in page
    assert "Switch to Monthly" not in page  # no second switch while one waits
    undo = {
        "csrf_token": extract_csrf(page),
        "attempt": attempt_of(page),
        "billing_version": version_of(page),
    }
    response = owner_client.post(f"/practices/{practice.id}/billing/plan/undo", data=undo, headers=HX)
    assert response.status_code == 200
    assert "stays on the Every 6 months plan" in response.get_data(as_text=True)
    repeat = owner_client.post(f"/practices/{practice.id}/billing/plan/undo", data=undo, headers=HX)
    assert repeat.status_code == 200
    db.session.refresh(practice)
    assert practice.pending_plan is None
    history = owner_client.get(f"/practices/{practice.id}/history").get_data(as_text=True)
    assert "Plan set to switch to Monthly" in history and "undone" in history


def test_switch_now_shows_the_credit_on_the_billing_page(owner_client, six_months):
    practice = six_months
    page = billing_page(owner_client, practice)
    preview = owner_client.post(
        f"/practices/{practice.id}/billing/plan/preview",
        data={"plan": "monthly", "csrf_token": extract_csrf(page)},
        headers=HX,
    ).get_data(as_text=True)
    proration_date = re.search(r'name="proration_date" value="([^"]+)"', preview).group(1)
    response = owner_client.post(
        f"/practices/{practice.id}/billing/plan",
        data={
            "plan": "monthly",
            "proration_date": proration_date,
            "csrf_token": extract_csrf(page),
            "attempt": attempt_of(preview),
            "billing_version": version_of(preview),
        },
        headers=HX,
    )
    assert response.status_code == 200
    page = billing_page(owner_client, practice)
    credit = int(re.search(r'data-credit="(\d+)"', page).group(1))
    assert credit > 30000 and "used by your next invoices" in page


@pytest.mark.parametrize("path", ["plan/later", "plan/undo"])
def test_members_are_refused_and_outsiders_get_404(client, auth, six_months, user_factory, path):
    practice = six_months
    member = user_factory(name="Mo Member")
    add_member(practice, member, MemberRole.MEMBER)
    login(auth, member)
    page = billing_page(client, practice)
    assert "Undo" not in page
    response = client.post(
        f"/practices/{practice.id}/billing/{path}", data={"plan": "monthly", "csrf_token": extract_csrf(page)}
    )
    assert response.status_code == 403
    stranger = user_factory(name="Sam Stranger")
    auth.logout()
    login(auth, stranger)
    token = extract_csrf(client.get("/practices/").get_data(as_text=True))
    response = client.post(
        f"/practices/{practice.id}/billing/{path}", data={"plan": "monthly", "csrf_token": token}
    )
    assert response.status_code == 404
    db.session.refresh(practice)
    assert practice.pending_plan is None


def test_an_admin_may_schedule(client, auth, six_months, user_factory):
    practice = six_months
    admin = user_factory(name="Ada Admin")
    add_member(practice, admin, MemberRole.ADMIN)
    login(auth, admin)
    page = billing_page(client, practice)
    response = client.post(
        f"/practices/{practice.id}/billing/plan/later",
        data={
            "plan": "monthly",
            "csrf_token": extract_csrf(page),
            "attempt": attempt_of(page),
            "billing_version": version_of(page),
        },
    )
    assert response.status_code == 303
    db.session.refresh(practice)
    assert practice.pending_plan == Plan.MONTHLY


def test_a_code_in_the_downgrade_preview_says_where_it_applies(owner_client, six_months, sandbox):
    """F20: a code typed in the preview is not silently dropped by "Switch on <date>", nor silently
    worth nothing on a switch that leaves credit."""
    from tests.practices.test_promotion_codes import make_code

    practice = six_months
    code = make_code(sandbox, percent=50)
    page = billing_page(owner_client, practice)
    preview = owner_client.post(
        f"/practices/{practice.id}/billing/plan/preview",
        data={"plan": "monthly", "csrf_token": extract_csrf(page), "promotion_code": code},
        headers=HX,
    ).get_data(as_text=True)
    assert f"Promotion code {code} applies only to a switch now" in preview
    # What it does to the switch now: takes something (or nothing) off, or shrinks the credit too.
    assert re.search(rf"Promotion code {code} (takes |applies to the unused-time credit)", preview)
