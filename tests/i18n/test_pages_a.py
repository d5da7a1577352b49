"""The account, sign-in, wallet, shop and error pages in Vietnamese (and unchanged in English)."""

from __future__ import annotations

import html
import json
import re

import sqlalchemy as sa
from flask import g

from portal.extensions import db
from portal.shop.models import Order
from portal.wallet import services as wallet_services
from tests.conftest import extract_csrf
from tests.shop.conftest import buyer, fake_payments, make_product, product  # noqa: F401

VI = {"Accept-Language": "vi-VN,vi;q=0.9"}
EN = {"Accept-Language": "en-US,en;q=0.9"}
HX = {"HX-Request": "true"}


def text(response) -> str:
    return response.get_data(as_text=True)


def fresh_page(client, path: str, headers: dict):
    """A page whose CSRF token is in the session (the login page's, cached in ``g``, is not)."""
    g.pop("csrf_token", None)
    return client.get(path, headers=headers)


def test_the_login_page_and_its_errors_in_vietnamese(client, user):
    page = text(client.get("/login", headers=VI))
    assert "<h1>Đăng nhập</h1>" in page
    assert 'class="button">Đăng nhập</button>' in page
    assert "Quên mật khẩu?" in page and "Ghi nhớ đăng nhập" in page
    assert "Forgot your password?" not in page

    token = extract_csrf(page)
    answer = client.post("/login", data={"email": "", "password": "", "csrf_token": token}, headers=VI)
    assert answer.status_code == 422
    assert "Hãy nhập email của bạn." in text(answer) and "Hãy nhập mật khẩu." in text(answer)

    answer = client.post(
        "/login", data={"email": user.email, "password": "not-the-password", "csrf_token": token}, headers=VI
    )
    assert "Email và mật khẩu không khớp với tài khoản nào." in text(answer)


def test_the_login_page_in_english_is_unchanged(client, user):
    page = text(client.get("/login", headers=EN))
    assert "<h1>Log in</h1>" in page and 'class="button">Log in</button>' in page
    assert "Forgot your password?" in page and "Đăng nhập" not in page
    token = extract_csrf(page)
    answer = client.post(
        "/login", data={"email": user.email, "password": "not-the-password", "csrf_token": token}, headers=EN
    )
    assert "That email and password do not match an account." in text(answer)


def test_a_flash_after_registering_reads_in_vietnamese(client):
    token = extract_csrf(text(client.get("/register", headers=VI)))
    form = {
        "name": "Nguyễn Thị Lan",
        "email": "lan@example.com",
        "password": "mat-khau-du-dai",
        "confirm": "mat-khau-du-dai",
        "csrf_token": token,
    }
    answer = client.post("/register", data=form, headers=VI, follow_redirects=True)
    assert "Cảm ơn bạn. Chúng tôi đã gửi thư đến lan@example.com" in text(answer)


def test_the_account_page_and_a_saved_card_in_vietnamese(logged_in, user, sandbox):
    wallet = wallet_services.user_wallet(user)
    token = extract_csrf(text(logged_in.get("/account", headers=VI)))
    secret = logged_in.post("/account/cards/setup-intent", headers={**HX, "X-CSRFToken": token}).get_json()
    intent_id = secret["clientSecret"].split("_secret_")[0]
    sandbox.client().v1.setup_intents.confirm(intent_id, {"payment_method": "pm_card_visa"})

    fragment = text(
        logged_in.post(
            "/account/cards/complete",
            data={"setup_intent": intent_id},
            headers={**HX, **VI, "X-CSRFToken": token},
        )
    )
    assert "Đã lưu thẻ." in fragment
    assert "có số cuối <strong>4242</strong>" in fragment and ">Mặc định<" in fragment

    page = text(logged_in.get("/account", headers=VI))
    assert "<h1>Tài khoản của bạn</h1>" in page and "Thêm thẻ" in page and "Lưu thẻ" in page
    assert "Xoá tài khoản" in page and "Delete account" not in page
    assert wallet_services.list_cards(wallet.customer_id)  # the card is there: the words are about it

    english = text(logged_in.get("/account", headers=EN))
    assert "<h1>Your account</h1>" in english and "ending in <strong>4242</strong>" in english


