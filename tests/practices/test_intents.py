"""One effect per intent: every billing action runs once per rendered form, by one mechanism."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.practices import members
from portal.practices.models import BillingAuditEntry, BillingIntent
from tests.conftest import extract_csrf

HX = {"HX-Request": "true"}
#: POST routes under /billing/ that change nothing at Stripe by themselves (cards have their own keys;
#: the managers' status poll only looks the checkout up at Stripe and mirrors what it finds).
NOT_ACTIONS = ("/billing/plan/preview", "/billing/cards/", "/billing/status")


@pytest.fixture
def live_practice(owner, runner):
    assert runner.invoke(args=["billing", "bootstrap"]).exit_code == 0
    return members.create_practice(owner, "Intent Dental")


def rendered_form(client, practice) -> dict[str, str]:
    page = client.get(f"/practices/{practice.id}/billing").get_data(as_text=True)
    attempt = re.search(r'name="attempt" value="([^"]+)"', page).group(1)
    version = re.search(r'name="billing_version" value="([^"]+)"', page).group(1)
    return {"csrf_token": extract_csrf(page), "attempt": attempt, "billing_version": version}


def started(practice) -> int:
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(BillingAuditEntry)
        .where(BillingAuditEntry.practice_id == practice.id, BillingAuditEntry.action == "checkout_started")
    )


def test_every_billing_action_goes_through_the_intent_guard(app):
    actions = {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("practices.")
        and "POST" in rule.methods
        and "/billing/" in rule.rule
        and not any(part in rule.rule for part in NOT_ACTIONS)
    }
    assert actions >= {
        "practices.subscribe",
        "practices.cancel",
        "practices.resume",
        "practices.change_plan",
        "practices.pay_now",
    }
    unguarded = [name for name in actions if not getattr(app.view_functions[name], "billing_action", None)]
    assert unguarded == []


def test_a_form_posted_twice_answers_the_same_and_acts_once(owner_client, live_practice):
    form = {**rendered_form(owner_client, live_practice), "plan": "monthly"}
    path = f"/practices/{live_practice.id}/billing/subscribe"

    first = owner_client.post(path, data=form)
    second = owner_client.post(path, data=form)  # the Back button and Submit again
    third = owner_client.post(path, data=form, headers=HX)

    assert first.status_code == second.status_code == 303
    assert first.location == second.location == third.headers["HX-Redirect"]
    assert started(live_practice) == 1


def test_a_refused_form_keeps_its_key(owner_client, live_practice):
    form = rendered_form(owner_client, live_practice)
    path = f"/practices/{live_practice.id}/billing/subscribe"

    refused = owner_client.post(path, data={**form, "plan": "gold"}, headers=HX)
    assert refused.status_code == 422 and "Choose a plan." in refused.get_data(as_text=True)
    corrected = owner_client.post(path, data={**form, "plan": "semiannual"}, headers=HX)

    assert corrected.status_code == 204 and corrected.headers["HX-Redirect"]
    assert started(live_practice) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(BillingIntent)) == 1


def test_two_forms_start_two_checkouts_and_only_the_newest_can_be_paid(owner_client, live_practice, sandbox):
    path = f"/practices/{live_practice.id}/billing/subscribe"
    first_tab = {**rendered_form(owner_client, live_practice), "plan": "monthly"}
    second_tab = {**rendered_form(owner_client, live_practice), "plan": "monthly"}

    older = owner_client.post(path, data=first_tab).location
    newer = owner_client.post(path, data=second_tab).location

    assert older != newer and started(live_practice) == 2
    sessions = sandbox.client().v1.checkout.sessions
    assert sessions.retrieve(older.rsplit("/", 1)[1]).status == "expired"
    assert sessions.retrieve(newer.rsplit("/", 1)[1]).status == "open"
