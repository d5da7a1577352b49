"""One effect per intent across tabs: a billing form drawn before another tab acted acts not.

Every billing form carries the billing version it was drawn from; the first tab to act moves
it on, and a form from another tab (another key) answers "Billing changed in another tab..."
with the current state, htmx and plain posts alike, with no Stripe call and no History line.
A no-op (cancel what already ends, resume what does not, switch to the current plan) is
refused with a clear message and no Stripe call either.
"""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from flask import current_app

from portal.extensions import db
from portal.practices import checkout, members, subscriptions
from portal.practices.models import BillingAuditEntry, Plan
from tests.conftest import extract_csrf
from tests.practices.test_views import path_of, pay_checkout

HX = {"HX-Request": "true"}
STALE = "Billing changed in another tab or window since this page was loaded; here is the current state."


@pytest.fixture
def paid_practice(owner, owner_client, runner):
    """A practice on the Monthly plan, paid through the sandbox's Checkout."""
    assert runner.invoke(args=["billing", "bootstrap"]).exit_code == 0
    practice = members.create_practice(owner, "Two Tabs Dental")
    owner_client.get(path_of(pay_checkout(checkout.start_checkout(practice, Plan.MONTHLY, owner))))
    db.session.refresh(practice)
    assert practice.subscription_live
    return practice


def tab(client, practice, html: str | None = None) -> dict[str, str]:
    """One browser tab's billing forms: its csrf token, its own key and the version it was drawn from."""
    page = html or client.get(f"/practices/{practice.id}/billing").get_data(as_text=True)
    fields = {"csrf_token": extract_csrf(page)}
    for name in ("attempt", "billing_version"):
        found = re.search(rf'name="{name}" value="([^"]+)"', page)
        if found:
            fields[name] = found.group(1)
    return fields


def audits(practice, action: str) -> int:
    db.session.rollback()
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(BillingAuditEntry)
        .where(BillingAuditEntry.practice_id == practice.id, BillingAuditEntry.action == action)
    )


def stripe_calls():
    return current_app.extensions["stripe_call_counter"].watch()


def test_cancel_from_two_tabs_cancels_once_and_the_stale_tab_is_told(owner_client, paid_practice):
    path = f"/practices/{paid_practice.id}/billing/cancel"
    first, second = tab(owner_client, paid_practice), tab(owner_client, paid_practice)
    assert first["attempt"] != second["attempt"]

    with stripe_calls() as calls:
        acted = owner_client.post(path, data={**first, "reason": "Moving"}, headers=HX)
        stale = owner_client.post(path, data={**second, "reason": "Closing"})  # no JavaScript

    assert "The subscription will end at the end of the paid period." in acted.get_data(as_text=True)
    assert stale.status_code == 303
    page = owner_client.get(stale.location).get_data(as_text=True)
    assert STALE in page and "Resume subscription" in page  # the current state
    assert calls.count("subscription.update") == 1
    assert audits(paid_practice, "cancel_requested") == 1
    db.session.refresh(paid_practice)
    assert paid_practice.cancellation_reason == "Moving"


def test_resume_from_two_tabs_resumes_once(owner_client, paid_practice):
    subscriptions.cancel_subscription(paid_practice, "Moving", paid_practice.members[0].user)
    path = f"/practices/{paid_practice.id}/billing/resume"
    first, second = tab(owner_client, paid_practice), tab(owner_client, paid_practice)

    with stripe_calls() as calls:
        acted = owner_client.post(path, data=first, headers=HX).get_data(as_text=True)
        stale = owner_client.post(path, data=second, headers=HX).get_data(as_text=True)

    assert "The subscription continues." in acted
    assert STALE in stale and "Switch plan" in stale  # the billing area as it is now
    assert calls.count("subscription.update") == 1
    assert audits(paid_practice, "resumed") == 1