def test_an_order_page_in_vietnamese(logged_in, buyer, product, fake_payments, mailbox):  # noqa: F811
    page = fresh_page(logged_in, f"/shop/products/{product.id}", VI)
    assert "Mua ngay" in text(page) and "Thanh toán bằng" in text(page)
    form = {
        "csrf_token": extract_csrf(text(page)),
        "quantity": "2",
        "payment_method": f"pm_card_visa__u{buyer.id}",
    }
    answer = logged_in.post(f"/shop/products/{product.id}/buy", data=form, headers=VI, follow_redirects=True)
    order = db.session.scalar(sa.select(Order))
    receipt = text(answer)
    assert f"Cảm ơn bạn! Đơn hàng #{order.id} đã được thanh toán." in receipt
    assert f"Đơn hàng #{order.id}" in receipt and "Đã thanh toán" in receipt
    assert "Sản phẩm" in receipt and "Tổng cộng" in receipt and "Thank you!" not in receipt

    english = text(logged_in.get(f"/shop/orders/{order.id}", headers=EN))
    assert f"Order #{order.id}" in english and "Total" in english and ">\n  Paid</span>" in english


def test_a_quantity_that_is_no_number_is_refused_in_vietnamese(logged_in, buyer, product, fake_payments):  # noqa: F811
    """WTForms' own message ("Not a valid integer value.") comes from the portal's catalogue."""
    page = fresh_page(logged_in, f"/shop/products/{product.id}", VI)
    form = {
        "csrf_token": extract_csrf(text(page)),
        "quantity": "hai",
        "payment_method": f"pm_card_visa__u{buyer.id}",
    }
    answer = logged_in.post(f"/shop/products/{product.id}/buy", data=form, headers=VI)
    assert answer.status_code == 422
    assert "Số nguyên không hợp lệ." in text(answer)

    answer = logged_in.post(f"/shop/products/{product.id}/buy", data=form, headers=EN)
    assert "Not a valid integer value." in text(answer)


def test_an_out_of_stock_refusal_in_vietnamese(logged_in, buyer, fake_payments):  # noqa: F811
    sold_out = make_product(name="Nhiệt kế", stock=1)
    page = fresh_page(logged_in, f"/shop/products/{sold_out.id}", VI)
    form = {
        "csrf_token": extract_csrf(text(page)),
        "quantity": "3",
        "payment_method": f"pm_card_visa__u{buyer.id}",
    }
    answer = logged_in.post(f"/shop/products/{sold_out.id}/buy", data=form, headers=VI)
    assert "Rất tiếc, Nhiệt kế chỉ còn 1, ít hơn 3 bạn muốn mua. Bạn chưa bị trừ tiền." in text(answer)


def test_the_error_page_in_vietnamese(client):
    page = text(client.get("/no-such-page", headers=VI))
    assert "Không tìm thấy trang" in page and "Không tìm thấy địa chỉ này trên máy chủ." in page
    english = text(client.get("/no-such-page", headers=EN))
    assert "Page not found" in english and "The requested URL was not found on the server." in english


def test_the_api_answers_in_english_whatever_the_browser_asks(client):
    payload = {"name": "Api User", "email": "api@example.com", "password": "short"}
    answer = client.post("/users", json=payload, headers=VI)
    assert answer.status_code == 400
    assert "Use between 10 and 128 characters." in answer.get_json()["error"]["message"]


def test_the_header_in_vietnamese_for_a_signed_in_person(logged_in):
    page = text(logged_in.get("/shop/orders", headers=VI))
    assert ">Tài khoản</a>" in page and ">Cửa hàng</a>" in page and ">Đăng xuất</button>" in page
    assert "<h1>Đơn hàng của bạn</h1>" in page and "Chưa có đơn hàng nào." in page
    assert "Thanh toán qua Stripe." in page


def test_the_scripts_own_messages_come_in_the_page_language(logged_in):
    """app.js says what an htmx answer that never came means, with the words base.html gives it."""
    page = text(logged_in.get("/account", headers=VI))
    words = json.loads(html.unescape(re.search(r"data-words='([^']*)'", page).group(1)))
    assert words["kept"] == "Nội dung bạn đã nhập vẫn được giữ; hãy thử lại."
    assert words["serverError"] == "Hệ thống của chúng tôi gặp lỗi (mã lỗi {status})."
    assert 'data-words-unavailable="Biểu mẫu thẻ hiện không dùng được, hãy thử lại sau."' in page
    english = text(logged_in.get("/account", headers=EN))
    assert "data-words" not in english  # the scripts' own English words
