"""Issue 17, the admin's side: promotion codes made and turned off on the admin page (admins only),
listed from the local mirror with times redeemed, hostile input refused with a message under the
field and nothing made at Stripe; the retention offer's setting."""

from __future__ import annotations

import re
import secrets
import threading

import pytest
import sqlalchemy as sa
from flask import g

from portal.extensions import db
from portal.promotions.models import PromotionCode, RetentionCoupon
from portal.promotions.retention import current_retention_coupon
from portal.users.models import Role
from portal.webhooks.handlers import EVENT_HANDLERS
from tests.conftest import extract_csrf
from tests.factories import UserFactory


@pytest.fixture
def admin_client(auth):
    admin = UserFactory(role=Role.ADMIN)
    assert auth.login(admin.email).status_code == 302
    g.pop("csrf_token", None)
    return auth.client


def fresh_code() -> str:
    return f"SPRING-{secrets.token_hex(3).upper()}"


def form(client, **fields) -> dict:
    page = client.get("/admin/promotions").get_data(as_text=True)
    attempt = re.search(r'name="attempt" value="([^"]+)"', page).group(1)
    return {
        "csrf_token": extract_csrf(page),
        "attempt": attempt,
        "kind": "percent",
        "percent_off": "30",
        "amount_off": "",
        "duration": "repeating",
        "duration_in_months": "3",
        "expires_on": "",
        "max_redemptions": "5",
        "retention_drawn": re.search(r'name="retention_drawn" value="(\d+)"', page).group(1),
        **fields,
    }


def codes() -> list[PromotionCode]:
    db.session.rollback()
    return list(db.session.scalars(sa.select(PromotionCode)))


def test_only_platform_admins_see_the_page(client, auth, user_factory):
    assert client.get("/admin/promotions").status_code == 302  # anonymous: log in first
    member = user_factory(email="someone@example.com")
    assert auth.login(member.email).status_code == 302
    assert client.get("/admin/promotions").status_code == 403
    assert client.post("/admin/promotions/codes", data={}).status_code in (400, 403)


def test_admin_creates_a_code_listed_with_times_redeemed(admin_client, sandbox):
    code = fresh_code()
    response = admin_client.post("/admin/promotions/codes", data=form(admin_client, code=code))
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    page = admin_client.get("/admin/promotions").get_data(as_text=True)
    assert code in page and "30% off for 3 months" in page
    row = next(c for c in codes() if c.code == code)
    assert row.active and row.times_redeemed == 0 and row.max_redemptions == 5
    at_stripe = sandbox.client().v1.promotion_codes.retrieve(row.stripe_id)
    assert at_stripe.code == code and at_stripe.promotion.coupon == row.coupon_id
    assert 'data-times-redeemed="0"' in page and "0 of 5" in page


def test_a_double_submit_makes_one_code(admin_client):
    code = fresh_code()
    data = form(admin_client, code=code)
    assert admin_client.post("/admin/promotions/codes", data=data).status_code == 303
    assert admin_client.post("/admin/promotions/codes", data=data).status_code == 303
    assert [c.code for c in codes()].count(code) == 1