def test_switching_plan_from_two_previews_switches_once(owner_client, paid_practice):
    form = tab(owner_client, paid_practice)
    confirms = []
    for _ in range(2):
        preview = owner_client.post(
            f"/practices/{paid_practice.id}/billing/plan/preview",
            data={"plan": "semiannual", "csrf_token": form["csrf_token"]},
            headers=HX,
        ).get_data(as_text=True)
        proration = re.search(r'name="proration_date" value="([^"]+)"', preview).group(1)
        confirms.append(
            {**tab(owner_client, paid_practice, preview), "plan": "semiannual", "proration_date": proration}
        )
    assert confirms[0]["attempt"] != confirms[1]["attempt"]

    path = f"/practices/{paid_practice.id}/billing/plan"
    with stripe_calls() as calls:
        acted = owner_client.post(path, data=confirms[0], headers=HX).get_data(as_text=True)
        stale = owner_client.post(path, data=confirms[1], headers=HX).get_data(as_text=True)

    assert "The practice is now on the Every 6 months plan." in acted
    assert STALE in stale
    assert calls.count("subscription.update") == 1
    assert audits(paid_practice, "plan_changed") == 1


def test_a_form_without_a_billing_version_acts_not(owner_client, paid_practice):
    form = tab(owner_client, paid_practice)
    del form["billing_version"]
    with stripe_calls() as calls:
        answer = owner_client.post(
            f"/practices/{paid_practice.id}/billing/cancel", data={**form, "reason": "Moving"}, headers=HX
        ).get_data(as_text=True)
    assert STALE in answer and calls.count("subscription.update") == 0


def test_a_refused_form_leaves_the_other_tab_able_to_act(owner_client, paid_practice):
    path = f"/practices/{paid_practice.id}/billing/cancel"
    first, second = tab(owner_client, paid_practice), tab(owner_client, paid_practice)
    refused = owner_client.post(path, data={**first, "reason": ""}, headers=HX)
    assert refused.status_code == 422
    acted = owner_client.post(path, data={**second, "reason": "Moving"}, headers=HX).get_data(as_text=True)
    assert "The subscription will end at the end of the paid period." in acted


@pytest.mark.parametrize(
    ("action", "extra", "message"),
    [
        ("cancel", {"reason": "Again"}, "The subscription is already set to end on"),
        ("resume", {}, "The subscription is not set to end, so there is nothing to resume."),
        ("plan", {"plan": "monthly"}, "The practice is already on the Monthly plan."),
    ],
)
def test_a_no_op_is_refused_with_no_stripe_call(owner_client, paid_practice, action, extra, message):
    if action == "cancel":
        subscriptions.cancel_subscription(paid_practice, "Moving", paid_practice.members[0].user)
    form = tab(owner_client, paid_practice)  # drawn from the state as it is: not stale
    with stripe_calls() as calls:
        answer = owner_client.post(
            f"/practices/{paid_practice.id}/billing/{action}", data={**form, **extra}, headers=HX
        ).get_data(as_text=True)
    assert message in answer
    assert [call for call in calls if call.startswith("subscription.")] == []


@pytest.mark.parametrize("reason", ["Moving\u202eevom", "Moving\x07 on"])
def test_without_javascript_a_refused_reason_is_shown_again_with_its_message(
    owner_client, paid_practice, reason
):
    from markupsafe import escape

    from portal.text import text_problem

    form = tab(owner_client, paid_practice)
    with stripe_calls() as calls:
        response = owner_client.post(
            f"/practices/{paid_practice.id}/billing/cancel", data={**form, "reason": reason}
        )

    page = response.get_data(as_text=True)
    assert response.status_code == 422  # the page again, not a redirect that drops what was typed
    problem = escape(text_problem(reason, multiline=True))
    assert f'<ul class="errors" id="reason-errors"><li>{problem}</li></ul>' in page
    assert f">{reason}</textarea>" in page and '<details class="cancel" open>' in page
    assert "Please tell us why you are cancelling." not in page
    assert calls.count("subscription.update") == 0
    # Corrected in the same form, it acts (the refusal changed nothing, so the form is not stale).
    corrected = tab(owner_client, paid_practice, page)
    acted = owner_client.post(
        f"/practices/{paid_practice.id}/billing/cancel", data={**corrected, "reason": "Moving on"}, headers=HX
    )
    assert "The subscription will end at the end of the paid period." in acted.get_data(as_text=True)
