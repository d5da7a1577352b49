"""Issue 19: the business in numbers. A seeded history (practices created in given months, invoices
paid, failed and void, a churn, a past-due practice that recovered, refunds, registrations with and
without their Stripe customer) and the exact figure for each metric and month; the page shows them,
only to platform admins, and never calls Stripe."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from flask import current_app, g

from portal.admin import numbers
from portal.database import utcnow
from portal.practices.models import Plan
from portal.practices.status import BillingStatus
from portal.users.models import Role
from tests import factories as f
from tests.admin.numbers_history import seed_history
from tests.conftest import both_engines

PRICES = numbers.Prices("usd", monthly=9900, semiannual=49900)
MONTHLY_DONE = (Plan.MONTHLY, BillingStatus.DONE)
SEMI_DONE = (Plan.SEMIANNUAL, BillingStatus.DONE)
SEMI_PAST_DUE = (Plan.SEMIANNUAL, BillingStatus.PAST_DUE)
SEMI_CANCELLED = (Plan.SEMIANNUAL, BillingStatus.CANCELLED)


@pytest.fixture
def months(app) -> list[numbers.Month]:
    return numbers.last_months(utcnow())


@pytest.fixture
def history(months):
    seed_history(months)
    return months


def by_month(rows, *fields):
    return [tuple(getattr(row, name) for name in fields) for row in rows]


def test_the_window_is_the_last_twelve_calendar_months():
    months = numbers.last_months(dt.datetime(2026, 2, 14, 8))
    assert [m.key for m in months] == [
        "2025-03", "2025-04", "2025-05", "2025-06", "2025-07", "2025-08",
        "2025-09", "2025-10", "2025-11", "2025-12", "2026-01", "2026-02",
    ]  # fmt: skip
    assert months[-1].end == dt.datetime(2026, 3, 1) and months[9].end == dt.datetime(2026, 1, 1)


@both_engines
def test_customer_creation_success_rate(history):
    rows = numbers.customer_creation(history)
    expected = [(0, 0, None)] * 12
    expected[1] = (3, 2, 66.7)
    expected[4] = (1, 0, 0.0)
    assert by_month(rows, "registered", "with_customer", "rate") == expected


@both_engines
def test_payment_success_rate(history):
    rows = numbers.payment_success(history)
    expected = [(0, 0, None, 0)] * 12
    expected[2] = (1, 1, 100.0, 0)
    expected[3] = (2, 2, 100.0, 0)  # the void and the nothing-due invoices are left out
    expected[4] = (1, 1, 100.0, 0)
    expected[5] = (1, 1, 100.0, 1)
    expected[7] = (1, 1, 100.0, 0)
    expected[8] = (1, 1, 100.0, 0)
    expected[9] = (1, 0, 0.0, 1)  # two retries failed: one practice
    assert by_month(rows, "due", "paid", "rate", "failed_attempts") == expected


@both_engines
def test_customer_lifetime_value_per_currency(history):
    values = numbers.lifetime_value(history)
    assert list(values) == ["usd", "vnd"]  # never added together
    usd = by_month(values["usd"], "net_paid", "paying_practices", "value")
    assert usd == [
        (9900, 1, 9900),
        (9900, 1, 9900),
        (69700, 2, 34850),
        (179400, 3, 59800),
        (189300, 3, 63100),
        (199200, 3, 66400),
        *[(198200, 3, 66066)] * 6,  # the $10 refund (the failed one is not); rounded down
    ]
    vnd = by_month(values["vnd"], "net_paid", "paying_practices", "value")
    assert vnd == [(0, 0, None)] * 7 + [(2_500_000, 1, 2_500_000)] + [(4_500_000, 1, 4_500_000)] * 4


@both_engines
def test_new_churned_past_due_and_recovered_practices(history):
    rows = numbers.practice_movements(history)
    expected = [(0, 0, 0, 0)] * 12
    expected[2] = (2, 0, 0, 0)
    expected[5] = (0, 0, 1, 1)
    expected[7] = (1, 0, 0, 0)
    expected[9] = (0, 0, 1, 0)
    expected[10] = (0, 1, 0, 0)
    expected[11] = (1, 0, 0, 0)
    assert by_month(rows, "new", "churned", "fell_past_due", "recovered") == expected


@both_engines
def test_subscriptions_by_plan_and_status_and_mrr(history):
    subscriptions = numbers.subscriptions_at_month_ends(history)
    assert [row.counts for row in subscriptions] == [
        {MONTHLY_DONE: 1},
        {MONTHLY_DONE: 1},
        {MONTHLY_DONE: 2},  # Birch subscribes in m3
        *[{MONTHLY_DONE: 2, SEMI_DONE: 1}] * 4,  # Alder's past due began and ended within m5
        *[{MONTHLY_DONE: 3, SEMI_DONE: 1}] * 2,
        {MONTHLY_DONE: 3, SEMI_PAST_DUE: 1},
        *[{MONTHLY_DONE: 3, SEMI_CANCELLED: 1}] * 2,
    ]
    mrr = numbers.mrr(subscriptions, PRICES)
    assert by_month(mrr, "amount", "live") == [
        (9900, 1),
        (9900, 1),
        (19800, 2),
        *[(28116, 3)] * 4,  # $499.00 every 6 months: $83.16 a month
        *[(38016, 4)] * 3,  # a past-due subscription still bills
        *[(29700, 3)] * 2,
    ]
    assert {row.currency for row in mrr} == {"usd"}


def test_no_figure_calls_stripe(history, admin_client):
    counter = current_app.extensions["stripe_call_counter"]
    with counter.watch() as calls:
        numbers.business_numbers(utcnow(), PRICES)
        assert admin_client.get("/admin/numbers").status_code == 200
    assert calls == []


@pytest.fixture
def admin_client(auth):
    admin = f.UserFactory(role=Role.ADMIN)
    assert auth.login(admin.email).status_code == 302
    g.pop("csrf_token", None)
    return auth.client


def row_of(page: str, section: str, month: numbers.Month) -> str:
    """The text of one month's row in one figure's table, tags removed."""
    block = page.split(f'id="{section}"', 1)[1].split("</section>", 1)[0]
    row = re.search(rf'<tr data-month="{month.key}">(.*?)</tr>', block, re.S).group(1)
    return " ".join(re.sub(r"<[^>]+>", " ", row).split())


@both_engines
def test_the_page_shows_the_numbers_with_how_they_are_counted(history, admin_client):
    response = admin_client.get("/admin/numbers")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    m = history
    assert row_of(page, "mrr", m[7]) == f"{m[7].label} $380.16 4"
    assert row_of(page, "subscriptions", m[9]) == f"{m[9].label} 3 0 0 0 1 0"
    assert row_of(page, "practices", m[5]) == f"{m[5].label} 0 0 1 1"
    assert row_of(page, "payments", m[9]) == f"{m[9].label} 1 0 0.0% 1"
    assert row_of(page, "payments", m[0]) == f"{m[0].label} 0 0 — 0"
    assert row_of(page, "customers", m[1]) == f"{m[1].label} 3 2 66.7%"
    assert row_of(page, "lifetime-usd", m[11]) == f"{m[11].label} $1,982.00 3 $660.66"
    assert row_of(page, "lifetime-vnd", m[8]) == f"{m[8].label} ₫4,500,000 1 ₫4,500,000"
    assert page.count("How counted:") == 7  # one under each figure
    assert 'data-value="380.16"' in page  # the chart's value: the currency's own digits
    assert "chart.umd.min.js" in page and "js/numbers.js" in page and "<script>" not in page


def test_the_admin_dashboard_links_to_it(admin_client):
    assert 'href="/admin/numbers"' in admin_client.get("/admin/").get_data(as_text=True)


def test_only_platform_admins_see_it(client, auth, user_factory):
    assert client.get("/admin/numbers").status_code == 302  # anonymous: log in first
    person = user_factory(email="owner@example.com")
    assert auth.login(person.email).status_code == 302
    assert client.get("/admin/numbers").status_code == 403


def test_mrr_is_per_currency_never_added_across(history, admin_client):
    """A practice paying in dong counts in its own MRR at the VND list price, not in the dollars'."""
    from tests.admin.numbers_history import at, status

    m = history
    lotus = f.PracticeFactory(name="Lotus", plan=Plan.MONTHLY, currency="vnd", created_at=at(m[8], 1))
    status(lotus, at(m[8], 2), "REQUIRED → DONE")
    subscriptions = numbers.subscriptions_at_month_ends(m)
    assert by_month(numbers.mrr(subscriptions, PRICES), "amount", "live")[8] == (38016, 4)  # as before
    dong = numbers.mrr(subscriptions, numbers.Prices("vnd", monthly=990_000, semiannual=4_990_000))
    assert by_month(dong, "amount", "live")[7:9] == [(0, 0), (990_000, 1)]
    page = admin_client.get("/admin/numbers").get_data(as_text=True)
    assert row_of(page, "mrr", m[8]) == f"{m[8].label} $380.16 4"
    assert row_of(page, "mrr-vnd", m[8]) == f"{m[8].label} ₫990,000 1"
    assert "Monthly recurring revenue (VND)" in page
    vietnamese = admin_client.get("/admin/numbers", headers={"Accept-Language": "vi"}).get_data(as_text=True)
    assert "Doanh thu định kỳ hằng tháng (VND)" in vietnamese and "990.000" in vietnamese
