"""The admin's order pages: refund units with a reason (admins only, unknown orders 404), a double
submit refunds once, and a wrong, huge, negative or non-numeric number of units is refused with a
message, the form kept as typed and nothing refunded."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.shop import refunds as shop_refunds
from portal.shop.models import OrderRefund
from portal.users.models import Role
from tests.conftest import extract_csrf
from tests.shop.conftest import stock_of
from tests.shop.test_refunds import paid_order
from tests.shop.test_views import _fresh_page


@pytest.fixture
def stripe_sandbox(sandbox):
    if not hasattr(sandbox, "client"):
        pytest.skip("the Stripe sandbox is not installed")
    return sandbox


@pytest.fixture
def admin_client(client, auth, user_factory):
    admin = user_factory(role=Role.ADMIN, email="ada@example.com")
    auth.login(admin.email)
    return client


def _form(client, order_id: int) -> dict:
    page = _fresh_page(client, f"/shop/admin/orders/{order_id}").get_data(as_text=True)
    attempt = re.search(r'name="attempt" type="hidden" value="([^"]+)"|name="attempt" value="([^"]+)"', page)
    assert attempt, page
    drawn = re.search(r'name="left_when_drawn" type="hidden" value="(\d+)"', page)
    assert drawn, page
    return {
        "csrf_token": extract_csrf(page),
        "attempt": attempt.group(1) or attempt.group(2),
        "left_when_drawn": drawn.group(1),
    }


def refund_rows() -> list[OrderRefund]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(OrderRefund)))


def test_admin_refunds_units_once_for_a_double_submit(admin_client, user_factory, stripe_sandbox):
    buyer = user_factory(email="buyer@example.com")
    order = paid_order(buyer, quantity=3, stock=3)
    listing = admin_client.get("/shop/admin/orders").get_data(as_text=True)
    assert f'data-order="{order.id}"' in listing and "Refund" in listing

    form = {**_form(admin_client, order.id), "units": "2", "reason": "Arrived broken"}
    first = admin_client.post(f"/shop/admin/orders/{order.id}/refund", data=form)
    second = admin_client.post(f"/shop/admin/orders/{order.id}/refund", data=form)

    assert first.status_code == second.status_code == 303
    [row] = refund_rows()
    assert (row.amount, row.units) == (2500, 2) and stock_of(order.product_id) == 2
    page = admin_client.get(f"/shop/admin/orders/{order.id}").get_data(as_text=True)
    assert f"Refunded $25.00 (2 units) of order #{order.id}." in page and "Refunded $25.00 (2 units)." in page
    assert "Partially refunded" in page and "Arrived broken" in page and "1 of 3 left to refund" in page


@pytest.mark.parametrize(
    ("units", "message"),
    [
        ("", "Enter a whole number of units between 1 and 3."),
        ("abc", "Enter a whole number of units between 1 and 3."),
        ("-1", "Enter a whole number of units between 1 and 3."),
        ("0", "Enter a whole number of units between 1 and 3."),
        ("4", "Enter a whole number of units between 1 and 3."),
        ("99999999999999999999999", "Enter a whole number of units between 1 and 3."),
        ("1.5", "Enter a whole number of units between 1 and 3."),
    ],
)
def test_bad_units_are_refused_with_the_form_kept(admin_client, user_factory, stripe_sandbox, units, message):
    order = paid_order(user_factory(), quantity=3, stock=3)
    form = {**_form(admin_client, order.id), "units": units, "reason": "Typed reason kept"}

    answer = admin_client.post(f"/shop/admin/orders/{order.id}/refund", data=form)

    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert message in page and "Typed reason kept" in page
    assert refund_rows() == [] and stock_of(order.product_id) == 0


def test_a_refund_without_a_reason_is_refused(admin_client, user_factory, stripe_sandbox):
    order = paid_order(user_factory(), quantity=1, stock=1)
    form = {**_form(admin_client, order.id), "units": "1", "reason": "  "}
    answer = admin_client.post(f"/shop/admin/orders/{order.id}/refund", data=form)
    assert answer.status_code == 422 and "Say why you are refunding." in answer.get_data(as_text=True)
    assert refund_rows() == []


def test_unknown_orders_are_404(admin_client, stripe_sandbox):
    assert admin_client.get("/shop/admin/orders/999999").status_code == 404
    assert admin_client.post("/shop/admin/orders/999999/refund", data={}).status_code in (400, 404)


def test_a_buyer_cannot_reach_the_admin_order_pages(logged_in, user, stripe_sandbox):
    order = paid_order(user, quantity=1, stock=1)
    assert logged_in.get("/shop/admin/orders").status_code == 403
    assert logged_in.get(f"/shop/admin/orders/{order.id}").status_code == 403
    assert logged_in.post(f"/shop/admin/orders/{order.id}/refund", data={"units": "1"}).status_code in (
        400,
        403,
    )
    assert refund_rows() == []


def _dashboard_refund(sandbox, order, amount: int) -> None:
    sandbox.client().v1.refunds.create({"payment_intent": order.payment_intent_id, "amount": amount})
    refund = sandbox.client().v1.refunds.list({"payment_intent": order.payment_intent_id}).data[0]
    shop_refunds.refund_changed(refund.to_dict())  # as its webhook does
    db.session.commit()


def test_the_buyer_sees_what_was_refunded_to_them(logged_in, user, user_factory, stripe_sandbox):
    """F2: the buyer reads what came back to them, not Stripe's dashboard nor stock (the platform's
    business, on the admin's page only); the card by its brand's name ("Visa", not "visa")."""
    order = paid_order(user, quantity=3, stock=3)
    _dashboard_refund(stripe_sandbox, order, 500)

    page = logged_in.get(f"/shop/orders/{order.id}").get_data(as_text=True)
    assert "Partially refunded" in page and "Refunded $5.00." in page
    assert "dashboard" not in page and "stock" not in page
    assert "Refunds take 5-10 days to appear on your statement." in page
    assert '<span class="card-brand">Visa</span> ending in 4242' in page

    admin = user_factory(role=Role.ADMIN, email="ada@example.com")
    shop_refunds.refund_order(admin, order.id, 1, "Torn", "attempt-f2-buyer-words")
    db.session.commit()
    page = logged_in.get(f"/shop/orders/{order.id}").get_data(as_text=True)
    assert "Refunded $17.50: 1 unit, and $5.00." in page and "dashboard" not in page
    vi = logged_in.get(f"/shop/orders/{order.id}", headers={"Accept-Language": "vi"}).get_data(as_text=True)
    assert "dashboard" not in vi and '<span class="card-brand">Visa</span>' in vi
    assert "Đã hoàn 17,50\xa0US$: 1 đơn vị và 5,00\xa0US$." in vi


def test_the_admin_sees_where_a_refund_was_made(admin_client, user_factory, stripe_sandbox):
    order = paid_order(user_factory(), quantity=3, stock=3)
    _dashboard_refund(stripe_sandbox, order, 500)
    for url in (f"/shop/admin/orders/{order.id}", "/shop/admin/orders"):
        page = admin_client.get(url).get_data(as_text=True)
        assert "Refunded $5.00; $5.00 of it in Stripe's dashboard, as an amount with no units" in page


def test_a_tab_drawn_before_another_refund_refunds_nothing(admin_client, user_factory, stripe_sandbox):
    """Two tabs drawn when 3 units were left: the first refunds 1; the second, still showing 3, is
    refused with what is left now, and nothing more leaves the clinic's account."""
    order = paid_order(user_factory(email="buyer@example.com"), quantity=3, stock=3)
    url = f"/shop/admin/orders/{order.id}/refund"
    first_tab, second_tab = _form(admin_client, order.id), _form(admin_client, order.id)
    assert first_tab["left_when_drawn"] == "3"
    assert admin_client.post(url, data={**first_tab, "units": "1", "reason": "Torn"}).status_code == 303

    stale = admin_client.post(url, data={**second_tab, "units": "1", "reason": "Torn"})

    assert stale.status_code == 409
    assert (
        f"Since this page was drawn, the refunds of order #{order.id} changed: 2 units are left. "
        "Nothing was refunded now" in stale.get_data(as_text=True)
    )
    assert [row.units for row in refund_rows()] == [1] and stock_of(order.product_id) == 1
    assert 'name="left_when_drawn" type="hidden" value="2"' in stale.get_data(as_text=True)


