"""Issue 18's journey in Vietnamese, in Chromium: a clinic's staff member whose browser speaks
Vietnamese (``vi-VN``) registers, saves a card, creates a practice priced in dong and subscribes to
the 6-month plan in the sandbox's hosted Checkout (the onboarding fee 4.990.000 ₫ plus the plan's
4.990.000 ₫), Stripe's webhooks delivered to the portal as they happen.

Every page says it in Vietnamese (words from the catalogue, so a missing translation fails here),
every amount in dong as Vietnamese writes it, and the receipt email arrives over SMTP in Vietnamese
with the payment's day in Ho Chi Minh City's time. The pages fit 1280 px and 390 px; the screenshots
are docs/screenshots/vi_*.png.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from pathlib import Path

import pytest
from babel.support import Translations
from playwright.sync_api import expect

from tests.e2e.conftest import new_page, save_screenshot
from tests.e2e.steps import RECEIPT, assert_fits, eventually, shows
from tests.smtp import body_text

pytestmark = pytest.mark.e2e

CATALOGUES = Path(__file__).resolve().parents[2] / "translations"
CARD_FRAME = "iframe[title='Secure card payment input frame']"
CLINIC_ZONE = zoneinfo.ZoneInfo("Asia/Ho_Chi_Minh")
NAME, EMAIL, PASSWORD = "Nguyễn Thị Lan", "lan@phongkham.vn", "mat-khau-rat-dai-1"
PRACTICE = "Nha khoa Hoa Sen"
#: The VND prices (config: BILLING_VND_ONBOARDING_FEE, BILLING_VND_SEMIANNUAL_PRICE), in dong.
ONBOARDING, SIX_MONTHS = 4_990_000, 4_990_000


def vi(msgid: str) -> str:
    """The Vietnamese catalogue's text for ``msgid``; a missing translation fails the journey."""
    text = Translations.load(str(CATALOGUES), ["vi"]).gettext(msgid)
    assert text != msgid, f"no Vietnamese for {msgid!r}"
    return text


def dong(amount: int) -> str:
    """An amount as Vietnamese writes dong: ``4.990.000 ₫`` (no minor unit, a no-break space)."""
    return f"{amount:,}".replace(",", ".") + "\u00a0₫"


def clinic_day(seconds: int) -> str:
    """A Stripe timestamp's day in Ho Chi Minh City, as Vietnamese writes it: ``1 thg 12, 2026``."""
    day = dt.datetime.fromtimestamp(seconds, CLINIC_ZONE)
    return f"{day.day} thg {day.month}, {day.year}"


@pytest.fixture
def vi_portal(webhook_portal):
    with webhook_portal.portal.app.test_request_context():
        from portal.practices.plans import bootstrap_plans

        bootstrap_plans()
    return webhook_portal


@pytest.fixture
def vi_page(browser):
    """A browser whose language is Vietnamese (``Accept-Language: vi-VN``), 1280 px wide."""
    page = new_page(browser, locale="vi-VN", viewport={"width": 1280, "height": 800})
    yield page
    page.context.close()


def shot(page, name: str) -> None:
    """docs/screenshots/<name>.png, once a card element on the page has drawn its fields (in the
    first screenful: headless Chromium leaves Stripe's frame blank in a full page's lower part)."""
    if page.locator("#add-card-form").count():
        expect(page.frame_locator(CARD_FRAME).get_by_label("Số thẻ")).to_be_visible()
    save_screenshot(page, name)


def fits_a_phone(page, name: str = "") -> None:
    """At 390 px the page scrolls only down; ``name``: a screenshot of it there."""
    assert_fits(page, 390)
    if name:
        page.set_viewport_size({"width": 390, "height": 844})
        page.reload()
        shot(page, name)
        page.set_viewport_size({"width": 1280, "height": 800})
        page.reload()