def test_a_double_submit_while_the_first_is_at_stripe_is_told_the_first_ones_outcome(admin_client, sandbox):
    """Third attack F13: the second of a double submit, sent while the first still held the form's
    Idempotency-Key at Stripe, got Stripe's 409 and "Stripe could not be reached" though the code was
    made: it waits for the first's answer instead."""
    from portal.gateway.gateway import idempotency_key

    code = fresh_code()
    data = form(admin_client, code=code)
    held = sandbox.sandbox.keys_in_flight
    key = idempotency_key("coupon-create", "promo", data["attempt"])
    assert held.begin(key)  # the first submit's coupon request, still running at Stripe
    release = threading.Timer(1.5, held.end, [key])
    release.start()
    try:
        response = admin_client.post("/admin/promotions/codes", data=data)
    finally:
        release.join()
    assert response.status_code == 303, response.get_data(as_text=True)[:3000]
    page = admin_client.get(response.location).get_data(as_text=True)
    assert f"Promotion code {code} is ready to use." in page
    assert [c.code for c in codes()].count(code) == 1


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"percent_off": "0"}, "Enter a percentage above 0 and at most 100"),
        ({"percent_off": "101"}, "Enter a percentage above 0 and at most 100"),
        ({"percent_off": "nan"}, "Enter a percentage above 0 and at most 100"),
        ({"kind": "amount", "amount_off": "-5"}, "Enter an amount above 0"),
        ({"kind": "amount", "amount_off": "1e9"}, "Enter an amount above 0"),
        ({"kind": "amount", "amount_off": "1e3"}, "Enter an amount above 0"),
        ({"kind": "amount", "amount_off": "\uff11\uff15"}, "Enter an amount above 0"),
        ({"kind": "amount", "amount_off": "15,5"}, "Write it like 1,234.56"),
        ({"percent_off": "3e1"}, "Enter a percentage above 0 and at most 100"),
        ({"duration_in_months": "\uff10\uff13"}, "Enter a whole number of months from 1 to 36."),
        ({"duration_in_months": "\u00b3"}, "Enter a whole number of months from 1 to 36."),
        ({"max_redemptions": "\uff15"}, "Enter a whole number from 1"),
        ({"code": "X" * 5000}, "Use 3 to 40 letters, digits or dashes"),
        ({"code": "SPRING 30;<b>"}, "Use 3 to 40 letters, digits or dashes"),
        ({"code": "SPRING\u202e30"}, ""),
        ({"duration_in_months": "0"}, "Enter a whole number of months from 1 to 36."),
        ({"max_redemptions": "-1"}, "Enter a whole number from 1"),
    ],
)
def test_hostile_input_is_refused_with_the_form_kept(admin_client, fields, message):
    before = len(codes())
    data = form(admin_client, code=fresh_code())
    data.update(fields)
    response = admin_client.post("/admin/promotions/codes", data=data)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in page
    assert "<b>" not in page  # what was typed comes back escaped
    assert len(codes()) == before  # nothing made here (nor at Stripe: the form is checked first)


def test_turning_a_code_off_at_stripe_and_here(admin_client, sandbox):
    code = fresh_code()
    admin_client.post("/admin/promotions/codes", data=form(admin_client, code=code))
    row = next(c for c in codes() if c.code == code)
    page = admin_client.get("/admin/promotions").get_data(as_text=True)
    response = admin_client.post(
        f"/admin/promotions/codes/{row.id}/disable", data={"csrf_token": extract_csrf(page)}
    )
    assert response.status_code == 303
    assert not next(c for c in codes() if c.code == code).active
    assert sandbox.client().v1.promotion_codes.retrieve(row.stripe_id).active is False


def test_promotion_code_events_update_the_mirror_and_older_ones_lose(admin_client, sandbox):
    code = fresh_code()
    admin_client.post("/admin/promotions/codes", data=form(admin_client, code=code))
    row = next(c for c in codes() if c.code == code)
    obj = sandbox.client().v1.promotion_codes.retrieve(row.stripe_id).to_dict()
    base = row.stripe_synced_at
    newer = {"type": "promotion_code.updated", "created": base + 10}
    EVENT_HANDLERS["promotion_code.updated"]({**newer, "data": {"object": {**obj, "times_redeemed": 2}}})
    db.session.commit()
    older = {"type": "promotion_code.updated", "created": base + 5}
    EVENT_HANDLERS["promotion_code.updated"]({**older, "data": {"object": {**obj, "times_redeemed": 1}}})
    db.session.commit()
    assert next(c for c in codes() if c.code == code).times_redeemed == 2


