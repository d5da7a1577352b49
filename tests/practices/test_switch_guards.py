"""Issue 17 attack findings on a plan switch made now: the proration date is the portal's own and
recent (F26), and a switch now happens at most once per ``PLAN_SWITCH_NOW_EVERY_DAYS`` (F31)."""

from __future__ import annotations

import re

import pytest

from portal.extensions import db
from portal.practices import members
from portal.practices.errors import PracticeError
from portal.practices.models import Plan
from portal.practices.subscriptions import apply_fresh_subscription, change_plan
from tests.conftest import extract_csrf
from tests.practices.sandbox_helpers import Inbox, save_card, subscribe_directly
from tests.practices.test_views import HX, version_of

STALE = "The price changed since the preview; here is the current one."


@pytest.fixture
def monthly(owner, plans, sandbox):
    practice = members.create_practice(owner, "Harbour Dental")
    save_card(sandbox, practice)
    sub = subscribe_directly(sandbox, practice, Plan.MONTHLY)
    apply_fresh_subscription(sandbox.client().v1.subscriptions.retrieve(sub.id))
    db.session.commit()
    return practice


def preview(client, practice, plan: str) -> str:
    page = client.get(f"/practices/{practice.id}/billing").get_data(as_text=True)
    return client.post(
        f"/practices/{practice.id}/billing/plan/preview",
        data={"plan": plan, "csrf_token": extract_csrf(page)},
        headers=HX,
    ).get_data(as_text=True)


def confirm(client, practice, plan: str, shown: str, proration_date: str | None = None):
    form = {
        "plan": plan,
        "csrf_token": extract_csrf(shown),
        "attempt": re.search(r'name="attempt" value="([^"]+)"', shown).group(1),
        "billing_version": version_of(shown),
        "proration_date": proration_date
        if proration_date is not None
        else re.search(r'name="proration_date" value="([^"]+)"', shown).group(1),
    }
    return client.post(f"/practices/{practice.id}/billing/plan", data=form, headers=HX)


def stripe_state(sandbox, practice) -> tuple[str, int, int]:
    client = sandbox.client()
    sub = client.v1.subscriptions.retrieve(practice.stripe_subscription_id)
    invoices = client.v1.invoices.list({"customer": practice.stripe_customer_id})
    balance = client.v1.customers.retrieve(practice.stripe_customer_id).balance
    return sub["items"].data[0].price.id, len(invoices.data), balance


@pytest.mark.parametrize(
    "forged",
    [
        lambda token, start: str(start - 400 * 86400),  # a bare date (F26's attack)
        lambda token, start: (
            f"{start - 400 * 86400}.{token.split('.', 1)[1]}"
        ),  # another date, the old signature
        lambda token, start: "",  # none
    ],
)
def test_a_forged_proration_date_is_refused_with_a_fresh_preview(owner_client, monthly, sandbox, forged):
    practice = monthly
    shown = preview(owner_client, practice, "semiannual")
    token = re.search(r'name="proration_date" value="([^"]+)"', shown).group(1)
    start = int(practice.current_period_start.timestamp())
    before = stripe_state(sandbox, practice)

    answer = confirm(owner_client, practice, "semiannual", shown, forged(token, start))

    body = answer.get_data(as_text=True)
    assert answer.status_code == 200  # htmx: the refusal drawn into the fragment
    assert STALE in body
    assert "Confirm switch" in body and 'name="proration_date"' in body  # the current price, to confirm
    assert stripe_state(sandbox, practice) == before  # nothing changed at Stripe
    db.session.refresh(practice)
    assert practice.plan == Plan.MONTHLY


def test_a_preview_older_than_15_minutes_on_stripes_clock_is_priced_again(owner_client, monthly, sandbox):
    practice = monthly
    shown = preview(owner_client, practice, "semiannual")
    before = stripe_state(sandbox, practice)
    sandbox.advance(seconds=16 * 60)

    answer = confirm(owner_client, practice, "semiannual", shown)

    assert STALE in answer.get_data(as_text=True)
    assert stripe_state(sandbox, practice) == before
    fresh = answer.get_data(as_text=True)  # the fresh preview's own form goes through
    assert confirm(owner_client, practice, "semiannual", fresh).status_code == 200
    db.session.refresh(practice)
    assert practice.plan == Plan.SEMIANNUAL


def test_the_preview_s_own_date_switches(owner_client, monthly, sandbox):
    practice = monthly
    answer = confirm(owner_client, practice, "semiannual", preview(owner_client, practice, "semiannual"))
    assert answer.status_code == 200
    assert "The practice is now on the Every 6 months plan" in answer.get_data(as_text=True)