def test_a_vietnamese_clinic_subscribes_in_dong(vi_page, vi_portal, mailbox):
    page, base, sandbox = vi_page, vi_portal.url, vi_portal.sandbox
    stripe = sandbox.client().v1

    # Register: the form and the answer in Vietnamese.
    page.goto(f"{base}/register")
    expect(page.locator("html")).to_have_attribute("lang", "vi")
    expect(page.get_by_role("heading", level=1)).to_have_text(vi("Create your account"))
    fits_a_phone(page)
    page.get_by_label(vi("Full name")).fill(NAME)
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label(vi("Password"), exact=True).fill(PASSWORD)
    page.get_by_label(vi("Confirm password")).fill(PASSWORD)
    shot(page, "vi_register")
    page.get_by_role("button", name=vi("Create account")).click()
    expect(page).to_have_url(f"{base}/login")
    mailbox.wait_for(EMAIL, vi("Confirm your email address"))  # the language it signed up in
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label(vi("Password")).fill(PASSWORD)
    page.get_by_role("button", name=vi("Log in")).click()
    expect(page).to_have_url(f"{base}/account")

    # Save a card in Stripe.js's card element, which speaks Vietnamese too.
    frame = page.frame_locator(CARD_FRAME)
    frame.get_by_label("Số thẻ").fill("4242424242424242")
    frame.get_by_label("Ngày hết hạn").fill("1234")
    frame.get_by_label("CVC").fill("123")
    page.get_by_role("button", name=vi("Save card")).click()
    cards = page.get_by_role("list", name=vi("Saved cards"))
    expect(cards).to_contain_text("4242")
    expect(cards).to_contain_text(vi("Default"))
    shot(page, "vi_wallet")
    fits_a_phone(page)

    # Create the practice; a Vietnamese browser is offered dong first.
    page.goto(f"{base}/practices/")
    fits_a_phone(page)
    currency = page.get_by_label(vi("Currency"))
    expect(currency).to_have_value("vnd")
    page.get_by_label(vi("Practice name")).fill(PRACTICE)
    shot(page, "vi_create_practice")
    page.get_by_role("button", name=vi("Create practice")).click()
    expect(page).to_have_url(re.compile(r"/practices/\d+/billing$"))
    billing_url = page.url
    billing, invoices = page.locator("#practice-billing"), page.locator("#practice-invoices")

    # The plans in dong, the onboarding fee with them.
    six_months = page.get_by_label(re.compile(vi("Every 6 months")))
    expect(six_months.locator("xpath=..")).to_contain_text(dong(SIX_MONTHS))
    expect(billing).to_contain_text(dong(ONBOARDING))
    six_months.check()
    page.get_by_role("button", name=vi("Continue to payment")).click()

    # Stripe's hosted Checkout in Vietnamese: each line and the total in dong.
    expect(page).to_have_url(re.compile("^" + re.escape(sandbox.url)))
    expect(page.get_by_role("heading", name="Thanh toán")).to_be_visible()
    fits_a_phone(page)
    summary = page.locator("table").first
    expect(summary).to_contain_text(dong(ONBOARDING))
    expect(summary.locator("tr.total")).to_contain_text("Tổng số tiền phải trả hôm nay")
    expect(summary.locator("tr.total")).to_contain_text(dong(ONBOARDING + SIX_MONTHS))
    page.get_by_label("Số thẻ").fill("4242 4242 4242 4242")
    page.get_by_label("Ngày hết hạn").fill("12 / 34")
    page.get_by_label("CVC").fill("123")
    page.get_by_label("Tên chủ thẻ").fill(NAME)
    if page.get_by_label("Địa chỉ dòng 1").count():
        page.get_by_label("Địa chỉ dòng 1").fill("12 Nguyễn Huệ")
        page.get_by_label("Thành phố").fill("Hồ Chí Minh")
        page.get_by_label("Mã bưu chính").fill("700000")
        page.get_by_label("Quốc gia (2 chữ cái)").fill("VN")
    shot(page, "vi_checkout")
    page.get_by_role("button", name="Thanh toán", exact=True).click()

    # Back on the billing page: paid, the invoice in dong.
    expect(page.locator('[data-billing-status="DONE"]')).to_be_visible()
    (subscription,) = stripe.subscriptions.list({"status": "all"}).data
    (invoice,) = stripe.invoices.list({"subscription": subscription.id}).data
    assert (invoice.currency, invoice.amount_paid) == ("vnd", ONBOARDING + SIX_MONTHS)
    row = invoices.locator(f'tr[data-invoice="{invoice.id}"]')
    shows(page, billing_url, row, dong(ONBOARDING + SIX_MONTHS))
    expect(row).to_contain_text(vi("Paid"))
    expect(row).to_contain_text(clinic_day(invoice.created))
    expect(billing).to_contain_text(vi("Every 6 months"))
    expect(billing).to_contain_text(dong(SIX_MONTHS))
    expect(page.get_by_role("heading", name=vi("Invoices"), exact=True)).to_be_visible()
    shot(page, "vi_billing")
    fits_a_phone(page, "vi_billing_phone")

    # Stripe's invoice page, in the customer's language.
    page.goto(invoice.hosted_invoice_url)
    expect(page.locator("html")).to_have_attribute("lang", "vi")
    expect(page.locator("tr.total")).to_contain_text(dong(ONBOARDING + SIX_MONTHS))
    expect(page.locator("main")).to_contain_text(dong(ONBOARDING))

    # The receipt, over SMTP: Vietnamese, dong, the day it was paid in Ho Chi Minh City.
    receipt_subject = vi("%(practice)s: receipt for invoice %(number)s") % {
        "practice": PRACTICE,
        "number": invoice.number,
    }
    email = mailbox.wait_for(EMAIL, receipt_subject)
    assert RECEIPT not in str(email["Subject"])
    text = body_text(email)
    paid_at = eventually(lambda: stripe.invoices.retrieve(invoice.id).status_transitions.paid_at)
    assert vi("Paid on: %(day)s") % {"day": clinic_day(paid_at)} in text
    assert vi("Total paid: %(amount)s") % {"amount": dong(ONBOARDING + SIX_MONTHS)} in text
    assert f"{vi('Onboarding fee (one time)')}: {dong(ONBOARDING)}" in text
    period = vi("%(start)s to %(end)s") % {
        "start": clinic_day(subscription.items.data[0].current_period_start),
        "end": clinic_day(subscription.items.data[0].current_period_end),
    }
    assert f"{vi('Every 6 months')} ({period}): {dong(SIX_MONTHS)}" in text
    assert vi("Thank you. We received the payment for %(practice)s.").split("%")[0].strip() in " ".join(
        text.split()
    )
    assert "Thank you" not in text and "Practice subscription" not in text

    assert page.errors == []