def test_retention_offer_is_set_replaced_and_turned_off(admin_client, sandbox):
    data = form(admin_client)
    retention = {k: data[k] for k in ("csrf_token", "attempt", "retention_drawn")}
    retention.update(
        {f"retention-{k}": data[k] for k in ("kind", "percent_off", "duration", "duration_in_months")}
    )
    assert admin_client.post("/admin/promotions/retention", data=retention).status_code == 303
    setting = current_retention_coupon()
    assert setting is not None and setting.percent_off == 30 and setting.duration_in_months == 3
    assert sandbox.client().v1.coupons.retrieve(setting.coupon_id).percent_off == 30
    page = admin_client.get("/admin/promotions").get_data(as_text=True)
    assert "30% off for 3 months" in page
    refused = admin_client.post(
        "/admin/promotions/retention", data={**retention, "retention-percent_off": "101"}
    )
    assert refused.status_code == 422 and current_retention_coupon().id == setting.id
    off = admin_client.post("/admin/promotions/retention/off", data={"csrf_token": retention["csrf_token"]})
    db.session.rollback()  # the test's session: read what the request committed
    assert off.status_code == 303 and current_retention_coupon() is None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RetentionCoupon)) == 1


def retention_form(client, percent: str) -> dict:
    data = form(client, percent_off=percent)
    return {
        **{k: data[k] for k in ("csrf_token", "attempt", "retention_drawn")},
        **{f"retention-{k}": data[k] for k in ("kind", "percent_off", "duration", "duration_in_months")},
    }


def test_a_retention_form_drawn_before_another_admins_save_is_refused(admin_client):
    """Third attack F13: tabs drawn with the same setting each said "The retention offer is set" and
    the last write won silently; the second is told what the offer is now, nothing changed."""
    first, second = retention_form(admin_client, "20"), retention_form(admin_client, "40")
    assert admin_client.post("/admin/promotions/retention", data=first).status_code == 303
    refused = admin_client.post("/admin/promotions/retention", data=second)
    page = refused.get_data(as_text=True)
    assert refused.status_code == 409, page[:2000]
    assert "The retention offer changed since this page was drawn: it is now 20% off for 3 months." in page
    db.session.rollback()
    assert current_retention_coupon().percent_off == 20
    again = admin_client.post("/admin/promotions/retention", data=first)  # the first tab, twice
    assert again.status_code == 303 and current_retention_coupon().percent_off == 20
    forged = {k: v for k, v in retention_form(admin_client, "50").items() if k != "retention_drawn"}
    assert admin_client.post("/admin/promotions/retention", data=forged).status_code == 409
    db.session.rollback()
    assert current_retention_coupon().percent_off == 20


def test_the_page_names_each_field_once(admin_client):
    page = admin_client.get("/admin/promotions").get_data(as_text=True)
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids))
    assert 'for="retention-percent_off"' in page and 'for="percent_off"' in page


def test_the_admin_is_told_the_code_is_ready_when_its_webhook_mirrored_it_first(admin_client, monkeypatch):
    """``promotion_code.created`` is delivered while the admin's request is between Stripe's answer and
    its own write: the webhook's row appears just after any read the request made, before it writes."""
    from sqlalchemy import event

    from portal.promotions import codes as promotion_codes

    made = {}
    real_create = promotion_codes.stripe_discounts.create_promotion_code

    def create_promotion_code(*args, **kwargs):
        made["promo"] = real_create(*args, **kwargs)
        return made["promo"]

    monkeypatch.setattr(promotion_codes.stripe_discounts, "create_promotion_code", create_promotion_code)
    engine = db.engine

    def webhook_commits() -> None:
        promo = made.pop("promo")
        with engine.begin() as other:  # the webhook's own connection and transaction
            other.execute(
                PromotionCode.__table__.insert().values(
                    stripe_id=promo.id, code=promo.code, coupon_id=promo.promotion.coupon, duration="once"
                )
            )

    def before(conn, cursor, statement, *_):
        if "promo" in made and "promotion_codes" in statement and not statement.lstrip().startswith("SELECT"):
            webhook_commits()

    def after(conn, cursor, statement, *_):
        if "promo" in made and "promotion_codes" in statement:
            webhook_commits()

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        code = fresh_code()
        response = admin_client.post("/admin/promotions/codes", data=form(admin_client, code=code))
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    page = admin_client.get("/admin/promotions").get_data(as_text=True)
    assert f"Promotion code {code} is ready to use." in page
    rows = [c for c in codes() if c.code == code]
    assert len(rows) == 1 and rows[0].created_by_id is not None and rows[0].percent_off == 30


