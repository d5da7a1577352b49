"""F34: a pause whose request reached Stripe unanswered is never "nothing changed": the admin is
told it is not confirmed yet, History keeps who paused and why (written when asked), and the admin
page learns Stripe's outcome with the same call and key once Stripe answers."""

# ruff: noqa: F811 (the fixtures are imported from the suites they extend)
from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.practices import pausing, unconfirmed
from portal.practices.models import BillingAuditEntry, Practice
from tests.conftest import extract_csrf
from tests.practices.conftest import login
from tests.practices.test_trial_and_pause import active, admin, practice  # noqa: F401


@pytest.fixture
def app_overrides() -> dict:
    return {
        "STRIPE_CONNECT_TIMEOUT_SECONDS": 1,
        "STRIPE_READ_TIMEOUT_SECONDS": 0.5,
        "STRIPE_ACTION_BUDGET_SECONDS": 4,
    }


def test_a_pause_whose_answer_was_lost_is_kept_with_who_and_why(sandbox, auth, active, admin):
    client = login(auth, admin)
    token = extract_csrf(client.get(f"/admin/practices/{active.id}").get_data(as_text=True))
    sandbox.set_latency(1500)
    try:
        answer = client.post(
            f"/admin/practices/{active.id}/pause-collection",
            data={"csrf_token": token, "reason": "Hardship, agreed by phone"},
        )
    finally:
        sandbox.set_latency(0)
    assert answer.status_code == 303
    deadline = time.monotonic() + 10
    while not sandbox.client().v1.subscriptions.retrieve(active.stripe_subscription_id).pause_collection:
        assert time.monotonic() < deadline, "the sandbox never paused it"
        time.sleep(0.1)
    with sandbox.outage():  # Stripe still not answering when the page is drawn: said as unknown
        page = client.get(f"/admin/practices/{active.id}").get_data(as_text=True)
    assert unconfirmed.UNCONFIRMED in page and str(pausing.NOT_CHANGED) not in page
    db.session.expire_all()
    [line] = db.session.scalars(
        sa.select(BillingAuditEntry).where(
            BillingAuditEntry.practice_id == active.id,
            BillingAuditEntry.action == "collection_paused_by_admin",
        )
    ).all()
    assert line.actor_id == admin.id and "Hardship, agreed by phone" in line.detail

    page = client.get(f"/admin/practices/{active.id}").get_data(as_text=True)  # Stripe answers now
    assert 'data-collection="paused"' in page
    db.session.expire_all()
    fresh = db.session.get(Practice, active.id)
    assert fresh.unconfirmed_call is None and fresh.pause_behavior == "void"