def test_a_form_without_what_was_left_is_refused(admin_client, user_factory, stripe_sandbox):
    order = paid_order(user_factory(email="buyer@example.com"), quantity=3, stock=3)
    form = {**_form(admin_client, order.id), "units": "1", "reason": "Torn"}
    del form["left_when_drawn"]

    answer = admin_client.post(f"/shop/admin/orders/{order.id}/refund", data=form)

    assert answer.status_code == 422
    assert "This form has expired. Reload the page and try again." in answer.get_data(as_text=True)
    assert refund_rows() == []


def test_one_unit_left_is_said_in_the_singular(admin_client, user_factory, stripe_sandbox):
    order = paid_order(user_factory(email="buyer@example.com"), quantity=2, stock=2)
    url = f"/shop/admin/orders/{order.id}/refund"
    first_tab, second_tab = _form(admin_client, order.id), _form(admin_client, order.id)
    assert admin_client.post(url, data={**first_tab, "units": "1", "reason": "Torn"}).status_code == 303

    stale = admin_client.post(url, data={**second_tab, "units": "1", "reason": "Torn"})

    assert stale.status_code == 409
    page = stale.get_data(as_text=True)
    assert f"the refunds of order #{order.id} changed: 1 unit is left. Nothing was refunded now" in page
    assert "1 units" not in page


def test_another_orders_form_key_is_refused_in_words(admin_client, user_factory, stripe_sandbox):
    buyer = user_factory(email="buyer@example.com")
    order, other = paid_order(buyer, quantity=2, stock=4), paid_order(buyer, quantity=1, stock=4)
    other_key = "K" * 24
    db.session.add(
        OrderRefund(
            order_id=other.id,
            stripe_refund_id="re_another_order",
            amount=1250,
            currency="usd",
            units=1,
            status="succeeded",
            attempt_key=other_key,
        )
    )
    db.session.commit()
    form = {**_form(admin_client, order.id), "units": "1", "reason": "Torn", "attempt": other_key}

    answer = admin_client.post(f"/shop/admin/orders/{order.id}/refund", data=form)

    assert answer.status_code in (409, 422)
    assert "This form has expired. Reload the page and try again." in answer.get_data(as_text=True)
    assert [row.order_id for row in refund_rows()] == [other.id]