def test_switching_now_back_and_forth_is_refused_within_the_window(owner_client, monthly, sandbox):
    practice = monthly
    assert (
        confirm(
            owner_client, practice, "semiannual", preview(owner_client, practice, "semiannual")
        ).status_code
        == 200
    )
    _, invoices, balance = stripe_state(sandbox, practice)

    shown = preview(owner_client, practice, "monthly")
    # The preview offers the switch at the period's end only, and says when a switch now is possible.
    assert "the next switch now is possible from" in shown
    assert "Switch now" not in shown
    assert re.search(r"Switch on \d", shown)
    assert 'name="proration_date"' not in shown  # nothing to confirm
    assert stripe_state(sandbox, practice)[1:] == (invoices, balance)

    # The switch at the period's end stays available.
    page = owner_client.get(f"/practices/{practice.id}/billing").get_data(as_text=True)
    later = owner_client.post(
        f"/practices/{practice.id}/billing/plan/later",
        data={
            "plan": "monthly",
            "csrf_token": extract_csrf(page),
            "attempt": re.search(r'name="attempt" value="([^"]+)"', page).group(1),
            "billing_version": version_of(page),
        },
        headers=HX,
    )
    assert "Switches to Monthly on" in later.get_data(as_text=True)


def test_the_service_refuses_a_second_switch_now_saying_when(owner, monthly, sandbox, app):
    from portal.practices import subscriptions
    from portal.practices.errors import PracticeError

    practice = monthly
    first = subscriptions.preview_plan_change(practice, Plan.SEMIANNUAL, owner)
    subscriptions.change_plan(practice, Plan.SEMIANNUAL, owner, first.proration_date)
    before = stripe_state(sandbox, practice)
    with pytest.raises(PracticeError) as refused:
        subscriptions.change_plan(practice, Plan.MONTHLY, owner)
    assert "the next switch now is possible from" in refused.value.message
    assert "You can switch on" in refused.value.message
    assert stripe_state(sandbox, practice) == before

    sandbox.advance(days=31)  # Stripe's clock: the window has passed
    subscriptions.change_plan(practice, Plan.MONTHLY, owner)
    assert practice.plan == Plan.MONTHLY


def test_the_window_is_a_setting(owner, monthly, sandbox, app):
    from portal.practices import subscriptions

    practice = monthly
    app.config["PLAN_SWITCH_NOW_EVERY_DAYS"] = 0
    subscriptions.change_plan(practice, Plan.SEMIANNUAL, owner)
    subscriptions.change_plan(practice, Plan.MONTHLY, owner)
    assert practice.plan == Plan.MONTHLY


def test_a_switch_now_for_a_period_nobody_paid_is_refused(owner, owner_client, monthly, sandbox):
    """Second attack (N6): a practice whose renewal failed switched now and got the unpaid month's
    unused time as credit. While the period is not paid for, the preview offers no switch now and the
    service refuses one; nothing reaches Stripe."""
    inbox = Inbox(sandbox, monthly.stripe_customer_id)
    customer = sandbox.client().v1.customers.retrieve(monthly.stripe_customer_id)
    sandbox.decline_card(customer.invoice_settings.default_payment_method, "insufficient_funds")
    sandbox.advance(days=32)  # the renewal, drafted, finalized an hour later and declined
    inbox.deliver()
    db.session.refresh(monthly)
    assert monthly.subscription_status == "past_due"
    before = stripe_state(sandbox, monthly)

    shown = preview(owner_client, monthly, "semiannual")
    assert "a switch now would count time nobody paid for. Pay the open invoice first." in shown
    assert re.search(r"<a [^>]*data-keep-plan>Keep Monthly</a>", shown)
    assert 'name="proration_date"' not in shown  # no form to confirm a switch now
    with pytest.raises(PracticeError, match="nobody paid for"):
        change_plan(monthly, Plan.SEMIANNUAL, owner)
    assert stripe_state(sandbox, monthly) == before


def test_a_paused_period_is_told_what_is_true_with_a_way_back(owner, owner_client, monthly, sandbox):
    """Third attack F7: while the platform paused collection, the preview said the period "was not
    paid", to "pay what is open first" (nothing was) and to switch at the period's end (an upgrade
    has no such switch), with no button at all."""
    import datetime as dt

    from portal.practices import pausing
    from portal.users.models import Role
    from tests.factories import UserFactory

    admin = UserFactory(role=Role.ADMIN)
    resumes_on = dt.date.fromtimestamp(sandbox.now()) + dt.timedelta(days=45)
    pausing.pause_collection(monthly.id, admin, "Clinic flooded", resumes_on)
    db.session.refresh(monthly)
    before = stripe_state(sandbox, monthly)

    shown = preview(owner_client, monthly, "semiannual")
    said = re.search(r"<p data-unsettled>(.*?)</p>", shown, re.S).group(1)
    assert said.startswith(
        "Payment collection is paused by the platform, so the plan cannot be switched now."
    )
    assert f"once collection resumes on {resumes_on:%d %b %Y}" in said
    for untrue in ("was not paid", "Pay what is open", "end of the period", "credit time"):
        assert untrue not in shown, untrue
    assert "data-switch-later" not in shown  # an upgrade has no switch at the period's end
    assert 'name="proration_date"' not in shown
    assert re.search(r"<a [^>]*data-keep-plan>Keep Monthly</a>", shown), shown  # the way back
    with pytest.raises(PracticeError, match="Payment collection is paused by the platform"):
        change_plan(monthly, Plan.SEMIANNUAL, owner)
    assert stripe_state(sandbox, monthly) == before
