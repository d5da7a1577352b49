"""Issue 19 in Chromium: a platform admin opens the business in numbers from the dashboard; each
table of numbers gets its chart (Chart.js, drawn from the table by numbers.js under the portal's
CSP), the page fits a phone, and the README's screenshot is taken of the seeded history."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from portal.admin import numbers
from portal.database import utcnow
from portal.users.models import Role
from tests import factories as f
from tests.admin.numbers_history import seed_history
from tests.e2e.conftest import new_page
from tests.e2e.steps import assert_fits, log_in

pytestmark = pytest.mark.e2e


def test_admin_reads_the_numbers_beside_their_charts(page, live_portal_factory, screenshot):
    portal = live_portal_factory()
    with portal.app.test_request_context():
        months = numbers.last_months(utcnow())
        seed_history(months)
        admin = f.UserFactory(name="Ada Admin", email="ada@example.com", role=Role.ADMIN)
        email = admin.email
    log_in(page, portal.url, email, f.DEFAULT_PASSWORD)
    page.goto(f"{portal.url}/admin/")
    page.get_by_role("link", name="See the numbers").click()
    expect(page.get_by_role("heading", name="The business in numbers")).to_be_visible()

    tables = page.locator("table.numbers")
    expect(tables).to_have_count(7)  # MRR, subscriptions, practices, payments, customers, 2 currencies
    expect(page.locator(".chart-box canvas")).to_have_count(7)
    mrr_row = page.locator("#mrr tr").filter(has_text=months[7].label)
    expect(mrr_row).to_contain_text("$380.16")
    assert page.errors == []  # no CSP refusal, no script error
    page.set_viewport_size({"width": 1280, "height": 900})
    assert _cut_tables(page) == []  # attack 19 A3: a desktop showed every column of every table
    screenshot("admin_numbers")

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    expect(page.locator(".chart-box canvas")).to_have_count(7)
    assert_fits(page, 390)
    box = page.locator("#mrr .chart-box").bounding_box()
    assert box is not None and box["width"] <= 390
    assert page.errors == []


def _cut_tables(page) -> list[str]:
    """The figures whose table is wider than its box (columns hidden until scrolled)."""
    return page.evaluate(
        """() => Array.from(document.querySelectorAll('.table-scroll'))
            .filter((box) => box.scrollWidth > box.clientWidth + 1)
            .map((box) => box.closest('section').id)"""
    )


def test_the_numbers_read_in_vietnamese_tables_and_charts_alike(browser, live_portal_factory):
    """Attack 19 A4: the rates were written "100.0%" beside "0,00 US$", the charts' ticks "0.1"."""
    portal = live_portal_factory()
    with portal.app.test_request_context():
        months = numbers.last_months(utcnow())
        seed_history(months)
        admin = f.UserFactory(name="Ada Admin", email="ada@example.com", role=Role.ADMIN, locale="vi")
        email = admin.email
    page = new_page(browser, viewport={"width": 1280, "height": 900})  # her account reads Vietnamese
    try:
        log_in(page, portal.url, email, f.DEFAULT_PASSWORD)
        page.goto(f"{portal.url}/admin/numbers")
        expect(page.locator(".chart-box canvas")).to_have_count(7)
        rates = page.locator("#payments td[data-value]:not([data-value=''])")
        assert rates.count() and all("," in text and "." not in text for text in rates.all_inner_texts())
        ticks = page.evaluate(
            """(id) => window.Chart.getChart(document.querySelector(`#${id} canvas`))
                .scales.y.ticks.map((tick) => tick.label)""",
            "mrr",
        )
        assert ticks and all("US$" in tick for tick in ticks), ticks
        shares = page.evaluate(
            """() => window.Chart.getChart(document.querySelector('#payments canvas'))
                .scales.y.ticks.map((tick) => tick.label)"""
        )
        assert shares and all(tick.endswith("%") for tick in shares), shares
        counts = page.evaluate(
            """() => window.Chart.getChart(document.querySelector('#practices canvas'))
                .scales.y.ticks.map((tick) => tick.value)"""
        )
        assert counts and all(float(n).is_integer() for n in counts), counts  # attack 19 A16
        assert _cut_tables(page) == []
        assert page.errors == []
    finally:
        page.context.close()
