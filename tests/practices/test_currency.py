"""Issue 18: a practice's currency. Chosen when it is created (VND for a person reading in
Vietnamese or in Vietnam), its plans and onboarding fee priced in it by their own lookup keys;
Checkout, switches and invoices in it, amounts written by Babel with the currency's own digits
(none for VND); a code with an amount off in another currency is refused."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from decimal import Decimal

import pytest
import requests
from babel.numbers import format_currency

from portal.extensions import db
from portal.practices import history as practice_history
from portal.practices import members, subscriptions
from portal.practices import plans as practice_plans
from portal.practices.models import Plan
from tests.practices.sandbox_helpers import save_card
from tests.practices.test_promotion_codes import billing_form
from tests.practices.test_views import csrf, path_of, pay_checkout

HX = {"HX-Request": "true"}


def dong(amount: int, locale: str = "en") -> str:
    """How Babel writes an amount of dong: ``₫4,990,000`` in English, ``4.990.000 ₫`` in Vietnamese."""
    return format_currency(Decimal(amount), "VND", locale=locale)


def selected_currency(page: str) -> str:
    return re.search(r'<option selected value="(\w+)">', page.split('name="currency"', 1)[1]).group(1)


@pytest.fixture
def vnd_practice(owner_client, owner, plans):
    response = owner_client.post(
        "/practices/", data={"name": "Phòng khám Sen", "currency": "vnd", "csrf_token": csrf(owner_client)}
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    [(practice, _)] = members.practices_for(owner)
    assert practice.currency == "vnd" and practice.stripe_customer_id
    return practice


@pytest.fixture
def usd_practice(owner, plans):
    return members.create_practice(owner, "Harbour Dental")


@pytest.mark.parametrize(
    ("accept_language", "currency"),
    [("vi", "vnd"), ("en-VN,en;q=0.8", "vnd"), ("en-US,en;q=0.8", "usd"), ("de-DE", "usd")],
)
def test_the_create_form_suggests_the_currency_by_language_or_country(
    owner_client, accept_language, currency
):
    page = owner_client.get("/practices/", headers={"Accept-Language": accept_language}).get_data(
        as_text=True
    )
    assert selected_currency(page) == currency


def test_a_currency_the_portal_does_not_price_in_is_refused(owner_client, owner):
    response = owner_client.post(
        "/practices/", data={"name": "Euro Clinic", "currency": "eur", "csrf_token": csrf(owner_client)}
    )
    assert response.status_code == 422
    assert members.practices_for(owner) == []


def test_bootstrap_makes_the_vnd_prices_by_their_own_lookup_keys(plans, runner, sandbox):
    output = runner.invoke(args=["billing", "bootstrap"]).output
    for key in ("onboarding_fee_vnd", "plan_monthly_vnd", "plan_semiannual_vnd"):
        assert key in output
    found = sandbox.client().v1.prices.list(
        {"lookup_keys": ["onboarding_fee_vnd", "plan_monthly_vnd", "plan_semiannual_vnd", "plan_monthly"]}
    )
    amounts = {price.lookup_key: (price.unit_amount, price.currency) for price in found.data}
    assert amounts == {
        "onboarding_fee_vnd": (4_990_000, "vnd"),
        "plan_monthly_vnd": (990_000, "vnd"),
        "plan_semiannual_vnd": (4_990_000, "vnd"),
        "plan_monthly": (9900, "usd"),  # the existing keys keep their dollars
    }


def test_a_vnd_practice_subscribes_through_checkout_and_pays_in_dong(owner_client, vnd_practice, sandbox):
    practice = vnd_practice
    page = owner_client.get(f"/practices/{practice.id}/billing").get_data(as_text=True)
    assert dong(4_990_000) in page and dong(990_000) in page  # the offers and the fee, in dong
    assert "$" not in page.split("<main", 1)[1]
    response = owner_client.post(
        f"/practices/{practice.id}/billing/subscribe",
        data={**billing_form(owner_client, practice), "plan": "semiannual"},
    )
    assert response.status_code == 303
    session = sandbox.client().v1.checkout.sessions.retrieve(response.location.rsplit("/", 1)[1])
    assert session.currency == "vnd" and session.amount_total == 9_980_000  # fee + 6 months
    checkout_page = requests.get(response.location, timeout=10).text
    assert "9,980,000 VND" in checkout_page and ".00" not in checkout_page.split("<body", 1)[1]
    owner_client.get(path_of(pay_checkout(response.location)), follow_redirects=True)
    db.session.refresh(practice)
    assert practice.plan == Plan.SEMIANNUAL and practice.onboarding_paid_at is not None
    invoice = practice_history.invoice_by_id(practice.latest_invoice_id)
    assert (invoice.currency, invoice.amount_paid) == ("vnd", 9_980_000)
    english = owner_client.get(f"/practices/{practice.id}/billing").get_data(as_text=True)
    assert dong(9_980_000) in english and "9,980,000.00" not in english
    vietnamese = owner_client.get(
        f"/practices/{practice.id}/billing", headers={"Accept-Language": "vi"}
    ).get_data(as_text=True)
    assert dong(9_980_000, "vi") in vietnamese and dong(4_990_000, "vi") in vietnamese


def test_a_usd_practice_is_unchanged(owner_client, usd_practice, sandbox):
    practice = usd_practice
    assert practice.currency == "usd"
    page = owner_client.get(f"/practices/{practice.id}/billing").get_data(as_text=True)
    assert "$99.00" in page and "$499.00" in page and "₫" not in page
    response = owner_client.post(
        f"/practices/{practice.id}/billing/subscribe",
        data={**billing_form(owner_client, practice), "plan": "monthly"},
    )
    session = sandbox.client().v1.checkout.sessions.retrieve(response.location.rsplit("/", 1)[1])
    assert session.currency == "usd" and session.amount_total == 9900 + 49900


def _subscribe_vnd(sandbox, practice, plan: Plan) -> None:
    save_card(sandbox, practice)
    sub = sandbox.client().v1.subscriptions.create(
        {
            "customer": practice.stripe_customer_id,
            "items": [{"price": practice_plans.plan_price_id(plan, "vnd")}],
            "add_invoice_items": [{"price": practice_plans.onboarding_price_id("vnd")}],
            "metadata": {"practiceId": str(practice.id)},
        }
    )
    subscriptions.apply_fresh_subscription(sandbox.client().v1.subscriptions.retrieve(sub.id))
    db.session.commit()


def practice_period(practice) -> tuple[dt.datetime, dt.datetime]:
    """The paid period as the mirror keeps it (naive: UTC)."""
    return practice.current_period_start, practice.current_period_end


def test_a_vnd_switch_prorates_to_whole_dong(owner_client, owner, vnd_practice, sandbox):
    practice = vnd_practice
    _subscribe_vnd(sandbox, practice, Plan.MONTHLY)
    assert practice.plan == Plan.MONTHLY
    sandbox.advance(days=9, seconds=7)  # a part of the month used: its credit is not whole by chance
    preview = subscriptions.preview_plan_change(practice, Plan.SEMIANNUAL, owner)
    start, end = (moment.replace(tzinfo=dt.UTC).timestamp() for moment in practice_period(practice))
    remaining = (end - preview.proration_date) / (end - start)
    assert (990_000 * remaining) % 1  # the exact credit has a part of a dong
    amounts = sorted(amount for _, amount in preview.lines)
    assert preview.currency == "vnd" and -round(990_000 * remaining) in amounts and 4_990_000 in amounts
    assert preview.amount_due == sum(amounts)
    page = owner_client.post(
        f"/practices/{practice.id}/billing/plan/preview",
        data={"plan": "semiannual", "csrf_token": csrf(owner_client, f"/practices/{practice.id}/billing")},
        headers=HX,
    ).get_data(as_text=True)
    assert dong(preview.amount_due) in page and dong(4_990_000) in page
    subscriptions.change_plan(practice, Plan.SEMIANNUAL, owner, proration_date=preview.proration_date)
    invoice = practice_history.invoice_by_id(practice.latest_invoice_id)
    assert (invoice.currency, invoice.amount_paid) == ("vnd", preview.amount_due)


def _amount_off_code(sandbox, amount: int, currency: str) -> str:
    client = sandbox.client()
    coupon = client.v1.coupons.create({"amount_off": amount, "currency": currency, "duration": "once"})
    code = f"DONG-{secrets.token_hex(3).upper()}"
    client.v1.promotion_codes.create({"promotion": {"type": "coupon", "coupon": coupon.id}, "code": code})
    return code


def test_a_vnd_code_on_a_usd_practice_is_refused_with_a_clear_message(owner_client, usd_practice, sandbox):
    code = _amount_off_code(sandbox, 100_000, "vnd")
    response = owner_client.post(
        f"/practices/{usd_practice.id}/billing/subscribe",
        data={**billing_form(owner_client, usd_practice), "plan": "monthly", "promotion_code": code},
    )
    assert response.status_code == 422
    assert (
        f"{code} is an amount off in VND ({dong(100_000)}); this practice pays in USD, "
        "so it cannot use this code." in response.get_data(as_text=True)
    )
    db.session.refresh(usd_practice)
    assert usd_practice.checkout_session_id is None  # nothing was started


def test_a_vnd_code_on_a_vnd_practice_takes_its_dong_off(owner_client, vnd_practice, sandbox):
    code = _amount_off_code(sandbox, 100_000, "vnd")
    response = owner_client.post(
        f"/practices/{vnd_practice.id}/billing/subscribe",
        data={**billing_form(owner_client, vnd_practice), "plan": "monthly", "promotion_code": code},
    )
    assert response.status_code == 303
    session = sandbox.client().v1.checkout.sessions.retrieve(response.location.rsplit("/", 1)[1])
    assert session.total_details.amount_discount == 100_000 and session.amount_total == 5_880_000


def test_a_dollar_retention_offer_is_not_made_to_a_practice_paying_in_dong(owner, vnd_practice, sandbox):
    from portal.practices import retention
    from portal.promotions.models import RetentionCoupon

    _subscribe_vnd(sandbox, vnd_practice, Plan.MONTHLY)
    assert vnd_practice.subscription_status == "active"
    db.session.add(RetentionCoupon(coupon_id="co_dollars", amount_off=2000, currency="usd", duration="once"))
    db.session.commit()
    assert retention.offer_for(vnd_practice) is None  # Stripe would refuse dollars off a dong invoice
    db.session.add(RetentionCoupon(coupon_id="co_percent", percent_off=30, duration="once"))
    db.session.commit()
    assert retention.offer_for(vnd_practice).coupon_id == "co_percent"


def test_the_currency_select_reads_in_vietnamese(owner_client):
    page = owner_client.get("/practices/", headers={"Accept-Language": "vi"}).get_data(as_text=True)
    assert "Đơn vị tiền tệ" in page and "Việt Nam đồng (VND)" in page and "Đô la Mỹ (USD)" in page
    assert "Sau khi phòng khám đăng ký gói, bạn không thể đổi nữa." in page
