"""Replaying a failed event: ``flask webhooks replay`` and the admin event log."""

from __future__ import annotations

import json
import re

import pytest
import sqlalchemy as sa
from flask import g

from portal.extensions import db
from portal.users.models import Role
from portal.wallet.models import PaymentMethod
from portal.webhooks.handlers import EVENT_HANDLERS
from portal.webhooks.models import EventStatus, WebhookEvent
from portal.webhooks.services import Outcome, receive_event, store_event
from tests.conftest import extract_csrf
from tests.stripe_payloads import make_event, payment_method
from tests.webhooks.conftest import count


@pytest.fixture
def broken_handler(monkeypatch):
    """Make ``payment_method.attached`` fail until ``fix()`` is called."""
    original = EVENT_HANDLERS["payment_method.attached"]
    state = {"broken": True}

    def handler(event: dict) -> None:
        original(event)
        if state["broken"]:
            raise RuntimeError("card service exploded")

    monkeypatch.setitem(EVENT_HANDLERS, "payment_method.attached", handler)

    class Control:
        @staticmethod
        def fix() -> None:
            state["broken"] = False

    return Control


@pytest.fixture
def failed_event(app, broken_handler) -> dict:
    event = make_event("payment_method.attached", payment_method("pm_1", "cus_1"))
    assert receive_event(event, json.dumps(event)) is Outcome.FAILED
    return event


def _row(event_id: str) -> WebhookEvent:
    db.session.expire_all()
    return db.session.scalar(sa.select(WebhookEvent).where(WebhookEvent.stripe_event_id == event_id))


# --- CLI ---------------------------------------------------------------------------------------


def test_cli_replay_of_a_still_failing_event(runner, failed_event):
    result = runner.invoke(args=["webhooks", "replay", failed_event["id"]])
    assert result.exit_code == 1
    assert "failed" in result.output and "card service exploded" in result.output
    assert _row(failed_event["id"]).attempts == 2


def test_cli_replay_after_the_fix(runner, failed_event, broken_handler):
    broken_handler.fix()
    result = runner.invoke(args=["webhooks", "replay", failed_event["id"]])
    assert result.exit_code == 0, result.output
    assert f"{failed_event['id']} (payment_method.attached): processed, attempts 2" in result.output
    assert _row(failed_event["id"]).status == EventStatus.PROCESSED
    assert count(PaymentMethod) == 1

    again = runner.invoke(args=["webhooks", "replay", failed_event["id"]])
    assert again.exit_code == 0 and "already processed; nothing to do" in again.output
    assert _row(failed_event["id"]).attempts == 2

    forced = runner.invoke(args=["webhooks", "replay", "--force", failed_event["id"]])
    assert forced.exit_code == 0 and "processed, attempts 3" in forced.output
    assert count(PaymentMethod) == 1  # handlers are idempotent


def test_cli_replay_of_an_unknown_event(runner):
    result = runner.invoke(args=["webhooks", "replay", "evt_nope"])
    assert result.exit_code == 1 and "no event evt_nope" in result.output


# --- admin pages -------------------------------------------------------------------------------


def forget_cached_csrf_token() -> None:
    """Work around a harness leak: the ``app`` fixture keeps an app context pushed, so every
    test-client request shares its ``g``, where Flask-WTF caches the CSRF token of the session
    *before* login (which clears the session). Pages would carry that stale token."""
    g.pop("csrf_token", None)


@pytest.fixture
def admin_client(auth, user_factory):
    admin = user_factory(role=Role.ADMIN)
    assert auth.login(admin.email).status_code == 302
    forget_cached_csrf_token()
    return auth.client


@pytest.mark.parametrize("path", ["/admin/", "/admin/events", "/admin/events/1"])
def test_anonymous_visitors_are_sent_to_login(client, path):
    response = client.get(path)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_anonymous_replay_is_refused(client, failed_event):
    response = client.post(f"/admin/events/{_row(failed_event['id']).id}/replay")
    assert response.status_code in (302, 400)  # login redirect or CSRF refusal: never a replay
    assert _row(failed_event["id"]).status == EventStatus.FAILED


