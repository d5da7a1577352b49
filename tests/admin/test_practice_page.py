"""The admin pages speak the billing page's words, and each practice has its own page."""

from __future__ import annotations

import datetime as dt

import pytest

from portal.practices.models import Plan
from portal.practices.status import BillingStatus
from portal.users.models import Role
from tests.factories import (
    BillingAuditEntryFactory,
    PracticeFactory,
    PracticeInvoiceFactory,
    UserFactory,
    WebhookEventFactory,
)


@pytest.fixture
def admin_client(auth):
    admin = UserFactory(role=Role.ADMIN)
    assert auth.login(admin.email).status_code == 302
    return auth.client


@pytest.fixture
def practice():
    owner = UserFactory(email="olive@example.com")
    return PracticeFactory(
        name="Harbour Dental",
        owner=owner,
        billing_status=BillingStatus.PAST_DUE,
        subscription_status="past_due",
        stripe_subscription_id="sub_harbour",
        plan=Plan.MONTHLY,
        current_period_end=dt.datetime(2026, 12, 10),
    )


def test_the_practice_list_links_each_practice_and_uses_the_billing_pages_words(admin_client, practice):
    page = admin_client.get("/admin/practices").get_data(as_text=True)
    assert f'href="/admin/practices/{practice.id}"' in page
    assert "Past due" in page and "Next renewal 10 Dec 2026" in page
    assert ">PAST_DUE<" not in page and ">past_due<" not in page


def test_the_dashboard_has_no_codes_or_unix_times(admin_client, practice):
    WebhookEventFactory(type="invoice.finalization_failed", created=1_790_000_000)
    page = admin_client.get("/admin/").get_data(as_text=True)
    assert "<dt>Past due</dt>" in page and "<dt>Billing required</dt>" in page
    assert ">PAST_DUE<" not in page and ">REQUIRED<" not in page
    assert "UTC" in page and "1790000000" not in page


def test_an_events_created_time_reads_as_a_date(admin_client):
    event = WebhookEventFactory(created=1_790_000_000)
    page = admin_client.get(f"/admin/events/{event.id}").get_data(as_text=True)
    assert "21 Sep 2026, 14:13 UTC" in page and "<dd>1790000000</dd>" not in page


def test_a_practice_page_with_status_plan_invoices_history_and_its_events(admin_client, practice):
    PracticeInvoiceFactory(practice=practice, stripe_id="in_harbour_1", status="open")
    BillingAuditEntryFactory(practice=practice, action="status_changed", detail="DONE → PAST_DUE")
    about = WebhookEventFactory(type="invoice.payment_failed", object_id="in_harbour_1")
    WebhookEventFactory(type="invoice.paid", object_id="in_someone_else")
    page = admin_client.get(f"/admin/practices/{practice.id}").get_data(as_text=True)
    assert "<h1>Harbour Dental</h1>" in page and "olive@example.com" in page
    assert 'data-billing-status="PAST_DUE"' in page and "Past due" in page and "Monthly" in page
    assert "Open" in page and "Billing status: Active → Past due" in page
    assert f'href="/admin/events/{about.id}"' in page and "in_someone_else" not in page


def test_a_practice_page_needs_an_admin(auth, practice):
    user = UserFactory()
    auth.login(user.email)
    assert auth.client.get(f"/admin/practices/{practice.id}").status_code == 403
    auth.logout()
    admin = UserFactory(role=Role.ADMIN)
    auth.login(admin.email)
    assert auth.client.get("/admin/practices/999999").status_code == 404


def test_an_events_status_reads_the_same_in_its_badge_and_the_filter(admin_client):
    WebhookEventFactory()  # received, not handled yet
    page = admin_client.get("/admin/events").get_data(as_text=True)
    assert (
        'data-event-status="received">Waiting<' in page
        and '<option value="received" >Waiting</option>' in page
    )
