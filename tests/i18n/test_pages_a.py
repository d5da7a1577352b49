"""The account, sign-in, wallet, shop and error pages in Vietnamese (and unchanged in English)."""

from __future__ import annotations

import datetime as dt
import html
import json
import pathlib
import re
from html.parser import HTMLParser

import pytest
import sqlalchemy as sa
from babel.messages.pofile import read_po
from flask import g

from portal.extensions import db
from portal.shop.models import Order, OrderStatus, Product
from portal.users.models import Role
from portal.wallet import services as wallet_services
from tests.conftest import extract_csrf
from tests.factories import OrderFactory, OrderRefundFactory, OutboundEmailFactory
from tests.shop.conftest import buyer, fake_payments, give_card, make_product, product  # noqa: F401

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


# --- no wrapped sentence left in English on these pages ---------------------------------------------

VI_CATALOGUE = pathlib.Path(__file__).resolve().parents[2] / "translations/vi/LC_MESSAGES/messages.po"


class _Said(HTMLParser):
    """What a person reads in the page's <body> (header and footer included, scripts not): text nodes
    and the words in aria-label, title, placeholder, data-label and the confirmation prompts."""

    SAID = ("aria-label", "title", "placeholder", "data-label", "data-confirm", "hx-confirm")

    def __init__(self) -> None:
        super().__init__()
        self.body, self.script, self.words = 0, 0, set()

    def handle_starttag(self, tag, attrs):
        self.body += tag == "body"
        self.script += tag == "script"
        if self.body:
            self.words.update(" ".join(value.split()) for key, value in attrs if key in self.SAID and value)

    def handle_endtag(self, tag):
        self.body -= tag == "body"
        self.script -= tag == "script"

    def handle_data(self, data):
        if self.body and not self.script and data.strip():
            self.words.add(" ".join(data.split()))


def english_left(page: str, sentences: set[str]) -> set[str]:
    reader = _Said()
    reader.feed(page)
    return reader.words & sentences


@pytest.fixture
def every_shop_state(user):
    """The account and shop pages with something in each of their sections: saved cards (one the
    default, one expired), orders paid, refunded in part, pending, failed and cancelled, a product
    out of stock and one nearly so, an email in the development inbox."""
    give_card(user, "pm_card_visa")
    give_card(user, "pm_card_mastercard", default=False, last4="4444").exp_year = 2020
    thermometer = make_product(name="Nhiệt kế điện tử", stock=3)
    make_product(name="Hộp sơ cứu", stock=0)
    paid = OrderFactory(
        user=user,
        product=thermometer,
        quantity=3,
        status=OrderStatus.PAID,
        payment_intent_id="pi_vi_paid",
        card_brand="visa",
        card_last4="4242",
        receipt_email=user.email,
        paid_at=dt.datetime(2026, 11, 2),
    )
    OrderRefundFactory(order=paid, units=1, reason="Hỏng")
    OrderFactory(user=user, product=thermometer, status=OrderStatus.PENDING, payment_intent_id="pi_vi_wait")
    OrderFactory(
        user=user,
        product=thermometer,
        status=OrderStatus.FAILED,
        failure_message="The payment was not completed.",
    )
    OrderFactory(
        user=user,
        product=thermometer,
        status=OrderStatus.CANCELED,
        failure_message="The payment was canceled.",
    )
    OutboundEmailFactory()
    db.session.commit()
    return paid


def test_no_page_of_these_shows_a_translated_sentence_in_english(logged_in, user, every_shop_state):
    """The pages rendered in Vietnamese hold none of the catalogue's sentences in English: a string
    wrapped elsewhere but left bare here (or whose msgid drifted) shows up."""
    with VI_CATALOGUE.open("rb") as source:
        catalogue = read_po(source)
    sentences = {
        message.id
        for message in catalogue
        if isinstance(message.id, str) and message.string and message.string != message.id
    }
    orders = db.session.scalars(sa.select(Order).order_by(Order.id)).all()
    products = db.session.scalars(sa.select(Product).order_by(Product.id)).all()
    pages = ["/account", "/account/profile", "/account/password", "/account/delete", "/shop/", "/shop/orders"]
    pages += [f"/shop/orders/{order.id}" for order in orders]
    pages += [f"/shop/products/{item.id}" for item in products if item.stock > 0]
    # Not /dev/inbox: it shows each email as it was sent, in its recipient's language (this factory's
    # recipient reads English), which is no page text of its own.
    pages += ["/no-such-page"]
    left = {}
    for url in pages:
        g.pop("csrf_token", None)
        response = logged_in.get(url, headers=VI)
        assert response.status_code == (404 if url == "/no-such-page" else 200), url
        english = english_left(text(response), sentences)
        if english:
            left[url] = sorted(english)
    user.role = Role.ADMIN
    db.session.commit()
    admin_pages = ["/shop/admin/products", "/shop/admin/products/new", "/shop/admin/orders"]
    admin_pages += [f"/shop/admin/orders/{order.id}" for order in orders]
    admin_pages += [f"/shop/admin/products/{products[0].id}/edit"]
    for url in admin_pages:
        response = logged_in.get(url, headers=VI)
        assert response.status_code == 200, url
        english = english_left(text(response), sentences)
        if english:
            left[url] = sorted(english)
    token = extract_csrf(text(logged_in.get("/account")))
    logged_in.post("/logout", data={"csrf_token": token}, headers=VI)  # its flash: on the next page
    for url in ("/", "/login", "/register", "/forgot-password"):
        english = english_left(text(logged_in.get(url, headers=VI)), sentences)
        if english:
            left[url] = sorted(english)
    assert left == {}, str(left)