@pytest.mark.parametrize("path", ["/admin/", "/admin/events", "/admin/events/1"])
def test_non_admins_get_403(logged_in, path):
    assert logged_in.get(path).status_code == 403


def test_non_admins_cannot_replay(logged_in, failed_event):
    forget_cached_csrf_token()
    token = extract_csrf(logged_in.get("/account").get_data(as_text=True))
    row_id = _row(failed_event["id"]).id
    response = logged_in.post(f"/admin/events/{row_id}/replay", data={"csrf_token": token})
    assert response.status_code == 403, response.get_data(as_text=True)
    assert _row(failed_event["id"]).status == EventStatus.FAILED


def test_admin_nav_and_dashboard(admin_client, failed_event):
    page = admin_client.get("/admin/").get_data(as_text=True)
    failed_link = 'href="/admin/events?status=failed">1 event<span class="visually-hidden"> failed</span></a>'
    assert failed_link in page
    account = admin_client.get("/account").get_data(as_text=True)
    assert 'href="/admin/"' in account  # "Admin" appears in the nav for platform admins


def test_admin_lists_and_filters_events(admin_client, failed_event):
    ignored = make_event("plan.created", {"id": "plan_1", "object": "plan"})
    receive_event(ignored, json.dumps(ignored))

    page = admin_client.get("/admin/events").get_data(as_text=True)
    assert failed_event["id"] in page and ignored["id"] in page
    assert page.count(">Replay</button>") == 1  # only the failed one

    failed_only = admin_client.get("/admin/events?status=failed").get_data(as_text=True)
    assert failed_event["id"] in failed_only and ignored["id"] not in failed_only
    by_type = admin_client.get("/admin/events?type=plan.created").get_data(as_text=True)
    assert ignored["id"] in by_type and failed_event["id"] not in by_type
    nonsense = admin_client.get("/admin/events?status=bogus&page=99")
    assert nonsense.status_code == 200


def test_admin_event_log_is_paginated(admin_client):
    for n in range(30):
        event = make_event(
            "plan.created", {"id": f"plan_{n}", "object": "plan"}, event_id=f"evt_page_{n:02d}"
        )
        store_event(event, json.dumps(event))
    first = admin_client.get("/admin/events").get_data(as_text=True)
    second = admin_client.get("/admin/events?page=2").get_data(as_text=True)
    assert len(re.findall(r"evt_page_\d\d</code>", first)) == 25
    assert len(re.findall(r"evt_page_\d\d</code>", second)) == 5
    assert "Page 1 of 2" in first and 'rel="next"' in first


def test_admin_sees_an_event_in_detail(admin_client, failed_event):
    row_id = _row(failed_event["id"]).id
    page = admin_client.get(f"/admin/events/{row_id}").get_data(as_text=True)
    assert "card service exploded" in page and "&#34;pm_1&#34;" in page
    assert admin_client.get("/admin/events/999999").status_code == 404


def test_admin_replays_a_failed_event(admin_client, failed_event, broken_handler):
    broken_handler.fix()
    page = admin_client.get("/admin/events?status=failed").get_data(as_text=True)
    row_id = _row(failed_event["id"]).id
    response = admin_client.post(
        f"/admin/events/{row_id}/replay",
        data={"csrf_token": extract_csrf(page), "status": "failed", "page": "1"},
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/admin/events?status=failed&page=1")
    assert _row(failed_event["id"]).status == EventStatus.PROCESSED
    assert count(PaymentMethod) == 1
    assert "replayed: processed" in admin_client.get(response.headers["Location"]).get_data(as_text=True)


def test_admin_replay_needs_csrf(admin_client, failed_event, broken_handler):
    broken_handler.fix()
    response = admin_client.post(f"/admin/events/{_row(failed_event['id']).id}/replay")
    assert response.status_code == 400
    assert _row(failed_event["id"]).status == EventStatus.FAILED