def test_admin_creates_an_amount_off_in_dong(admin_client, sandbox):
    """A zero-decimal currency: the amount typed is whole dong, and so is Stripe's ``amount_off``."""
    code = fresh_code()
    data = form(admin_client, code=code, kind="amount", amount_off="100,000", currency="vnd", percent_off="")
    response = admin_client.post("/admin/promotions/codes", data=data)
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    row = next(c for c in codes() if c.code == code)
    coupon = sandbox.client().v1.coupons.retrieve(row.coupon_id)
    assert (coupon.amount_off, coupon.currency) == (100_000, "vnd")
    assert "₫100,000 off" in admin_client.get("/admin/promotions").get_data(as_text=True)


@pytest.mark.parametrize("typed", ["1000.50", "²", "0", "100000000", "-5"])
def test_an_amount_off_in_dong_is_whole_dong_within_stripes_largest(admin_client, typed):
    before = len(codes())
    data = form(admin_client, code=fresh_code(), kind="amount", amount_off=typed, currency="vnd")
    response = admin_client.post("/admin/promotions/codes", data=data)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="amount_off-errors"' in page, page[:3000]
    assert "at most ₫10,000,000, such as 15." in page or "We cannot tell which number that is" in page
    assert len(codes()) == before


def test_an_amount_off_in_dollars_is_unchanged(admin_client, sandbox):
    code = fresh_code()
    data = form(admin_client, code=code, kind="amount", amount_off="15.00", percent_off="")
    assert admin_client.post("/admin/promotions/codes", data=data).status_code == 303
    coupon = sandbox.client().v1.coupons.retrieve(next(c for c in codes() if c.code == code).coupon_id)
    assert (coupon.amount_off, coupon.currency) == (1500, "usd")


VI = {"Accept-Language": "vi-VN,vi;q=0.9"}


def test_amounts_and_percentages_are_read_in_the_pages_language(admin_client, sandbox):
    """On the Vietnamese page "15,50" is fifteen dollars fifty and "12,5" twelve and a half percent, as
    the page writes them (its hint too); "15.50" there is refused, not read as 1550 dollars."""
    page = admin_client.get("/admin/promotions", headers=VI).get_data(as_text=True)
    assert "15,00" in page  # the amount's example, as this page writes amounts
    amount_code, percent_code = fresh_code(), fresh_code()
    data = form(admin_client, code=amount_code, kind="amount", amount_off="15.50", duration="once")

    refused = admin_client.post("/admin/promotions/codes", data=data, headers=VI)

    assert refused.status_code == 422 and "1.234,56" in refused.get_data(as_text=True)
    made = admin_client.post("/admin/promotions/codes", data={**data, "amount_off": "15,50"}, headers=VI)
    assert made.status_code == 303
    data = form(admin_client, code=percent_code, percent_off="12,5", max_redemptions="1.000")
    assert admin_client.post("/admin/promotions/codes", data=data, headers=VI).status_code == 303
    rows = {c.code: c for c in codes()}
    coupons = sandbox.client().v1.coupons
    assert coupons.retrieve(rows[amount_code].coupon_id).amount_off == 1550
    assert coupons.retrieve(rows[percent_code].coupon_id).percent_off == 12.5
    assert rows[percent_code].max_redemptions == 1000


def test_an_amount_off_has_the_currencys_own_digits(app):
    """A dong has no cents: "50000" off is 50000 minor units (not 5000000), and "15.00" is refused."""
    from werkzeug.datastructures import MultiDict

    from portal.promotions.forms import RetentionCouponForm

    with app.test_request_context():
        terms = {"kind": "amount", "duration": "once"}
        form = RetentionCouponForm(
            formdata=MultiDict({**terms, "amount_off": "50,000"}), meta={"csrf": False}, currency="vnd"
        )
        assert form.validate(), form.errors
        assert form.coupon_params() == {"duration": "once", "amount_off": 50000, "currency": "vnd"}
        form = RetentionCouponForm(
            formdata=MultiDict({**terms, "amount_off": "15.00"}), meta={"csrf": False}, currency="vnd"
        )
        assert not form.validate()
        assert form.errors["amount_off"] == ["Enter an amount above 0 and at most ₫10,000,000, such as 15."]
